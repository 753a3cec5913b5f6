// Package validatecmd is the command line of mbd-validate: its flags, their checks, and the run
// that reads the hypotheses and prompts, opens the two models and the assistant, calls
// validate.Run and writes the validations table, the trials log and the pairs' answers. With
// --recorded it reads the models' recorded answers from generations tables instead, picks the two
// models by label as mbd-hypo does (--a, --b), pairs them (validate.PairRecorded) and calls
// validate.RunRecorded; --model-a and --model-b, when given, only score texts.
package validatecmd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/validate"
)

// Options are the options of mbd-validate.
type Options struct {
	Output      string   // -o
	Hypotheses  string   // --hypotheses
	Prompts     string   // --prompts
	ModelA      string   // --model-a
	ModelB      string   // --model-b
	Methods     string   // --methods, comma-separated
	MaxPairs    int      // --max-pairs
	Samples     int      // --samples-per-prompt
	NoBaseline  bool     // --no-baseline
	JudgeBatch  int      // --judge-batch
	Exemplars   int      // --exemplars
	Trials      int      // --trials
	Rounds      int      // --rounds
	Alpha       float64  // --alpha
	Correction  string   // --correction
	MinValid    int      // --min-valid
	Temperature float64  // --temperature
	MaxTokens   int      // --max-tokens
	Seed        uint64   // --seed
	TrialsLog   string   // --trials-log
	Answers     string   // --answers
	Recorded    []string // --recorded
	Labels      cli.Labels
	Assistant   cli.Assistant
}

