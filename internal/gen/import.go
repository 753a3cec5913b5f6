// Package gen makes generations tables: today by importing texts produced elsewhere (mbd-gen import).
package gen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-gen.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-gen",
		Usage: "make a generations table",
		Description: `Examples:
  mbd-gen run --model gguf:base.gguf --label A --samples 4 prompts.parquet -o gens-a.parquet
  mbd-gen import --model-col system answers.csv -o generations.parquet
  mbd-gen batch-export --model gpt-4o-mini --label B --chat prompts.parquet -o requests.jsonl`,
		Commands: []*ucli.Command{runCommand(), importCommand(), batchExportCommand(), batchImportCommand()},
	}, args, stdio)
}

func importCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "import",
		Usage:     "turn (model, prompt, completion) records made elsewhere into a generations table",
		ArgsUsage: "FILE ...",
		Description: `Reads .csv, .jsonl/.ndjson or .parquet FILEs with one completion per record. Column names are
mapped with the --*-col flags. Prompt ids are the SHA-256 of the prompt text, as mbd-prompts makes
them; splits come from --prompts (a prompts table, which must hold every prompt) or, without it,
from the same stable hash mbd-prompts uses with the same --validation-fraction and --split-seed.
Records of the same model and prompt are numbered 0, 1, ... in input order unless --sample-col is
given. Token counts and log-probabilities are unknown for imported texts and stay null.

Examples:
  mbd-gen import answers.jsonl -o generations.parquet
  mbd-gen import --model-col system --completion-col answer a.csv b.csv -o generations.parquet
  mbd-gen import --model B --prompts prompts.parquet b.jsonl -o - | mbd-table summary -`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output table (`PATH`, or - for an Arrow stream on stdout)"},
			&ucli.StringFlag{Name: "model-col", Value: "model", Usage: "column with the model label"},
			&ucli.StringFlag{Name: "model", Usage: "model `LABEL` for every record, when the input has no model column"},
			&ucli.StringFlag{Name: "model-ref", Usage: "model reference to record (default: import:FILE)"},
			&ucli.StringFlag{Name: "prompt-col", Value: "prompt", Usage: "column with the prompt text"},
			&ucli.StringFlag{Name: "completion-col", Value: "completion", Usage: "column with the completion text"},
			&ucli.StringFlag{Name: "sample-col", Usage: "column with the sample index (optional)"},
			&ucli.StringFlag{Name: "seed-col", Usage: "column with the sampling seed (optional)"},
			&ucli.StringFlag{Name: "finish-col", Usage: "column with the finish reason (optional; else unknown)"},
			&ucli.StringFlag{Name: "prompts", Usage: "prompts `TABLE` that gives the splits"},
			&ucli.Float64Flag{Name: "validation-fraction", Value: 0.5, Usage: "share of validation prompts, without --prompts"},
			&ucli.Uint64Flag{Name: "split-seed", Usage: "seed of the split hash, without --prompts"},
		},
		Action: runImport,
	}
}

// GenerationID is a generation's stable id.
func GenerationID(model, promptID string, sample int32) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", model, promptID, sample))
	return hex.EncodeToString(h[:8])
}

