// Package synthcmd is mbd-synth: the synthetic behaviour world (internal/synth) as tables — training
// data with a chosen trait inserted at a chosen strength, its ground truth, held-out prompts, and the
// trait rates of generated texts measured with the world's exact detectors.
package synthcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
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
)

// Main is mbd-synth.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	var traits []string
	for _, t := range synth.Traits() {
		traits = append(traits, fmt.Sprintf("  %-9s %s", t.ID, t.Description))
	}
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
				Flags: []ucli.Flag{outFlag(), seedFlag(), &ucli.IntFlag{Name: "bytes", Value: 300000, Usage: "size of the corpus"}},
				Action: func(ctx context.Context, cmd *ucli.Command) error {
					out, err := output(cmd)
					if err != nil {
						return err
					}
					return atomicfile.WriteFile(out, []byte(synth.Corpus(cmd.Uint64("seed"), int(cmd.Int("bytes")))))
				},
			},
			{
				Name: "data", Usage: "training pairs as a generations table (prompt, answer)",
				Flags: []ucli.Flag{outFlag(), seedFlag(), &ucli.IntFlag{Name: "n", Value: 1000, Usage: "examples"},
					&ucli.StringFlag{Name: "trait", Usage: "trait to insert (default none: every trait at the base rate)"},
					&ucli.Float64Flag{Name: "strength", Value: 0.6, Usage: "share of answers with the trait"},
					&ucli.Float64Flag{Name: "system-rate", Usage: "share of examples that get a system prompt asking for a trait (and carry it); needs -o FILE.jsonl"}},
				Action: data,
			},
			{
				Name: "truths", Usage: "the ground truth of a trait inserted at a strength",
				Flags: []ucli.Flag{outFlag(), seedFlag(), &ucli.IntFlag{Name: "n", Value: 1000, Usage: "examples behind the training texts"},
					&ucli.StringFlag{Name: "trait", Usage: "trait"}, &ucli.Float64Flag{Name: "strength", Value: 0.6, Usage: "share of answers with the trait"}},
				Action: truths,
			},
			{
				Name: "prompts", Usage: "held-out prompts (never in training data) as a prompts table",
				Flags: []ucli.Flag{outFlag(), seedFlag(), &ucli.IntFlag{Name: "n", Value: 200, Usage: "prompts"},
					&ucli.Float64Flag{Name: "validation-fraction", Value: 0.5, Usage: "share of validation prompts"}},
				Action: heldout,
			},
			{
				Name: "rate", Usage: "trait rates of the completions in generations tables, per model", ArgsUsage: "GENERATIONS ...",
				Flags:  []ucli.Flag{&ucli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: rate,
			},
		},
	}, args, stdio)
}

func outFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `PATH`"}
}