// Main is mbd-validate.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	o := &Options{}
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.Output, Usage: "output validations table (`PATH` or -)"},
		&ucli.StringFlag{Name: "hypotheses", Destination: &o.Hypotheses, Usage: "hypotheses `TABLE` from mbd-hypo"},
		&ucli.StringFlag{Name: "prompts", Destination: &o.Prompts, Usage: "prompts `TABLE` (its validation split is used; optional with --recorded, whose tables must then agree with it)"},
		&ucli.StringSliceFlag{Name: "recorded", Destination: &o.Recorded, Usage: "validate the answers recorded in this generations `TABLE` (repeatable; e.g. from mbd-gen run or mbd-gen import) instead of fresh ones: their validation split, the two models picked by label as mbd-hypo does (--a, --b); no model generates, and the interactive test is unavailable"},
		&ucli.StringFlag{Name: "model-a", Destination: &o.ModelA, Usage: "model A `REF` (gguf:PATH, openai-compat:URL#MODEL, openai:MODEL, synth:SPEC); with --recorded optional, and used only to score texts (generative test)"},
		&ucli.StringFlag{Name: "model-b", Destination: &o.ModelB, Usage: "model B `REF`"},
		&ucli.StringFlag{Name: "methods", Value: "discriminative,generative,interactive", Destination: &o.Methods, Usage: "tests to run, comma-separated"},
		&ucli.IntFlag{Name: "max-pairs", Aliases: []string{"pairs"}, Destination: &o.MaxPairs, Usage: "discriminative: most pairs a hypothesis may use (0: every validation prompt, --samples-per-prompt times); each plans fewer from its discovery shares and stops early when the evidence allows"},
		&ucli.IntFlag{Name: "samples-per-prompt", Destination: &o.Samples, Usage: "discriminative: fresh answers per validation prompt and model, paired by prompt (more pairs for rare properties); 0: 1 fresh answer, or with --recorded every recorded sample (sample s of A paired with sample s of B)"},
		&ucli.BoolFlag{Name: "no-baseline", Destination: &o.NoBaseline, Usage: "discriminative: skip the no-hypothesis baseline judge (builtin has none)"},
		&ucli.IntFlag{Name: "judge-batch", Value: 1, Destination: &o.JudgeBatch, Usage: "discriminative: pairs the judge decides per assistant request (fewer calls); each pair is still judged in both orders, in two requests; the test assumes the judge decides each pair of a request on its own"},
		&ucli.IntFlag{Name: "exemplars", Value: 20, Destination: &o.Exemplars, Usage: "generative: prompts (one text that shows the property and one that does not, each)"},
		&ucli.IntFlag{Name: "trials", Value: 20, Destination: &o.Trials, Usage: "interactive: most trials a hypothesis may use (planned like pairs)"},
		&ucli.IntFlag{Name: "rounds", Value: 3, Destination: &o.Rounds, Usage: "interactive: questions per trial"},
		&ucli.Float64Flag{Name: "alpha", Value: 0.05, Destination: &o.Alpha, Usage: "level: validated when q <= alpha"},
		&ucli.StringFlag{Name: "correction", Value: "bh", Destination: &o.Correction, Usage: "bh (Benjamini-Hochberg) or holm"},
		&ucli.IntFlag{Name: "min-valid", Value: 5, Destination: &o.MinValid, Usage: "least valid trials for a verdict (else invalid)"},
		&ucli.Float64Flag{Name: "temperature", Value: 0.7, Destination: &o.Temperature, Usage: "sampling temperature of the models' fresh answers"},
		&ucli.IntFlag{Name: "max-tokens", Value: 256, Destination: &o.MaxTokens, Usage: "most tokens of a model answer"},
		&ucli.Uint64Flag{Name: "seed", Value: 1, Destination: &o.Seed, Usage: "seed of the samples, orders and coins"},
		&ucli.StringFlag{Name: "trials-log", Destination: &o.TrialsLog, Usage: "JSON Lines `PATH` of every judgment and transcript (default OUTPUT.trials.jsonl)"},
		&ucli.StringFlag{Name: "answers", Destination: &o.Answers, Usage: "also write the models' fresh answers of the discriminative pairs as a generations `TABLE` (labels A and B; ids in the trials log), e.g. for mbd-model score; with --recorded, the recorded rows of the judged pairs"},
	}
	flags = append(flags, o.Labels.Flags()...)
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-validate",
		Usage: "test hypotheses on held-out prompts with fresh (or recorded) samples of both models",
		Description: `Tests every hypothesis of --hypotheses on the validation split of --prompts with fresh answers of
--model-a and --model-b: discriminative (blinded pairs, both orders), generative (assistant-written
texts scored by both models) and interactive (the judge questions a hidden model). p-values of the
whole run are corrected together; a hypothesis is validated at q <= --alpha.

The discriminative and interactive tests are sequential: each hypothesis plans how many pairs
(trials) it needs for power 0.8 from how often the property appeared in its discovery texts, up to
--max-pairs (--trials), and tests in looks of 10, 20, 40, ... pairs with a group-sequential sign
test: a strong difference stops after few judge calls, a weak one uses as many held-out prompts as
it needs, and one with no lean toward the hypothesis by half its plan stops (p = 1). The
validations table records the plan, the looks and why testing stopped.

With --recorded, the answers are the validation-split texts of generations tables (mbd-gen run, or
mbd-gen import of a CSV/JSONL export) instead of fresh ones: the models are picked by label as
mbd-hypo picks them (--a, --b; by default the two labels, sorted), sample s of A to a prompt is
paired with sample s of B, and pairs missing on either side are dropped and counted in the log and
the manifest. --prompts is optional (when given, the recorded tables must agree with its splits).
The generative test needs --model-a and --model-b to score texts (else it is unavailable); the
interactive test, which asks the models new questions, is unavailable and not counted in the
corrections. On the same texts, recorded validation gives the statistics a live run gives.

Examples:
  mbd-validate --hypotheses h.parquet --prompts prompts.parquet --model-a gguf:base.gguf --model-b gguf:tuned.gguf -o v.parquet
  mbd-validate --assistant openai:gpt-4o-mini --budget 5 --methods discriminative --hypotheses h.parquet --prompts p.parquet --model-a synth:base --model-b synth:animal=0.6 -o v.parquet
  mbd-validate --hypotheses h.parquet --recorded gens-a.parquet --recorded gens-b.parquet -o v.parquet --answers answers.parquet
  mbd-validate --hypotheses h.parquet --recorded gens.parquet --a base --b tuned --model-a gguf:base.gguf --model-b gguf:tuned.gguf -o v.parquet`,
		Flags:  append(flags, o.Assistant.Flags()...),
		Action: cli.Action(o, nil, Run),
	}, args, stdio)
}

// methods returns the tests --methods names, in the order given.
func (o Options) methods() ([]string, error) {
	var out []string
	for _, m := range strings.Split(o.Methods, ",") {
		m = strings.TrimSpace(m)
		if m != schema.MethodDiscriminative && m != schema.MethodGenerative && m != schema.MethodInteractive {
			return nil, cli.Usagef("--methods: unknown test %q (want %s)", m, strings.Join(validate.Methods, ", "))
		}
		out = append(out, m)
	}
	return out, nil
}

