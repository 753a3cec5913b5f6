// Package truthcmd is the command line of mbd-truth: make writes ground truths (truth.Synthetic or
// truth.Write), score matches a run's validated hypotheses to them (truth.Recover) and writes the
// recovery table.
package truthcmd

import (
	"context"
	"fmt"
	"math"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/synth"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/truth"
)

// MakeOptions are the options of mbd-truth make.
type MakeOptions struct {
	Output    string   // -o
	N         int      // -n
	M         int      // -m
	Focus     string   // --focus
	Traits    []string // --trait
	Strength  float64  // --strength
	Seed      uint64   // --seed
	Assistant cli.Assistant
}

// ScoreOptions are the options of mbd-truth score.
type ScoreOptions struct {
	Output      string  // -o
	Truths      string  // --truths
	Hypotheses  string  // --hypotheses
	Validations string  // --validations
	Reference   string  // --reference
	Threshold   float64 // --threshold (0: the method's default)
	JSON        bool    // --json
	Assistant   cli.Assistant
}

// Main is mbd-truth.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	mo, so := &MakeOptions{}, &ScoreOptions{}
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-truth",
		Usage: "ground truths: write inserted behaviours, score how well a run recovered them",
		Commands: []*ucli.Command{
			{
				Name:  "make",
				Usage: "write a truths table (behaviours and texts that exhibit them)",
				Description: `With an LLM --assistant: N behaviours (in --focus, if given) and M texts each. With builtin: behaviours of
the offline synthetic suite (--trait, repeatable; default all) with the finetuning texts that carry
them at --strength.

Examples:
  mbd-truth make --trait animal --strength 0.6 -o truths.parquet
  mbd-truth make --assistant openai:gpt-4o-mini -n 5 -m 200 --focus "cooking advice" -o truths.parquet`,
				Flags: append([]ucli.Flag{
					cli.OutputFlag(&mo.Output, "output truths table (`PATH` or -)"),
					&ucli.IntFlag{Name: "n", Value: 5, Destination: &mo.N, Usage: "behaviours (LLM)"},
					&ucli.IntFlag{Name: "m", Value: 100, Destination: &mo.M, Usage: "texts per behaviour"},
					&ucli.StringFlag{Name: "focus", Destination: &mo.Focus, Usage: "area the behaviours should be about (LLM)"},
					&ucli.StringSliceFlag{Name: "trait", Destination: &mo.Traits, Usage: "builtin: trait of the synthetic suite (repeatable; default all)"},
					&ucli.Float64Flag{Name: "strength", Value: 0.6, Destination: &mo.Strength, Usage: "builtin: share of the texts that carry the trait"},
					&ucli.Uint64Flag{Name: "seed", Value: 7, Destination: &mo.Seed, Usage: "seed"},
				}, mo.Assistant.Flags()...),
				Action: cli.Action(mo, nil, RunMake),
			},
			{
				Name:      "score",
				Usage:     "match validated hypotheses to truths: the recovery table, recall and precision",
				ArgsUsage: " ",
				Description: `Reads --truths, --hypotheses and --validations; a hypothesis counts when one of its tests is
validated. Offline (builtin) the similarity is lexical agreement against --reference texts of model
A; with an LLM --assistant it is a fixed rubric.

Examples:
  mbd-truth score --truths truths.parquet --hypotheses h.parquet --validations v.parquet --reference gens-a.parquet -o recovery.parquet`,
				Flags: append([]ucli.Flag{
					cli.OutputFlag(&so.Output, "output recovery table (`PATH` or -)"),
					&ucli.StringFlag{Name: "truths", Destination: &so.Truths, Usage: "truths `TABLE`"},
					&ucli.StringFlag{Name: "hypotheses", Destination: &so.Hypotheses, Usage: "hypotheses `TABLE`"},
					&ucli.StringFlag{Name: "validations", Destination: &so.Validations, Usage: "validations `TABLE`"},
					&ucli.StringFlag{Name: "reference", Destination: &so.Reference, Usage: "generations `TABLE` of model A (offline similarity)"},
					&ucli.Float64Flag{Name: "threshold", Destination: &so.Threshold, Usage: "least similarity of a recovery (default 0.5)"},
					&ucli.BoolFlag{Name: "json", Destination: &so.JSON, Usage: "print recall and precision as JSON"},
				}, so.Assistant.Flags()...),
				Action: cli.Action(so, nil, RunScore),
			},
		},
	}, args, stdio)
}

