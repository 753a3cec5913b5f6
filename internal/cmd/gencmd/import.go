package gencmd

import (
	"context"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// ImportOptions are the options of mbd-gen import.
type ImportOptions struct {
	Output             string   // -o
	ModelCol           string   // --model-col
	Model              string   // --model
	ModelRef           string   // --model-ref
	PromptCol          string   // --prompt-col
	CompletionCol      string   // --completion-col
	SampleCol          string   // --sample-col
	SeedCol            string   // --seed-col
	FinishCol          string   // --finish-col
	Prompts            string   // --prompts
	ValidationFraction float64  // --validation-fraction
	SplitSeed          uint64   // --split-seed
	Split              string   // --split
	InvalidUTF8        string   // --invalid-utf8
	Files              []string // FILE arguments
}

func importCommand() *ucli.Command {
	o := &ImportOptions{}
	return &ucli.Command{
		Name:      "import",
		Usage:     "turn (model, prompt, completion) records made elsewhere into a generations table",
		ArgsUsage: "FILE ...",
		Description: `Reads .csv, .jsonl/.ndjson or .parquet FILEs with one completion per record. Column names are
mapped with the --*-col flags. Prompt ids are the SHA-256 of the prompt text, as mbd-prompts makes
them; splits come from --prompts (a prompts table, which must hold every prompt) or, without it,
from the same stable hash mbd-prompts uses with the same --validation-fraction and --split-seed.
Records of the same model and prompt are numbered 0, 1, ... in input order unless --sample-col is
given. --split keeps the records of one split (hypotheses are proposed from the discovery split
and validated on the validation split). Token counts and log-probabilities are unknown for
imported texts and stay null.

Examples:
  mbd-gen import answers.jsonl -o generations.parquet
  mbd-gen import --model-col system --completion-col answer a.csv b.csv -o generations.parquet
  mbd-gen import --model B --prompts prompts.parquet b.jsonl -o - | mbd-table summary -
  mbd-gen import --model A --split discovery a.csv -o gens-a.parquet`,
		Flags: []ucli.Flag{
			cli.OutputFlag(&o.Output, "output table (`PATH`, or - for an Arrow stream on stdout)"),
			&ucli.StringFlag{Name: "model-col", Value: "model", Destination: &o.ModelCol, Usage: "column with the model label"},
			&ucli.StringFlag{Name: "model", Destination: &o.Model, Usage: "model `LABEL` for every record, when the input has no model column"},
			&ucli.StringFlag{Name: "model-ref", Destination: &o.ModelRef, Usage: "model reference to record (default: import:FILE)"},
			&ucli.StringFlag{Name: "prompt-col", Value: "prompt", Destination: &o.PromptCol, Usage: "column with the prompt text"},
			&ucli.StringFlag{Name: "completion-col", Value: "completion", Destination: &o.CompletionCol, Usage: "column with the completion text"},
			&ucli.StringFlag{Name: "sample-col", Destination: &o.SampleCol, Usage: "column with the sample index (optional)"},
			&ucli.StringFlag{Name: "seed-col", Destination: &o.SeedCol, Usage: "column with the sampling seed (optional)"},
			&ucli.StringFlag{Name: "finish-col", Destination: &o.FinishCol, Usage: "column with the finish reason (optional; else unknown)"},
			&ucli.StringFlag{Name: "prompts", Destination: &o.Prompts, Usage: "prompts `TABLE` that gives the splits"},
			&ucli.Float64Flag{Name: "validation-fraction", Value: 0.5, Destination: &o.ValidationFraction, Usage: "share of validation prompts, without --prompts"},
			&ucli.Uint64Flag{Name: "split-seed", Destination: &o.SplitSeed, Usage: "seed of the split hash, without --prompts"},
			&ucli.StringFlag{Name: "split", Value: gen.SplitAll, Destination: &o.Split, Usage: "records to keep: all, discovery or validation"},
			cli.InvalidUTF8Flag(&o.InvalidUTF8),
		},
		Action: cli.Action(o, &o.Files, RunImport),
	}
}

// Validate checks the options of import before any work.
func (o ImportOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Must(len(o.Files) > 0, "no input: give one or more FILEs")
	c.Between("--validation-fraction", o.ValidationFraction, 0, 1)
	c.Must(o.Split == gen.SplitAll || o.Split == schema.SplitDiscovery || o.Split == schema.SplitValidation,
		"--split %q: want all, discovery or validation", o.Split)
	_, err := records.ParseInvalidUTF8(o.InvalidUTF8)
	c.Add(err)
	c.Must(strings.TrimSpace(o.PromptCol) != "", "--prompt-col is empty: name the column with the prompt text")
	c.Must(strings.TrimSpace(o.CompletionCol) != "", "--completion-col is empty: name the column with the completion text")
	c.Must(o.Model != "" || strings.TrimSpace(o.ModelCol) != "", "--model-col is empty: name the column with the model label, or give --model")
	var p cli.Paths
	p.In("--prompts", o.Prompts)
	p.In("FILE", o.Files...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunImport reads the records and writes the generations table.
func RunImport(ctx context.Context, env *cli.Env, o ImportOptions) error {
	m := env.Manifest
	im := &gen.Importer{
		Columns: gen.Columns{Model: o.ModelCol, Prompt: o.PromptCol, Completion: o.CompletionCol,
			Sample: o.SampleCol, Seed: o.SeedCol, Finish: o.FinishCol},
		Model: o.Model, ModelRef: o.ModelRef, PromptsName: o.Prompts,
		SplitSeed: o.SplitSeed, ValidationFraction: o.ValidationFraction,
	}
	im.InvalidUTF8, _ = records.ParseInvalidUTF8(o.InvalidUTF8)
	m.Param("split", o.Split)
	if o.Prompts != "" {
		ps, err := cli.ReadTable[schema.Prompt](env, o.Prompts)
		if err != nil {
			return err
		}
		im.Splits = map[string]string{}
		for _, p := range ps {
			im.Splits[p.ID] = p.Split
		}
	} else {
		m.Param("validation_fraction", o.ValidationFraction)
		m.Seed("split", o.SplitSeed)
	}

	w, err := table.Create[schema.Generation](o.Output, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	bar := env.Progress("import", "records", 0)
	for _, path := range o.Files {
		n, err := im.Read(ctx, path, func(g schema.Generation) error {
			bar.Add(1)
			if o.Split != gen.SplitAll && g.Split != o.Split {
				return nil
			}
			return w.Write(g)
		})
		if err != nil {
			return err
		}
		if _, err := cli.RecordFile(env, path, n); err != nil {
			return err
		}
	}
	bar.Done()
	if im.Replaced > 0 {
		env.Log.Warn("replaced invalid UTF-8 with U+FFFD", "fields", im.Replaced)
	}
	if w.Rows() == 0 {
		msg := "no records to import"
		if o.Split != gen.SplitAll {
			msg = "no records of the " + o.Split + " split to import"
		}
		return &table.InputError{Path: strings.Join(o.Files, ", "), Msg: msg}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if err := m.WriteFor(o.Output, schema.Generations.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("imported generations", "output", o.Output, "rows", w.Rows())
	return nil
}
