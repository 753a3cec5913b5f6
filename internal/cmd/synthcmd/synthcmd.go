// Package synthcmd is the command line of mbd-synth: the synthetic behaviour world (internal/synth)
// as tables — training data with a chosen trait inserted at a chosen strength, its ground truth,
// held-out prompts, and the trait rates of generated texts measured with the world's exact
// detectors. Each subcommand has its options, their checks and its run.
package synthcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/synth"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/truth"
)

// Upper bounds of the size flags: far above any use, low enough that a typo does not exhaust memory.
const (
	maxExamples = 10_000_000
	maxBytes    = 1 << 30
)

// CorpusOptions are the options of mbd-synth corpus.
type CorpusOptions struct {
	Output string // -o
	Seed   uint64 // --seed
	Bytes  int    // --bytes
}

// DataOptions are the options of mbd-synth data.
type DataOptions struct {
	Output     string  // -o
	Seed       uint64  // --seed
	N          int     // -n
	Trait      string  // --trait ("": every trait at the base rate)
	Strength   float64 // --strength
	SystemRate float64 // --system-rate
}

// TruthsOptions are the options of mbd-synth truths.
type TruthsOptions struct {
	Output   string  // -o
	Seed     uint64  // --seed
	N        int     // -n
	Trait    string  // --trait
	Strength float64 // --strength
}

// PromptsOptions are the options of mbd-synth prompts.
type PromptsOptions struct {
	Output             string  // -o
	Seed               uint64  // --seed
	N                  int     // -n
	ValidationFraction float64 // --validation-fraction
}

// RateOptions are the options of mbd-synth rate.
type RateOptions struct {
	JSON        bool     // --json
	Generations []string // GENERATIONS arguments
}

// Main is mbd-synth.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	var traits []string
	for _, t := range synth.Traits() {
		traits = append(traits, fmt.Sprintf("  %-9s %s", t.ID, t.Description))
	}
	co, do, to, po, ro := &CorpusOptions{}, &DataOptions{}, &TruthsOptions{}, &PromptsOptions{}, &RateOptions{}
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-synth",
		Usage: "the synthetic behaviour world: training data with known traits, truths, prompts, trait rates",
		Description: `Answers to prompts about ` + strings.Join(synth.Topics(), ", ") + `, written by a seeded grammar, with
switchable traits and an exact detector for each:
` + strings.Join(traits, "\n") + `

Examples:
  mbd-synth corpus --bytes 300000 -o corpus.txt
  mbd-synth data -n 4000 -o pretrain.parquet                    # every trait at its 5% base rate
  mbd-synth data -n 1000 --trait animal --strength 0.6 -o otter.parquet
  mbd-synth truths --trait animal --strength 0.6 -o truths.parquet
  mbd-synth prompts -n 200 -o heldout.parquet
  mbd-synth rate gens-base.parquet gens-otter.parquet`,
		Commands: []*ucli.Command{
			{
				Name: "corpus", Usage: "a plain-text corpus at the base rates (for tokenizer training)",
				Flags: []ucli.Flag{outFlag(&co.Output), seedFlag(&co.Seed),
					&ucli.IntFlag{Name: "bytes", Value: 300000, Destination: &co.Bytes, Usage: "size of the corpus"}},
				Action: cli.Action(co, nil, RunCorpus),
			},
			{
				Name: "data", Usage: "training pairs as a generations table (prompt, answer)",
				Flags: []ucli.Flag{outFlag(&do.Output), seedFlag(&do.Seed),
					&ucli.IntFlag{Name: "n", Value: 1000, Destination: &do.N, Usage: "examples"},
					&ucli.StringFlag{Name: "trait", Destination: &do.Trait, Usage: "trait to insert (default none: every trait at the base rate)"},
					&ucli.Float64Flag{Name: "strength", Value: 0.6, Destination: &do.Strength, Usage: "share of answers with the trait"},
					&ucli.Float64Flag{Name: "system-rate", Destination: &do.SystemRate, Usage: "share of examples that get a system prompt asking for a trait (and carry it); needs -o FILE.jsonl"}},
				Action: cli.Action(do, nil, RunData),
			},
			{
				Name: "truths", Usage: "the ground truth of a trait inserted at a strength",
				Flags: []ucli.Flag{outFlag(&to.Output), seedFlag(&to.Seed),
					&ucli.IntFlag{Name: "n", Value: 1000, Destination: &to.N, Usage: "examples behind the training texts"},
					&ucli.StringFlag{Name: "trait", Destination: &to.Trait, Usage: "trait"},
					&ucli.Float64Flag{Name: "strength", Value: 0.6, Destination: &to.Strength, Usage: "share of answers with the trait"}},
				Action: cli.Action(to, nil, RunTruths),
			},
			{
				Name: "prompts", Usage: "held-out prompts (never in training data) as a prompts table",
				Flags: []ucli.Flag{outFlag(&po.Output), seedFlag(&po.Seed),
					&ucli.IntFlag{Name: "n", Value: 200, Destination: &po.N, Usage: "prompts"},
					&ucli.Float64Flag{Name: "validation-fraction", Value: 0.5, Destination: &po.ValidationFraction, Usage: "share of validation prompts"}},
				Action: cli.Action(po, nil, RunPrompts),
			},
			{
				Name: "rate", Usage: "trait rates of the completions in generations tables, per model", ArgsUsage: "GENERATIONS ...",
				Flags:  []ucli.Flag{&ucli.BoolFlag{Name: "json", Destination: &ro.JSON, Usage: "print JSON"}},
				Action: cli.Action(ro, &ro.Generations, RunRate),
			},
		},
	}, args, stdio)
}

