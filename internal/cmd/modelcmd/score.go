package modelcmd

import (
	"context"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/scoring"
)

// ScoreOptions are the options of mbd-model score.
type ScoreOptions struct {
	Model  string   // --model
	Output string   // -o
	Batch  int      // --batch
	Inputs []string // GENERATIONS argument
}

// maxBatch bounds --batch.
const maxBatch = 1 << 16

func scoreCommand() *ucli.Command {
	o := &ScoreOptions{}
	return &ucli.Command{
		Name: "score", Usage: "log-probabilities of a table's completions under a model", ArgsUsage: "GENERATIONS",
		Description: `Scores every completion of a generations table given its prompt (teacher forcing), token by
token, under --model, and writes a scores table. The prompt is formatted as the model formats it for
generation (chat template, hidden system prompt).`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Destination: &o.Model, Usage: "model `REF` (gguf:PATH[?...] or openai-compat:URL#MODEL)"},
			cli.OutputFlag(&o.Output, "output scores table (`PATH` or -)"),
			&ucli.IntFlag{Name: "batch", Value: 32, Destination: &o.Batch, Usage: "completions per scoring call"},
		},
		Action: cli.Action(o, &o.Inputs, RunScore),
	}
}

// Validate checks the options of score.
func (o ScoreOptions) Validate() error {
	var c cli.Check
	c.Must(o.Model != "", "no model: give --model REF")
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Must(len(o.Inputs) == 1, "want one GENERATIONS table")
	if o.Model != "" {
		c.Add(cli.BadRef("--model", backends.Check(o.Model)))
	}
	c.CountIn("--batch", o.Batch, 1, maxBatch)
	var p cli.Paths
	p.In("GENERATIONS", o.Inputs...)
	p.Shared("--model", backends.LocalFiles(o.Model)...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunScore scores the generations and writes the scores table.
func RunScore(ctx context.Context, env *cli.Env, o ScoreOptions) error {
	in := o.Inputs[0]
	gens, err := cli.ReadTable[schema.Generation](env, in)
	if err != nil {
		return err
	}
	if rest, ok := strings.CutPrefix(o.Model, "gguf:"); ok {
		path, _, _ := strings.Cut(rest, "?")
		if err := checkModel(path); err != nil { // the GGUF file, before llama.cpp reads it
			return cli.BadRef("--model", err)
		}
	}
	fetched, err := backends.Fetch(ctx, o.Model, env.Log) // an hf: model, pinned to its commit
	if err != nil {
		return cli.BadRef("--model", err)
	}
	ref := fetched.Ref
	model, err := backends.Open(ref)
	if err != nil {
		return cli.BadRef("--model", err)
	}
	defer model.Close()
	files, err := backends.Files(ref)
	if err != nil {
		return cli.BadRef("--model", err)
	}
	for _, f := range files {
		if _, err := cli.RecordFile(env, f, 0); err != nil {
			return cli.BadRef("--model", err)
		}
	}
	bar := env.Progress("score", "texts", int64(len(gens)))
	rows, err := scoring.Generations(ctx, model, ref, gens, o.Batch, func(n int) { bar.Add(int64(n)) })
	if err != nil {
		return err
	}
	bar.Done()
	env.Manifest.Param("model", ref)
	if err := cli.WriteTable(env, o.Output, rows); err != nil {
		return err
	}
	env.Log.Info("scored", "texts", len(rows), "model", o.Model, "output", o.Output)
	return nil
}