func seedFlag() ucli.Flag { return &ucli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed"} }

func output(cmd *ucli.Command) (string, error) {
	out := cmd.String("output")
	if out == "" {
		return "", cli.Usagef("no output: give -o PATH")
	}
	return out, nil
}

func rates(cmd *ucli.Command) (map[string]float64, string, error) {
	trait := cmd.String("trait")
	if trait == "" {
		return synth.BaseRates(), "base", nil
	}
	r, err := synth.Mixture(trait, cmd.Float64("strength"))
	if err != nil {
		return nil, "", cli.Usagef("%v", err)
	}
	return r, trait + "@" + strconv.FormatFloat(cmd.Float64("strength"), 'g', -1, 64), nil
}

func data(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, err := output(cmd)
	if err != nil {
		return err
	}
	r, name, err := rates(cmd)
	if err != nil {
		return err
	}
	exs, err := synth.GenerateSystem(cmd.Uint64("seed"), int(cmd.Int("n")), r, cmd.Float64("system-rate"))
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if strings.HasSuffix(out, ".jsonl") {
		return writeChatJSONL(env, out, exs)
	}
	if cmd.Float64("system-rate") > 0 {
		return cli.Usagef("--system-rate needs -o FILE.jsonl: a generations table has no system prompts")
	}
	w, err := table.Create[schema.Generation](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	ref := "builtin:synth?" + name
	counts := map[string]int{}
	for i, ex := range exs {
		pid := prompts.ID(ex.Prompt)
		for _, t := range ex.Traits {
			counts[t]++
		}
		if err := w.Write(schema.Generation{
			ID: gen.GenerationID("synth", pid, int32(i)), Model: "synth", ModelRef: ref, PromptID: pid, Split: prompts.Discovery,
			Sample: int32(i), Seed: int64(cmd.Uint64("seed")), Prompt: ex.Prompt, Completion: ex.Answer, FinishReason: "stop",
		}); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	env.Manifest.Param("rates", r)
	env.Manifest.Param("trait_counts", counts)
	env.Manifest.Seed("examples", cmd.Uint64("seed"))
	env.Log.Info("wrote synthetic data", "output", out, "examples", len(exs), "mixture", name, "with trait", counts[cmd.String("trait")])
	return env.Manifest.WriteFor(out, schema.Generations.ID(), w.Rows())
}

// writeChatJSONL writes examples as chat records {"system"?, "prompt", "completion"}, the format
// mbd-finetune reads from .jsonl files.
func writeChatJSONL(env *cli.Env, out string, exs []synth.Example) error {
	f, err := atomicfile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	enc := json.NewEncoder(f)
	withSystem := 0
	for _, ex := range exs {
		rec := struct {
			System     string `json:"system,omitempty"`
			Prompt     string `json:"prompt"`
			Completion string `json:"completion"`
		}{ex.System, ex.Prompt, ex.Answer}
		if ex.System != "" {
			withSystem++
		}
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
	}
	if err := f.Commit(); err != nil {
		return err
	}
	env.Log.Info("wrote synthetic chat data", "output", out, "examples", len(exs), "with system prompt", withSystem)
	return nil
}

func truths(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, err := output(cmd)
	if err != nil {
		return err
	}
	if cmd.String("trait") == "" {
		return cli.Usagef("no trait: give --trait (one of %s)", traitIDs())
	}
	r, _, err := rates(cmd)
	if err != nil {
		return err
	}
	exs, err := synth.Generate(cmd.Uint64("seed"), int(cmd.Int("n")), r)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	rows, err := synth.TruthRows(cmd.String("trait"), cmd.Float64("strength"), synth.Texts(exs))
	if err != nil {
		return cli.Usagef("%v", err)
	}
	w, err := table.Create[schema.Truth](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Write(rows...); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	return env.Manifest.WriteFor(out, schema.Truths.ID(), w.Rows())
}

func heldout(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, err := output(cmd)
	if err != nil {
		return err
	}
	ps := synth.Prompts(cmd.Uint64("seed"), int(cmd.Int("n")))
	w, err := table.Create[schema.Prompt](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, p := range ps {
		p.Split = prompts.SplitOf(p.ID, cmd.Uint64("seed"), cmd.Float64("validation-fraction"))
		if err := w.Write(p); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	return env.Manifest.WriteFor(out, schema.Prompts.ID(), w.Rows())
}

// Rate is the share of one model's completions that carry each trait.
type Rate struct {
	File  string             `json:"file"`
	Model string             `json:"model"`
	N     int                `json:"n"`
	Rates map[string]float64 `json:"rates"`
}

func rate(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	if cmd.NArg() == 0 {
		return cli.Usagef("want one or more GENERATIONS tables")
	}
	var out []Rate
	for _, path := range cmd.Args().Slice() {
		rows, err := table.ReadAll[schema.Generation](path, env.Stdin)
		if err != nil {
			return err
		}
		byModel := map[string][]string{}
		var models []string
		for _, g := range rows {
			if _, ok := byModel[g.Model]; !ok {
				models = append(models, g.Model)
			}
			byModel[g.Model] = append(byModel[g.Model], g.Completion)
		}
		sort.Strings(models)
		for _, m := range models {
			r := Rate{File: path, Model: m, N: len(byModel[m]), Rates: map[string]float64{}}
			for _, t := range synth.Traits() {
				hits := 0
				for _, text := range byModel[m] {
					if t.Detect(text) {
						hits++
					}
				}
				r.Rates[t.ID] = float64(hits) / float64(r.N)
			}
			out = append(out, r)
		}
	}
	if cmd.Bool("json") {
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	head := "file\tmodel\tn\t"
	for _, t := range synth.Traits() {
		head += t.ID + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, r := range out {
		line := fmt.Sprintf("%s\t%s\t%d\t", r.File, r.Model, r.N)
		for _, t := range synth.Traits() {
			line += fmt.Sprintf("%.3f\t", r.Rates[t.ID])
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func traitIDs() string {
	var ids []string
	for _, t := range synth.Traits() {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ", ")
}