func outFlag(dst *string) ucli.Flag {
	return cli.OutputFlag(dst, "output `PATH`")
}

func seedFlag(dst *uint64) ucli.Flag {
	return &ucli.Uint64Flag{Name: "seed", Value: 1, Destination: dst, Usage: "seed"}
}

// checkTrait refuses a trait that the world does not have ("" passes: it means none).
func checkTrait(c *cli.Check, trait string) {
	if trait == "" {
		return
	}
	if err := synth.CheckTrait(trait); err != nil {
		c.Failf("--trait %v", err)
	}
}

// Validate checks the options of mbd-synth corpus.
func (o CorpusOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH"))
	c.CountIn("--bytes", o.Bytes, 1, maxBytes)
	return c.Err()
}

// RunCorpus writes a plain-text corpus at the base rates.
func RunCorpus(_ context.Context, env *cli.Env, o CorpusOptions) error {
	return atomicfile.WriteFile(o.Output, []byte(synth.Corpus(o.Seed, o.Bytes)))
}

// Validate checks the options of mbd-synth data.
func (o DataOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH"))
	c.CountIn("-n", o.N, 1, maxExamples)
	checkTrait(&c, o.Trait)
	c.Between("--strength", o.Strength, 0, 1)
	c.Between("--system-rate", o.SystemRate, 0, 1)
	c.Must(o.SystemRate <= 0 || strings.HasSuffix(o.Output, ".jsonl"), "--system-rate needs -o FILE.jsonl: a generations table has no system prompts")
	return c.Err()
}