func runImport(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	switch {
	case out == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case cmd.NArg() == 0:
		return cli.Usagef("no input: give one or more FILEs")
	}
	frac := cmd.Float64("validation-fraction")
	if frac < 0 || frac > 1 {
		return cli.Usagef("--validation-fraction %v: want a number in [0, 1]", frac)
	}
	seed := cmd.Uint64("split-seed")
	m := env.Manifest

	var splits map[string]string // prompt id → split, from --prompts
	if p := cmd.String("prompts"); p != "" {
		r, err := table.Open[schema.Prompt](p, env.Stdin)
		if err != nil {
			return err
		}
		splits = map[string]string{}
		for row, err := range r.All() {
			if err != nil {
				r.Close()
				return err
			}
			splits[row.ID] = row.Split
		}
		hash, err := r.Hash()
		r.Close()
		if err != nil {
			return err
		}
		m.Input(p, schema.Prompts.ID(), int64(len(splits)), hash)
	} else {
		m.Param("validation_fraction", frac)
		m.Seed("split", seed)
	}

	fixedModel := cmd.String("model")
	required := []string{cmd.String("prompt-col"), cmd.String("completion-col")}
	if fixedModel == "" {
		required = append(required, cmd.String("model-col"))
	}
	var optional []string
	for _, f := range []string{"sample-col", "seed-col", "finish-col"} {
		if c := cmd.String(f); c != "" {
			optional = append(optional, c)
		}
	}

	w, err := table.Create[schema.Generation](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	nextSample := map[string]int32{} // model + prompt id → next sample index
	seen := map[string]string{}      // generation id → where it came from
	bar := env.Progress("import", "records", 0)
	for _, path := range cmd.Args().Slice() {
		format, err := records.FormatOf(path)
		if err != nil {
			return err
		}
		if format == "txt" {
			return &table.InputError{Path: path, Msg: "plain text has no columns; use .csv, .jsonl or .parquet"}
		}
		ref := cmd.String("model-ref")
		if ref == "" {
			ref = "import:" + filepath.Base(path)
		}
		var n int64
		for rec, err := range records.Read(path, format, required, optional) {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			where := fmt.Sprintf("%s:%d", path, rec.Line)
			g, err := toGeneration(cmd, rec, fixedModel, ref, where)
			if err != nil {
				return err
			}
			if splits != nil {
				s, ok := splits[g.PromptID]
				if !ok {
					return &table.InputError{Path: where, Column: cmd.String("prompt-col"), Msg: fmt.Sprintf("prompt %q is not in %s", clip(g.Prompt), cmd.String("prompts"))}
				}
				g.Split = s
			} else {
				g.Split = prompts.SplitOf(g.PromptID, seed, frac)
			}
			key := g.Model + "\x00" + g.PromptID
			if cmd.String("sample-col") == "" {
				g.Sample = nextSample[key]
				nextSample[key]++
			}
			g.ID = GenerationID(g.Model, g.PromptID, g.Sample)
			if prev, dup := seen[g.ID]; dup {
				return &table.InputError{Path: where, Msg: fmt.Sprintf("model %q, prompt %q, sample %d already came from %s", g.Model, clip(g.Prompt), g.Sample, prev)}
			}
			seen[g.ID] = where
			if err := w.Write(g); err != nil {
				return err
			}
			n++
			bar.Add(1)
		}
		hash, err := table.HashFile(path)
		if err != nil {
			return err
		}
		m.Input(path, "", n, hash)
	}
	bar.Done()
	if w.Rows() == 0 {
		return &table.InputError{Path: strings.Join(cmd.Args().Slice(), ", "), Msg: "no records to import"}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if err := m.WriteFor(out, schema.Generations.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("imported generations", "output", out, "rows", w.Rows())
	return nil
}

func toGeneration(cmd *ucli.Command, rec records.Record, fixedModel, ref, where string) (schema.Generation, error) {
	f := rec.Fields
	g := schema.Generation{
		Model:        fixedModel,
		ModelRef:     ref,
		Prompt:       f[cmd.String("prompt-col")],
		Completion:   f[cmd.String("completion-col")],
		FinishReason: "unknown",
	}
	if g.Model == "" {
		g.Model = strings.TrimSpace(f[cmd.String("model-col")])
		if g.Model == "" {
			return g, &table.InputError{Path: where, Column: cmd.String("model-col"), Msg: "empty model label"}
		}
	}
	if strings.TrimSpace(g.Prompt) == "" {
		return g, &table.InputError{Path: where, Column: cmd.String("prompt-col"), Msg: "empty prompt"}
	}
	g.Prompt = strings.TrimSpace(g.Prompt)
	g.PromptID = prompts.ID(g.Prompt)
	if c := cmd.String("sample-col"); c != "" {
		v, err := strconv.ParseInt(strings.TrimSpace(f[c]), 10, 32)
		if err != nil || v < 0 {
			return g, &table.InputError{Path: where, Column: c, Msg: fmt.Sprintf("sample index %q: want an integer >= 0", f[c])}
		}
		g.Sample = int32(v)
	}
	if c := cmd.String("seed-col"); c != "" {
		if s, ok := f[c]; ok && s != "" {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return g, &table.InputError{Path: where, Column: c, Msg: fmt.Sprintf("seed %q: want an integer", s)}
			}
			g.Seed = v
		}
	}
	if c := cmd.String("finish-col"); c != "" {
		switch s := strings.TrimSpace(f[c]); s {
		case "stop", "length":
			g.FinishReason = s
		case "eos", "end_turn", "stop_sequence":
			g.FinishReason = "stop"
		case "max_tokens":
			g.FinishReason = "length"
		}
	}
	return g, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