// trialsLog is where the trials log goes: --trials-log, by default next to the output ("" when
// the output is standard output and no --trials-log is given).
func (o Options) trialsLog() string {
	if o.TrialsLog == "" && o.Output != "-" && o.Output != "" {
		return o.Output + ".trials.jsonl"
	}
	return o.TrialsLog
}

// Validate checks the options before any work.
func (o Options) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	if len(o.Recorded) == 0 {
		c.Must(o.Hypotheses != "" && o.Prompts != "", "give --hypotheses and --prompts")
		c.Must(o.ModelA != "" && o.ModelB != "", "give --model-a and --model-b (model references), or --recorded tables of their answers")
		c.Must(o.Labels.A == "" && o.Labels.B == "", "--a and --b name the models of --recorded tables: give --recorded")
	} else {
		c.Must(o.Hypotheses != "", "give --hypotheses")
		c.Must((o.ModelA == "") == (o.ModelB == ""), "with --recorded, give both --model-a and --model-b (to score texts in the generative test) or neither")
		c.Add(o.Labels.Validate())
	}
	if o.ModelA != "" && o.ModelB != "" {
		c.Add(cli.BadRef("--model-a", backends.Check(o.ModelA)))
		c.Add(cli.BadRef("--model-b", backends.Check(o.ModelB)))
	}
	_, err := o.methods()
	c.Add(err)
	c.OneOf("--correction", o.Correction, validate.CorrectionBH, validate.CorrectionHolm)
	c.Count("--max-pairs", o.MaxPairs, 0)
	c.Count("--samples-per-prompt", o.Samples, 0)
	c.Count("--judge-batch", o.JudgeBatch, 1)
	c.Count("--exemplars", o.Exemplars, 0)
	c.Count("--trials", o.Trials, 0)
	c.Count("--rounds", o.Rounds, 1)
	c.Count("--min-valid", o.MinValid, 1)
	c.Open("--alpha", o.Alpha, 0, 1)
	c.Sampling(o.Temperature, o.MaxTokens)
	o.Assistant.Check(&c)
	var p cli.Paths
	p.In("--hypotheses", o.Hypotheses)
	p.In("--prompts", o.Prompts)
	p.In("--recorded", o.Recorded...)
	p.Shared("--model-a", backends.LocalFiles(o.ModelA)...)
	p.Shared("--model-b", backends.LocalFiles(o.ModelB)...)
	p.Shared("--assistant", backends.LocalFiles(o.Assistant.Ref)...)
	p.Out("-o", o.Output)
	p.Out("--trials-log", o.trialsLog())
	p.Out("--answers", o.Answers)
	c.Add(p.Err())
	return c.Err()
}