// Validate checks the options of make before any work.
func (o MakeOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH"))
	c.Count("-n", o.N, 1)
	c.Count("-m", o.M, 1)
	c.Between("--strength", o.Strength, 0, 1)
	for _, t := range o.Traits {
		if err := synth.CheckTrait(t); err != nil {
			c.Failf("--trait %v", err)
		}
	}
	o.Assistant.Check(&c)
	var p cli.Paths
	p.Shared("--assistant", backends.LocalFiles(o.Assistant.Ref)...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunMake writes the truths table.
func RunMake(ctx context.Context, env *cli.Env, o MakeOptions) error {
	var rows []schema.Truth
	if o.Assistant.Builtin() {
		traits := o.Traits
		if len(traits) == 0 {
			traits = synth.TraitIDs()
		}
		var err error
		if rows, err = truth.Synthetic(traits, o.Strength, o.M, o.Seed); err != nil {
			return err
		}
	} else {
		sess, err := roles.Open(roles.Options(o.Assistant), env.Log)
		if err != nil {
			return cli.BadRef("--assistant", err)
		}
		defer sess.Close()
		if rows, err = truth.Write(ctx, sess, o.N, o.M, o.Focus, env.Log); err != nil {
			return err
		}
		env.Manifest.Param("assistant_usage", sess.Usage())
	}
	env.Manifest.Param("assistant", o.Assistant.Ref)
	env.Manifest.Seed("truths", o.Seed)
	if err := cli.WriteTable(env, o.Output, rows); err != nil {
		return err
	}
	for _, r := range rows {
		env.Log.Info("truth", "id", r.ID, "category", r.Category, "texts", len(r.Texts), "behavior", r.Behavior)
	}
	return nil
}

// Validate checks the options of score before any work.
func (o ScoreOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH"))
	c.Must(o.Truths != "" && o.Hypotheses != "" && o.Validations != "", "give --truths, --hypotheses and --validations")
	c.Must(!o.Assistant.Builtin() || o.Reference != "", "offline scoring needs --reference (generations of model A)")
	c.Between("--threshold", o.Threshold, 0, 1)
	o.Assistant.Check(&c)
	var p cli.Paths
	p.In("--truths", o.Truths)
	p.In("--hypotheses", o.Hypotheses)
	p.In("--validations", o.Validations)
	p.In("--reference", o.Reference)
	p.Shared("--assistant", backends.LocalFiles(o.Assistant.Ref)...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunScore matches the validated hypotheses to the truths and writes the recovery table.
func RunScore(ctx context.Context, env *cli.Env, o ScoreOptions) error {
	truths, err := cli.ReadTable[schema.Truth](env, o.Truths)
	if err != nil {
		return err
	}
	hyps, err := cli.ReadTable[schema.Hypothesis](env, o.Hypotheses)
	if err != nil {
		return err
	}
	vals, err := cli.ReadTable[schema.Validation](env, o.Validations)
	if err != nil {
		return err
	}
	var ref []schema.Generation
	if o.Reference != "" {
		if ref, err = cli.ReadTable[schema.Generation](env, o.Reference); err != nil {
			return err
		}
	}
	vh := truth.Validated(hyps, vals)
	builtin := o.Assistant.Builtin()
	threshold := o.Threshold
	if threshold == 0 {
		threshold = truth.DefaultThreshold
	}

	var sim [][]float64
	method := truth.LexicalMethod
	if builtin {
		if len(ref) == 0 {
			return &table.InputError{Path: o.Reference, Msg: "no rows"}
		}
		sim = truth.Agreement(truths, vh, ref)
	} else {
		sess, err := roles.Open(roles.Options(o.Assistant), env.Log)
		if err != nil {
			return cli.BadRef("--assistant", err)
		}
		defer sess.Close()
		l, ok := sess.Assistant.(roles.LLM)
		if !ok {
			return fmt.Errorf("assistant %s cannot rate similarity", sess.Ref())
		}
		method = truth.RubricMethod + sess.Ref()
		if sim, err = truth.Rubric(ctx, l, truths, vh); err != nil {
			return err
		}
		env.Manifest.Param("assistant_usage", sess.Usage())
	}
	rec, err := truth.Recover(truths, vh, sim, threshold, method)
	if err != nil {
		return err
	}

	m := env.Manifest
	m.Param("method", method)
	m.Param("threshold", threshold)
	m.Param("recall", orNil(rec.Recall))
	m.Param("precision", orNil(rec.Precision))
	m.Param("truths", len(truths))
	m.Param("validated_hypotheses", len(vh))
	if err := cli.WriteTable(env, o.Output, rec.Rows); err != nil {
		return err
	}
	if o.Output == "-" {
		return nil
	}
	if o.JSON {
		fmt.Fprintf(env.Stdout, "{\"truths\": %d, \"recovered\": %d, \"recall\": %s, \"validated\": %d, \"precise\": %d, \"precision\": %s}\n",
			len(truths), rec.Recovered, jsonNum(rec.Recall), len(vh), rec.Precise, jsonNum(rec.Precision))
		return nil
	}
	fmt.Fprintf(env.Stdout, "recall %d/%d, precision %d/%d (%s, threshold %g)\n", rec.Recovered, len(truths), rec.Precise, len(vh), method, threshold)
	for i, r := range rec.Rows {
		mark, h := "✗", "(no validated hypothesis)"
		if r.Recovered {
			mark = "✓"
		}
		if r.HypothesisID != nil {
			for _, x := range vh {
				if x.ID == *r.HypothesisID {
					h = fmt.Sprintf("%s (score %.2f)", x.Text, r.Score)
				}
			}
		}
		fmt.Fprintf(env.Stdout, "  %s %s: %s\n      ↔ %s\n", mark, r.TruthID, truths[i].Behavior, h)
	}
	return nil
}

// orNil is x, or nil (JSON null) for NaN.
func orNil(x float64) any {
	if math.IsNaN(x) {
		return nil
	}
	return x
}

func jsonNum(x float64) string {
	if math.IsNaN(x) {
		return "null"
	}
	return fmt.Sprintf("%.4f", x)
}