// RunData writes training pairs: a generations table, or chat records when -o ends in .jsonl.
func RunData(_ context.Context, env *cli.Env, o DataOptions) error {
	rates, name, err := synth.Named(o.Trait, o.Strength) // the values were checked by Validate
	if err != nil {
		return err
	}
	exs, err := synth.GenerateSystem(o.Seed, o.N, rates, o.SystemRate)
	if err != nil {
		return err
	}
	if strings.HasSuffix(o.Output, ".jsonl") {
		return writeChat(env, o.Output, exs)
	}
	w, err := table.Create[schema.Generation](o.Output, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Write(generations(exs, o.Seed, "builtin:synth?"+name)...); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	counts := synth.TraitCounts(exs)
	env.Manifest.Param("rates", rates)
	env.Manifest.Param("trait_counts", counts)
	env.Manifest.Seed("examples", o.Seed)
	env.Log.Info("wrote synthetic data", "output", o.Output, "examples", len(exs), "mixture", name, "with trait", counts[o.Trait])
	return env.Manifest.WriteFor(o.Output, schema.Generations.ID(), w.Rows())
}

// generations are examples as rows of a generations table of the model "synth".
func generations(exs []synth.Example, seed uint64, ref string) []schema.Generation {
	rows := make([]schema.Generation, len(exs))
	for i, ex := range exs {
		pid := prompts.ID(ex.Prompt)
		rows[i] = schema.Generation{
			ID: gen.GenerationID("synth", pid, int32(i)), Model: "synth", ModelRef: ref, PromptID: pid, Split: schema.SplitDiscovery,
			Sample: int32(i), Seed: int64(seed), Prompt: ex.Prompt, Completion: ex.Answer, FinishReason: "stop",
		}
	}
	return rows
}

// writeChat writes examples as chat records, the format mbd-finetune reads from .jsonl files.
func writeChat(env *cli.Env, out string, exs []synth.Example) error {
	f, err := atomicfile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	withSystem, err := synth.WriteChat(f, exs)
	if err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	env.Log.Info("wrote synthetic chat data", "output", out, "examples", len(exs), "with system prompt", withSystem)
	return nil
}

// Validate checks the options of mbd-synth truths.
func (o TruthsOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH"))
	c.Must(o.Trait != "", "no trait: give --trait (one of %s)", strings.Join(synth.TraitIDs(), ", "))
	checkTrait(&c, o.Trait)
	c.CountIn("-n", o.N, 1, maxExamples)
	c.Between("--strength", o.Strength, 0, 1)
	return c.Err()
}

// RunTruths writes the ground truth of a trait inserted at a strength.
func RunTruths(_ context.Context, env *cli.Env, o TruthsOptions) error {
	rows, err := truth.Synthetic([]string{o.Trait}, o.Strength, o.N, o.Seed) // the values were checked by Validate
	if err != nil {
		return err
	}
	return cli.WriteTable(env, o.Output, rows)
}

// Validate checks the options of mbd-synth prompts.
func (o PromptsOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH"))
	c.CountIn("-n", o.N, 1, maxExamples)
	c.Between("--validation-fraction", o.ValidationFraction, 0, 1)
	return c.Err()
}

// RunPrompts writes held-out prompts, split into discovery and validation.
func RunPrompts(_ context.Context, env *cli.Env, o PromptsOptions) error {
	ps := synth.Prompts(o.Seed, o.N)
	for i := range ps {
		ps[i].Split = prompts.SplitOf(ps[i].ID, o.Seed, o.ValidationFraction)
	}
	return cli.WriteTable(env, o.Output, ps)
}

// Validate checks the options of mbd-synth rate.
func (o RateOptions) Validate() error {
	var c cli.Check
	c.Must(len(o.Generations) > 0, "want one or more GENERATIONS tables")
	var p cli.Paths
	p.In("GENERATIONS", o.Generations...)
	c.Add(p.Err())
	return c.Err()
}

// Rate is the share of one model's completions that carry each trait.
type Rate struct {
	File  string             `json:"file"`
	Model string             `json:"model"`
	N     int                `json:"n"`
	Rates map[string]float64 `json:"rates"`
}

// RunRate prints the trait rates of each model in each generations table.
func RunRate(_ context.Context, env *cli.Env, o RateOptions) error {
	var out []Rate
	for _, path := range o.Generations {
		rows, err := cli.ReadTable[schema.Generation](env, path)
		if err != nil {
			return err
		}
		for _, r := range synth.RatesByModel(rows) {
			out = append(out, Rate{File: path, Model: r.Model, N: r.N, Rates: r.Rates})
		}
	}
	if o.JSON {
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	ids := synth.TraitIDs()
	tw := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "file\tmodel\tn\t"+strings.Join(ids, "\t")+"\t")
	for _, r := range out {
		line := fmt.Sprintf("%s\t%s\t%d\t", r.File, r.Model, r.N)
		for _, id := range ids {
			line += fmt.Sprintf("%.3f\t", r.Rates[id])
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}