// Run reads the inputs, runs the tests and writes the outputs.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	methods, err := o.methods()
	if err != nil {
		return err
	}
	hyps, err := cli.ReadTable[schema.Hypothesis](env, o.Hypotheses)
	if err != nil {
		return err
	}
	var ps []schema.Prompt
	if o.Prompts != "" {
		if ps, err = cli.ReadTable[schema.Prompt](env, o.Prompts); err != nil {
			return err
		}
	}
	var rec *validate.Recorded
	val := validate.ValidationSplit(ps)
	if len(o.Recorded) > 0 {
		if rec, err = readRecorded(env, o, ps); err != nil {
			return err
		}
		val = rec.Prompts
	} else if len(val) == 0 && len(hyps) > 0 {
		return &table.InputError{Path: o.Prompts, Column: "split", Msg: "has no validation-split prompts (make them with mbd-prompts --validation-fraction)"}
	}
	if err := validate.CheckHypotheses(o.Hypotheses, hyps); err != nil {
		return err
	}

	sess, err := roles.Open(roles.Options(o.Assistant), env.Log)
	if err != nil {
		return cli.BadRef("--assistant", err)
	}
	defer sess.Close()
	var ma, mb llm.Model // nil on recorded answers without scoring models
	for _, m := range []struct {
		flag  string
		ref   *string
		model *llm.Model
	}{{"--model-a", &o.ModelA, &ma}, {"--model-b", &o.ModelB, &mb}} {
		if *m.ref == "" {
			continue
		}
		// An hf: model is downloaded first and recorded pinned to its commit.
		f, err := backends.Fetch(ctx, *m.ref, env.Log)
		if err != nil {
			return cli.BadRef(m.flag, err)
		}
		*m.ref = f.Ref
		opened, err := backends.Open(*m.ref)
		if err != nil {
			return cli.BadRef(m.flag, err)
		}
		defer opened.Close()
		*m.model = opened
	}
	if len(hyps) == 0 {
		env.Log.Warn("no hypotheses: writing an empty validations table", "hypotheses", o.Hypotheses)
	}
	samples := max(1, o.Samples)
	switch {
	case rec != nil && o.MaxPairs > rec.Counts.Pairs:
		env.Log.Warn("fewer recorded pairs than --max-pairs: using them all", "recorded_pairs", rec.Counts.Pairs, "max_pairs", o.MaxPairs)
	case rec == nil && (o.MaxPairs > len(val)*samples || o.Exemplars > len(val)):
		env.Log.Warn("fewer validation prompts than asked for: using them all", "validation_prompts", len(val), "samples_per_prompt", samples, "max_pairs", o.MaxPairs, "exemplars", o.Exemplars)
	}
	if rec != nil && slices.Contains(methods, schema.MethodInteractive) {
		env.Log.Warn("interactive test unavailable on recorded answers: "+validate.InteractiveRecorded+" (not counted in the corrections)", "hypotheses", len(hyps))
	}

	p := validate.Params{Methods: methods, MaxPairs: o.MaxPairs, SamplesPerPrompt: samples, Exemplars: o.Exemplars, Trials: o.Trials, Rounds: o.Rounds,
		MinValid: o.MinValid, Alpha: o.Alpha, Correction: o.Correction,
		Sampling: llm.Sampling{Temperature: o.Temperature, MaxTokens: o.MaxTokens},
		Seed:     o.Seed, Baseline: !o.NoBaseline && !o.Assistant.Builtin(), Concurrency: o.Assistant.Concurrency, JudgeBatch: o.JudgeBatch}
	bar := env.Progress("validating", "hypotheses", int64(len(hyps)))
	var res validate.Result
	if rec != nil {
		res, err = validate.RunRecorded(ctx, sess, ma, mb, hyps, rec, p, env.Log, func() { bar.Add(1) })
	} else {
		res, err = validate.Run(ctx, sess, ma, mb, hyps, val, p, env.Log, func() { bar.Add(1) })
	}
	if err != nil {
		return err
	}
	bar.Done()

	if path := o.trialsLog(); path != "" {
		if err := validate.WriteTrials(path, res.Trials); err != nil {
			return err
		}
	}
	if o.Answers != "" {
		aw, err := table.Create[schema.Generation](o.Answers, nil)
		if err != nil {
			return err
		}
		defer aw.Abort()
		if err := aw.Write(res.Answers...); err != nil {
			return err
		}
		if err := aw.Commit(); err != nil {
			return err
		}
		if err := env.Manifest.WriteFor(o.Answers, schema.Generations.ID(), aw.Rows()); err != nil {
			return err
		}
	}
	m := env.Manifest
	m.Param("model_a", o.ModelA)
	m.Param("model_b", o.ModelB)
	m.Param("assistant", sess.Ref())
	m.Param("assistant_usage", sess.Usage())
	m.Param("methods", o.Methods)
	m.Param("alpha", o.Alpha)
	m.Param("correction", o.Correction)
	m.Param("judge_batch", o.JudgeBatch)
	m.Param("budget_reached", res.BudgetReached)
	if rec != nil {
		c := rec.Counts
		m.Param("recorded", o.Recorded)
		m.Param("a", rec.A)
		m.Param("b", rec.B)
		m.Param("recorded_prompts", c.Prompts)
		m.Param("recorded_pairs", c.Pairs)
		m.Param("recorded_only_a", c.OnlyA)
		m.Param("recorded_only_b", c.OnlyB)
		m.Param("recorded_unmatched_a", c.UnmatchedA)
		m.Param("recorded_unmatched_b", c.UnmatchedB)
		m.Param("recorded_over_samples", c.OverCap)
	}
	m.Seed("validate", o.Seed)
	if err := cli.WriteTable(env, o.Output, res.Rows); err != nil {
		return err
	}
	validated := schema.ValidatedIDs(res.Rows)
	u := sess.Usage()
	env.Log.Info("validated", "hypotheses", len(hyps), "validated", len(validated), "tests", len(res.Rows),
		"calls", u.Calls, "cache_hits", u.CacheHits, "cost", fmt.Sprintf("$%.4f", u.Cost), "output", o.Output)
	if o.Output != "-" {
		printSummary(env, hyps, res.Rows, validated, o.Alpha)
	}
	if res.BudgetReached {
		return fmt.Errorf("stopped at the assistant budget ($%.2f): %w", o.Assistant.Budget, assistant.ErrBudget)
	}
	return nil
}

