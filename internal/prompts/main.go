package prompts

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-prompts: it writes a prompts table from the embedded bank or from prompt files.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, command(), args, stdio)
}

func command() *ucli.Command {
	return &ucli.Command{
		Name:      "mbd-prompts",
		Usage:     "write a prompts table, split into discovery and validation prompts",
		ArgsUsage: "[FILE ...]",
		Description: `Reads prompts from FILEs (.txt: one per line; .jsonl, .csv: a text field; .parquet: a prompts
table or any Parquet file with a text column), or the embedded bank of ` + fmt.Sprint(len(Bank())) + ` prompts when no FILE is
given (or with --builtin). Duplicate texts are kept once. Each prompt gets a stable id (SHA-256 of the
text) and a split from a stable hash of the id and --split-seed: hypotheses are proposed from
discovery prompts only and validated on validation prompts only.

Examples:
  mbd-prompts -o prompts.parquet
  mbd-prompts --validation-fraction 0.3 --limit 100 -o prompts.parquet
  mbd-prompts my-prompts.txt --builtin --category code -o - | mbd-table summary -`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output table (`PATH`, or - for an Arrow stream on stdout)"},
			&ucli.BoolFlag{Name: "builtin", Usage: "include the embedded prompt bank even when FILEs are given"},
			&ucli.Float64Flag{Name: "validation-fraction", Value: 0.5, Usage: "share of prompts in the validation split, in [0, 1]"},
			&ucli.Uint64Flag{Name: "split-seed", Value: 0, Usage: "seed of the split hash"},
			&ucli.IntFlag{Name: "limit", Usage: "keep at most `N` prompts, a stable seeded subsample (0: all)"},
			&ucli.StringSliceFlag{Name: "category", Usage: "keep only prompts of this `CATEGORY` (repeatable)"},
			&ucli.StringFlag{Name: "text-field", Value: "text", Usage: "field holding the prompt in .jsonl, .csv and foreign .parquet files"},
			&ucli.StringFlag{Name: "category-field", Value: "category", Usage: "field holding the category, if present"},
			&ucli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		},
		Action: run,
	}
}

// Summary is what mbd-prompts reports.
type Summary struct {
	Output     string         `json:"output"`
	Prompts    int            `json:"prompts"`
	Duplicates int            `json:"duplicates_dropped"`
	Splits     map[string]int `json:"splits"`
	Categories map[string]int `json:"categories"`
}

func run(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	if out == "" {
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	}
	frac := cmd.Float64("validation-fraction")
	if frac < 0 || frac > 1 {
		return cli.Usagef("--validation-fraction %v: want a number in [0, 1]", frac)
	}
	if cmd.Int("limit") < 0 {
		return cli.Usagef("--limit %d: want 0 (all) or more", cmd.Int("limit"))
	}
	seed := cmd.Uint64("split-seed")

	var all []schema.Prompt
	if cmd.NArg() == 0 || cmd.Bool("builtin") {
		all = append(all, Bank()...)
	}
	for _, path := range cmd.Args().Slice() {
		ps, err := load(path, cmd.String("text-field"), cmd.String("category-field"))
		if err != nil {
			return err
		}
		all = append(all, ps...)
		env.Log.Debug("read prompts", "file", path, "prompts", len(ps))
	}

	sum := Summary{Output: out, Splits: map[string]int{}, Categories: map[string]int{}}
	seen := map[string]bool{}
	var kept []schema.Prompt
	cats := cmd.StringSlice("category")
	for _, p := range all {
		if seen[p.ID] {
			sum.Duplicates++
			continue
		}
		seen[p.ID] = true
		if len(cats) > 0 && !slices.Contains(cats, p.Category) {
			continue
		}
		p.Split = SplitOf(p.ID, seed, frac)
		kept = append(kept, p)
	}
	if sum.Duplicates > 0 {
		env.Log.Warn("dropped duplicate prompts", "count", sum.Duplicates)
	}
	if n := int(cmd.Int("limit")); n > 0 && n < len(kept) {
		sort.SliceStable(kept, func(i, j int) bool { return Rank(kept[i].ID, seed) < Rank(kept[j].ID, seed) })
		kept = kept[:n]
	}
	if len(kept) == 0 {
		return &table.InputError{Path: strings.Join(cmd.Args().Slice(), ", "), Msg: "no prompts left to write"}
	}

	w, err := table.Create[schema.Prompt](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, p := range kept {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum.Splits[p.Split]++
		sum.Categories[p.Category]++
		if err := w.Write(p); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	sum.Prompts = len(kept)

	m := env.Manifest
	m.Param("validation_fraction", frac)
	m.Param("limit", cmd.Int("limit"))
	m.Param("categories", cats)
	m.Seed("split", seed)
	if err := m.WriteFor(out, schema.Prompts.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("wrote prompts", "output", out, "prompts", sum.Prompts,
		"discovery", sum.Splits[Discovery], "validation", sum.Splits[Validation])
	if out == "-" {
		return nil // stdout carries the table
	}
	if cmd.Bool("json") {
		return json.NewEncoder(env.Stdout).Encode(sum)
	}
	fmt.Fprintf(env.Stdout, "%s: %d prompts (%d discovery, %d validation) in %d categories\n",
		out, sum.Prompts, sum.Splits[Discovery], sum.Splits[Validation], len(sum.Categories))
	return nil
}

// load reads prompts from one file; the format comes from the extension.
func load(path, textField, categoryField string) ([]schema.Prompt, error) {
	format, err := records.FormatOf(path)
	if err != nil {
		return nil, err
	}
	source := filepath.Base(path)
	if format == "parquet" {
		// An mbd prompts table keeps its ids, sources and categories.
		if r, err := table.OpenAny(path, nil, ""); err == nil {
			defer r.Close()
			if r.Table() != schema.Prompts {
				return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("holds a %s table, want prompts (or a Parquet file with a %q column)", r.Table().ID(), textField)}
			}
			rows, err := table.ReadAll[schema.Prompt](path, nil)
			return rows, err
		}
	}
	var out []schema.Prompt
	for rec, err := range records.Read(path, format, []string{textField}, []string{categoryField}) {
		if err != nil {
			return nil, err
		}
		text := strings.TrimSpace(rec.Fields[textField])
		if text == "" {
			return nil, &table.InputError{Path: fmt.Sprintf("%s:%d", path, rec.Line), Column: textField, Msg: "empty prompt"}
		}
		out = append(out, schema.Prompt{ID: ID(text), Text: text, Source: source, Category: rec.Fields[categoryField]})
	}
	return out, nil
}
