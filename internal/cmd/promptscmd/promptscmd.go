// Package promptscmd is the command line of mbd-prompts: its flags, their checks, and the run that
// reads the prompt files (or the embedded bank), selects and splits them with prompts.Select and
// writes the prompts table with its manifest.
package promptscmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Options are the options of mbd-prompts.
type Options struct {
	Output             string   // -o
	Builtin            bool     // --builtin
	ValidationFraction float64  // --validation-fraction
	SplitSeed          uint64   // --split-seed
	Limit              int      // --limit
	Categories         []string // --category
	TextField          string   // --text-field
	CategoryField      string   // --category-field
	JSON               bool     // --json
	InvalidUTF8        string   // --invalid-utf8
	Files              []string // FILE arguments
}

// Main is mbd-prompts: it writes a prompts table from the embedded bank or from prompt files.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, command(), args, stdio)
}

func command() *ucli.Command {
	o := &Options{}
	return &ucli.Command{
		Name:      "mbd-prompts",
		Usage:     "write a prompts table, split into discovery and validation prompts",
		ArgsUsage: "[FILE ...]",
		Description: `Reads prompts from FILEs (.txt: one per line; .jsonl, .csv: a text field; .parquet: a prompts
table or any Parquet file with a text column), or the embedded bank of ` + fmt.Sprint(len(prompts.Bank())) + ` prompts when no FILE is
given (or with --builtin). Duplicate texts are kept once. Each prompt gets a stable id (SHA-256 of the
text) and a split from a stable hash of the id and --split-seed: hypotheses are proposed from
discovery prompts only and validated on validation prompts only.

Examples:
  mbd-prompts -o prompts.parquet
  mbd-prompts --validation-fraction 0.3 --limit 100 -o prompts.parquet
  mbd-prompts my-prompts.txt --builtin --category code -o - | mbd-table summary -`,
		Flags: []ucli.Flag{
			cli.OutputFlag(&o.Output, "output table (`PATH`, or - for an Arrow stream on stdout)"),
			&ucli.BoolFlag{Name: "builtin", Destination: &o.Builtin, Usage: "include the embedded prompt bank even when FILEs are given"},
			&ucli.Float64Flag{Name: "validation-fraction", Value: 0.5, Destination: &o.ValidationFraction, Usage: "share of prompts in the validation split, in [0, 1]"},
			&ucli.Uint64Flag{Name: "split-seed", Value: 0, Destination: &o.SplitSeed, Usage: "seed of the split hash"},
			&ucli.IntFlag{Name: "limit", Destination: &o.Limit, Usage: "keep at most `N` prompts, a stable seeded subsample (0: all)"},
			&ucli.StringSliceFlag{Name: "category", Destination: &o.Categories, Usage: "keep only prompts of this `CATEGORY` (repeatable)"},
			&ucli.StringFlag{Name: "text-field", Value: "text", Destination: &o.TextField, Usage: "field holding the prompt in .jsonl, .csv and foreign .parquet files"},
			&ucli.StringFlag{Name: "category-field", Value: "category", Destination: &o.CategoryField, Usage: "field holding the category, if present"},
			&ucli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print the summary as JSON"},
			cli.InvalidUTF8Flag(&o.InvalidUTF8),
		},
		Action: cli.Action(o, &o.Files, Run),
	}
}

// Validate checks the options before any work: ranges, field names and file roles.
func (o Options) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Between("--validation-fraction", o.ValidationFraction, 0, 1)
	c.Count("--limit", o.Limit, 0)
	_, err := records.ParseInvalidUTF8(o.InvalidUTF8)
	c.Add(err)
	c.Must(strings.TrimSpace(o.TextField) != "", "--text-field is empty: name the field that holds the prompt")
	c.Must(strings.TrimSpace(o.CategoryField) != "", "--category-field is empty: name the field that holds the category")
	for _, cat := range o.Categories {
		c.Must(cat != "", "--category is empty: give a category name")
	}
	var p cli.Paths
	p.In("FILE", o.Files...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// Summary is what mbd-prompts reports.
type Summary struct {
	Output     string         `json:"output"`
	Prompts    int            `json:"prompts"`
	Duplicates int            `json:"duplicates_dropped"`
	Splits     map[string]int `json:"splits"`
	Categories map[string]int `json:"categories"`
}

// Run reads the prompts, selects and splits them, and writes the table and a summary.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	var all []schema.Prompt
	if len(o.Files) == 0 || o.Builtin {
		all = append(all, prompts.Bank()...)
	}
	bad, _ := records.ParseInvalidUTF8(o.InvalidUTF8)
	for _, path := range o.Files {
		ps, replaced, err := prompts.Load(path, o.TextField, o.CategoryField, bad)
		if err != nil {
			return err
		}
		if replaced > 0 {
			env.Log.Warn("replaced invalid UTF-8 with U+FFFD", "file", path, "fields", replaced)
		}
		if _, err := cli.RecordFile(env, path, int64(len(ps))); err != nil {
			return err
		}
		all = append(all, ps...)
		env.Log.Debug("read prompts", "file", path, "prompts", len(ps))
	}

	kept, dups := prompts.Select(all, prompts.Selection{Categories: o.Categories, Limit: o.Limit,
		ValidationFraction: o.ValidationFraction, Seed: o.SplitSeed})
	if dups > 0 {
		env.Log.Warn("dropped duplicate prompts", "count", dups)
	}
	if len(kept) == 0 {
		return &table.InputError{Path: strings.Join(o.Files, ", "), Msg: "no prompts left to write"}
	}

	sum := Summary{Output: o.Output, Prompts: len(kept), Duplicates: dups, Splits: map[string]int{}, Categories: map[string]int{}}
	for _, p := range kept {
		sum.Splits[p.Split]++
		sum.Categories[p.Category]++
	}

	m := env.Manifest
	m.Param("validation_fraction", o.ValidationFraction)
	m.Param("limit", o.Limit)
	m.Param("categories", o.Categories)
	m.Seed("split", o.SplitSeed)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cli.WriteTable(env, o.Output, kept); err != nil {
		return err
	}
	env.Log.Info("wrote prompts", "output", o.Output, "prompts", sum.Prompts,
		"discovery", sum.Splits[schema.SplitDiscovery], "validation", sum.Splits[schema.SplitValidation])
	if o.Output == "-" {
		return nil // stdout carries the table
	}
	if o.JSON {
		return json.NewEncoder(env.Stdout).Encode(sum)
	}
	fmt.Fprintf(env.Stdout, "%s: %d prompts (%d discovery, %d validation) in %d categories\n",
		o.Output, sum.Prompts, sum.Splits[schema.SplitDiscovery], sum.Splits[schema.SplitValidation], len(sum.Categories))
	return nil
}