// readRecorded reads the --recorded tables, picks models A and B by label (--a, --b, else the
// two labels sorted, as mbd-hypo does), refuses labels the other way round from those the
// hypotheses were proposed with (their manifest), and pairs the two models' validation answers.
func readRecorded(env *cli.Env, o Options, ps []schema.Prompt) (*validate.Recorded, error) {
	var rows []validate.RecordedAnswer
	present := map[string]bool{}
	err := cli.ReadGenerations(env, o.Recorded, func(path string, g schema.Generation) error {
		present[g.Model] = true
		rows = append(rows, validate.RecordedAnswer{Path: path, Generation: g})
		return nil
	})
	if err != nil {
		return nil, err
	}
	a, b, err := o.Labels.Pick(present, o.Recorded[0])
	if err != nil {
		return nil, err
	}
	if err := checkLabels(o.Hypotheses, a, b); err != nil {
		return nil, err
	}
	var ra, rb []validate.RecordedAnswer
	for _, r := range rows {
		switch r.Model {
		case a:
			ra = append(ra, r)
		case b:
			rb = append(rb, r)
		}
	}
	if n := len(rows) - len(ra) - len(rb); n > 0 {
		env.Log.Info("left out the recorded rows of other models", "rows", n)
	}
	rec, err := validate.PairRecorded(ra, rb, ps, o.Prompts, o.Samples)
	if err != nil {
		return nil, err
	}
	c := rec.Counts
	env.Log.Info("recorded answers", "a", a, "b", b, "prompts", c.Prompts, "pairs", c.Pairs, "most_samples_per_prompt", rec.Samples())
	if c.OnlyA+c.OnlyB+c.UnmatchedA+c.UnmatchedB+c.OverCap+c.Unanswered > 0 {
		env.Log.Warn("recorded answers left out of the pairs", "prompts_only_a", c.OnlyA, "prompts_only_b", c.OnlyB,
			"samples_a_without_b", c.UnmatchedA, "samples_b_without_a", c.UnmatchedB, "pairs_over_samples_per_prompt", c.OverCap, "prompts_unanswered", c.Unanswered)
	}
	return rec, nil
}

// checkLabels refuses labels a and b when the hypotheses' manifest says mbd-hypo took them the
// other way round (a hypothesis's direction B>A would then be tested as A>B). Without a manifest,
// or with other labels, there is nothing to compare.
func checkLabels(hypotheses, a, b string) error {
	if hypotheses == "-" {
		return nil
	}
	m, err := manifest.Read(hypotheses + ".json")
	if err != nil {
		return nil
	}
	ha, _ := m.Params["a"].(string)
	hb, _ := m.Params["b"].(string)
	if ha == b && hb == a {
		return &table.InputError{Path: hypotheses, Msg: fmt.Sprintf("was proposed with A=%q and B=%q (its manifest), but the recorded tables give A=%q and B=%q: give --a %s --b %s", ha, hb, a, b, ha, hb)}
	}
	return nil
}

func printSummary(env *cli.Env, hyps []schema.Hypothesis, rows []schema.Validation, validated map[string]bool, alpha float64) {
	fmt.Fprintf(env.Stdout, "%d of %d hypotheses validated (q <= %g)\n", len(validated), len(hyps), alpha)
	for _, h := range hyps {
		var parts []string
		for _, r := range rows {
			if r.HypothesisID != h.ID {
				continue
			}
			if r.Verdict == schema.VerdictUnavailable {
				parts = append(parts, r.Method+" n/a")
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s=%.2f q=%.3g", r.Method, r.StatName, r.Statistic, r.Q))
		}
		mark := "  "
		if validated[h.ID] {
			mark = "✓ "
		}
		fmt.Fprintf(env.Stdout, "%s%s  %s\n     %s\n", mark, h.ID, h.Text, strings.Join(parts, "; "))
	}
}
