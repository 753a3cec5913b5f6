// Package validate is mbd-validate: hypotheses + held-out prompts + the two models → validations.
//
// Only validation-split prompts and fresh samples are used (a hypothesis is written from
// discovery-split texts, so the texts it was written from never validate it). Three tests, each a
// row of the validations table:
//
//   - discriminative: for each of --pairs validation prompts, A's and B's fresh answers form a pair;
//     the judge sees the property (never a model name) and the pair, in a seeded random order, and
//     again in the other order. A pair counts for the hypothesis when both orders pick the answer of
//     the model the hypothesis says shows the property more, against it when both pick the other,
//     and as a tie when the orders disagree (position bias) or the judge says "same"; a pair with
//     an invalid answer is excluded and counted in n_invalid. Statistic: accuracy over decided
//     pairs with an exact two-sided binomial (sign) test; effect: the paired AUC − 0.5 (ties count
//     one half) with a percentile-bootstrap 95% CI. Baseline: the same judge on the same pairs with
//     a generic property instead of the hypothesis ("differs from what a typical assistant would
//     write", oriented to the model the hypothesis favours); the lift is accuracy − baseline.
//   - generative: for each of --exemplars validation prompts the assistant rewrites model A's fresh
//     answer into a minimal pair — one text that shows the property, one that does not (the
//     builtin inserts a quoted term or, as a control, a word of the same answer) — and both models
//     score both texts given the prompt. With Δ = log p_B − log p_A (summed over tokens), oriented
//     so the hypothesis predicts Δ(shows) > Δ(not), the per-prompt difference is tested with the
//     two-sided Wilcoxon signed-rank test (a paired test: prompts differ far more than the pair's two
//     texts do); the effect is the mean paired difference with a bootstrap CI, the statistic the
//     share of prompts where it is positive. Unavailable when the assistant cannot write texts for
//     the property or a model cannot score (hosted APIs, synth).
//   - interactive: in each of --trials trials a seeded coin hides A or B; the judge, knowing only
//     the property, asks --rounds questions (held-out prompts offered) and says whether the hidden
//     model shows it; correct when that matches the hidden model. Exact binomial test.
//
// Error control is per hypothesis (see adjust): each hypothesis's tests are combined by Holm, and
// the combined p-values of the run are corrected together (Benjamini-Hochberg, or Holm with
// --correction holm). A test validates its hypothesis when q ≤ --alpha and the effect points the
// stated way; fewer than --min-valid valid trials make it invalid. Every judgment, the order shown,
// and every transcript go to the trials log (JSON Lines) next to the output.
package validate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	ucli "github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
	"github.com/mbd-dev/mbd/internal/table"
)

// Methods.
const (
	Discriminative = "discriminative"
	Generative     = "generative"
	Interactive    = "interactive"
)

// BaselineProperty is what the no-hypothesis judge is asked about.
const BaselineProperty = "differs from what a typical AI assistant would write"

// Main is mbd-validate.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output validations table (`PATH` or -)"},
		&ucli.StringFlag{Name: "hypotheses", Usage: "hypotheses `TABLE` from mbd-hypo"},
		&ucli.StringFlag{Name: "prompts", Usage: "prompts `TABLE` (its validation split is used)"},
		&ucli.StringFlag{Name: "model-a", Usage: "model A `REF` (gguf:PATH, openai-compat:URL#MODEL, openai:MODEL, synth:SPEC)"},
		&ucli.StringFlag{Name: "model-b", Usage: "model B `REF`"},
		&ucli.StringFlag{Name: "methods", Value: "discriminative,generative,interactive", Usage: "tests to run, comma-separated"},
		&ucli.IntFlag{Name: "pairs", Value: 50, Usage: "discriminative: validation prompts (one pair each)"},
		&ucli.BoolFlag{Name: "no-baseline", Usage: "discriminative: skip the no-hypothesis baseline judge (builtin has none)"},
		&ucli.IntFlag{Name: "exemplars", Value: 20, Usage: "generative: prompts (one text that shows the property and one that does not, each)"},
		&ucli.IntFlag{Name: "trials", Value: 20, Usage: "interactive: trials"},
		&ucli.IntFlag{Name: "rounds", Value: 3, Usage: "interactive: questions per trial"},
		&ucli.Float64Flag{Name: "alpha", Value: 0.05, Usage: "level: validated when q <= alpha"},
		&ucli.StringFlag{Name: "correction", Value: "bh", Usage: "bh (Benjamini-Hochberg) or holm"},
		&ucli.IntFlag{Name: "min-valid", Value: 5, Usage: "least valid trials for a verdict (else invalid)"},
		&ucli.Float64Flag{Name: "temperature", Value: 0.7, Usage: "sampling temperature of the models' fresh answers"},
		&ucli.IntFlag{Name: "max-tokens", Value: 256, Usage: "most tokens of a model answer"},
		&ucli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the samples, orders and coins"},
		&ucli.StringFlag{Name: "trials-log", Usage: "JSON Lines `PATH` of every judgment and transcript (default OUTPUT.trials.jsonl)"},
		&ucli.StringFlag{Name: "answers", Usage: "also write the models' fresh answers of the discriminative pairs as a generations `TABLE` (labels A and B; ids in the trials log), e.g. for mbd-model score"},
	}
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-validate",
		Usage: "test hypotheses on held-out prompts with fresh samples of both models",
		Description: `Tests every hypothesis of --hypotheses on the validation split of --prompts with fresh answers of
--model-a and --model-b: discriminative (blinded pairs, both orders), generative (assistant-written
texts scored by both models) and interactive (the judge questions a hidden model). p-values of the
whole run are corrected together; a hypothesis is validated at q <= --alpha.

Examples:
  mbd-validate --hypotheses h.parquet --prompts prompts.parquet --model-a gguf:base.gguf --model-b gguf:tuned.gguf -o v.parquet
  mbd-validate --assistant openai:gpt-4o-mini --budget 5 --methods discriminative --hypotheses h.parquet --prompts p.parquet --model-a synth:base --model-b synth:animal=0.6 -o v.parquet`,
		Flags:  append(flags, roles.Flags()...),
		Action: run,
	}, args, stdio)
}

type config struct {
	pairs, exemplars, trials, rounds, minValid int
	alpha                                      float64
	sampling                                   llm.Sampling
	seed                                       uint64
	baseline                                   bool
}

// trialLog is one line of the trials log.
type trialLog struct {
	Hypothesis string       `json:"hypothesis_id"`
	Method     string       `json:"method"`
	PromptID   string       `json:"prompt_id,omitempty"`
	Trial      int          `json:"trial"`
	BFirst     *bool        `json:"b_first,omitempty"` // discriminative: B's answer shown first in the first order
	AID        string       `json:"a_id,omitempty"`    // discriminative: generation ids of the pair's answers (--answers)
	BID        string       `json:"b_id,omitempty"`
	Verdicts   []string     `json:"verdicts,omitempty"`
	Outcome    string       `json:"outcome,omitempty"` // for, against, tie, invalid; correct, wrong
	Hidden     string       `json:"hidden,omitempty"`
	Turns      []roles.Turn `json:"turns,omitempty"`
	Texts      []string     `json:"texts,omitempty"`
	Delta      *float64     `json:"delta,omitempty"`
	Baseline   bool         `json:"baseline,omitempty"`
}

func run(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, hp, pp := cmd.String("output"), cmd.String("hypotheses"), cmd.String("prompts")
	switch {
	case out == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case hp == "" || pp == "":
		return cli.Usagef("give --hypotheses and --prompts")
	case cmd.String("model-a") == "" || cmd.String("model-b") == "":
		return cli.Usagef("give --model-a and --model-b (model references)")
	}
	methods := map[string]bool{}
	for _, m := range strings.Split(cmd.String("methods"), ",") {
		m = strings.TrimSpace(m)
		if m != Discriminative && m != Generative && m != Interactive {
			return cli.Usagef("--methods: unknown test %q (want discriminative, generative, interactive)", m)
		}
		methods[m] = true
	}
	correction := cmd.String("correction")
	if correction != "bh" && correction != "holm" {
		return cli.Usagef("--correction %q: want bh or holm", correction)
	}
	cfg := config{pairs: int(cmd.Int("pairs")), exemplars: int(cmd.Int("exemplars")), trials: int(cmd.Int("trials")),
		rounds: int(cmd.Int("rounds")), minValid: int(cmd.Int("min-valid")), alpha: cmd.Float64("alpha"),
		sampling: llm.Sampling{Temperature: cmd.Float64("temperature"), MaxTokens: int(cmd.Int("max-tokens"))},
		seed:     cmd.Uint64("seed"), baseline: !cmd.Bool("no-baseline") && cmd.String("assistant") != roles.BuiltinRef}
	if !(cfg.alpha > 0 && cfg.alpha < 1) {
		return cli.Usagef("--alpha %v: want a level in (0, 1)", cfg.alpha)
	}
	if cfg.pairs < 0 || cfg.exemplars < 0 || cfg.trials < 0 || cfg.rounds < 1 || cfg.minValid < 1 {
		return cli.Usagef("--pairs, --exemplars and --trials must be at least 0, --rounds and --min-valid at least 1")
	}

	hyps, err := table.ReadAll[schema.Hypothesis](hp, env.Stdin)
	if err != nil {
		return err
	}
	if len(hyps) == 0 {
		env.Log.Warn("no hypotheses: writing an empty validations table", "hypotheses", hp)
	}
	ps, err := table.ReadAll[schema.Prompt](pp, nil)
	if err != nil {
		return err
	}
	var val []schema.Prompt
	for _, p := range ps {
		if p.Split == prompts.Validation {
			val = append(val, p)
		}
	}
	if len(val) == 0 && len(hyps) > 0 {
		return &table.InputError{Path: pp, Column: "split", Msg: "has no validation-split prompts (make them with mbd-prompts --validation-fraction)"}
	}
	if n := max(cfg.pairs, cfg.exemplars); n > len(val) {
		env.Log.Warn("fewer validation prompts than asked for: using them all", "validation_prompts", len(val), "pairs", cfg.pairs, "exemplars", cfg.exemplars)
	}
	for _, h := range hyps {
		if h.Direction != "B>A" && h.Direction != "A>B" {
			return &table.InputError{Path: hp, Column: "direction", Msg: fmt.Sprintf("hypothesis %s has direction %q (want B>A or A>B)", h.ID, h.Direction)}
		}
	}

	sess, err := roles.Open(cmd, env.Log)
	if err != nil {
		return err
	}
	defer sess.Close()
	ma, err := backends.Open(cmd.String("model-a"))
	if err != nil {
		return err
	}
	defer ma.Close()
	mb, err := backends.Open(cmd.String("model-b"))
	if err != nil {
		return err
	}
	defer mb.Close()

	logPath := cmd.String("trials-log")
	if logPath == "" && out != "-" {
		logPath = out + ".trials.jsonl"
	}
	v := &validator{cfg: cfg, as: sess, ma: ma, mb: mb, val: val, conc: max(1, int(cmd.Int("concurrency"))), answers: map[answerKey]string{}}
	if len(hyps) > 0 {
		n := 0
		if methods[Discriminative] {
			n = cfg.pairs
		}
		if methods[Generative] {
			n = max(n, cfg.exemplars)
		}
		if err := v.prefetch(ctx, n); err != nil {
			return err
		}
	}
	var rows []schema.Validation
	budgetHit := false
	bar := env.Progress("validating", "hypotheses", int64(len(hyps)))
	for _, h := range hyps {
		for _, m := range []string{Discriminative, Generative, Interactive} {
			if !methods[m] || budgetHit {
				continue
			}
			row, err := v.test(ctx, m, h)
			if errors.Is(err, assistant.ErrBudget) {
				env.Log.Warn("assistant budget reached: writing the tests finished so far; rerun with a larger --budget to go on (answers so far are cached)")
				budgetHit = true
				continue
			}
			if err != nil {
				return fmt.Errorf("hypothesis %s, %s test: %w", h.ID, m, err)
			}
			row.Judge = sess.Ref()
			rows = append(rows, row)
		}
		bar.Add(1)
	}
	bar.Done()
	if err := adjust(rows, correction, cfg); err != nil {
		return err
	}

	if logPath != "" {
		if err := writeLog(logPath, v.log); err != nil {
			return err
		}
	}
	if ap := cmd.String("answers"); ap != "" {
		aw, err := table.Create[schema.Generation](ap, nil)
		if err != nil {
			return err
		}
		defer aw.Abort()
		if err := aw.Write(v.pairAnswers()...); err != nil {
			return err
		}
		if err := aw.Commit(); err != nil {
			return err
		}
		if err := env.Manifest.WriteFor(ap, schema.Generations.ID(), aw.Rows()); err != nil {
			return err
		}
	}
	w, err := table.Create[schema.Validation](out, env.Stdout)
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
	m := env.Manifest
	m.Param("model_a", cmd.String("model-a"))
	m.Param("model_b", cmd.String("model-b"))
	m.Param("assistant", sess.Ref())
	m.Param("assistant_usage", sess.Usage())
	m.Param("methods", cmd.String("methods"))
	m.Param("alpha", cfg.alpha)
	m.Param("correction", correction)
	m.Param("budget_reached", budgetHit)
	m.Seed("validate", cfg.seed)
	if err := m.WriteFor(out, schema.Validations.ID(), w.Rows()); err != nil {
		return err
	}
	validated := map[string]bool{}
	for _, r := range rows {
		if r.Verdict == "validated" {
			validated[r.HypothesisID] = true
		}
	}
	u := sess.Usage()
	env.Log.Info("validated", "hypotheses", len(hyps), "validated", len(validated), "tests", len(rows),
		"calls", u.Calls, "cache_hits", u.CacheHits, "cost", fmt.Sprintf("$%.4f", u.Cost), "output", out)
	if out != "-" {
		printSummary(env, hyps, rows, validated, cfg.alpha)
	}
	if budgetHit {
		return fmt.Errorf("stopped at the assistant budget ($%.2f): %w", cmd.Float64("budget"), assistant.ErrBudget)
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
			if r.Verdict == "unavailable" {
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

func writeLog(path string, lines []trialLog) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	enc := json.NewEncoder(f)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return f.Commit()
}

// adjust fills q and verdicts. The claim mbd makes is per hypothesis ("validated on at least one
// test"), so error control is per hypothesis, in two stages: each hypothesis's tests are combined by
// Holm (its combined p is its smallest Holm-adjusted p, i.e. Bonferroni's min-p — valid whatever
// the dependence between its tests), then the combined p-values of all hypotheses are corrected
// together (Benjamini-Hochberg, or Holm). A test's q is the larger of its hypothesis's q and its
// own within-hypothesis Holm-adjusted p, so a test is validated (q ≤ α, effect in the stated
// direction) only when its hypothesis passes the run-wide correction and the test passes the
// within-hypothesis one. (Correcting all tests together instead would let a hypothesis with a true
// effect and three tests add three rejections to the Benjamini-Hochberg count, loosening the
// threshold for the others.)
func adjust(rows []schema.Validation, correction string, cfg config) error {
	byHyp := map[string][]int{}
	var order []string
	for i, r := range rows {
		rows[i].Q, rows[i].Correction, rows[i].Alpha = math.NaN(), correction, cfg.alpha
		if math.IsNaN(r.P) {
			continue
		}
		if _, ok := byHyp[r.HypothesisID]; !ok {
			order = append(order, r.HypothesisID)
		}
		byHyp[r.HypothesisID] = append(byHyp[r.HypothesisID], i)
	}
	within := make(map[int]float64, len(rows))
	combined := make([]float64, len(order))
	for k, id := range order {
		idx := byHyp[id]
		ps := make([]float64, len(idx))
		for j, i := range idx {
			ps[j] = rows[i].P
		}
		adj, err := stats.HolmAdjust(ps)
		if err != nil {
			return err
		}
		combined[k] = 1
		for j, i := range idx {
			within[i] = adj[j]
			combined[k] = math.Min(combined[k], adj[j])
		}
	}
	var qs []float64
	var err error
	if correction == "holm" {
		qs, err = stats.HolmAdjust(combined)
	} else {
		qs, err = stats.BHAdjust(combined)
	}
	if err != nil {
		return err
	}
	for k, id := range order {
		for _, i := range byHyp[id] {
			r := &rows[i]
			r.Q = math.Max(qs[k], within[i])
			switch {
			case r.Verdict != "":
				// invalid already
			case r.Q <= cfg.alpha && r.Effect > 0:
				r.Verdict = "validated"
			default:
				r.Verdict = "rejected"
			}
		}
	}
	return nil
}

type answerKey struct {
	b      bool
	prompt string
	seed   uint64
}

type validator struct {
	cfg    config
	as     roles.Session
	ma, mb llm.Model
	val    []schema.Prompt
	conc   int

	mu      sync.Mutex
	answers map[answerKey]string // fresh answers, shared by every hypothesis
	log     []trialLog
}

func (v *validator) addLog(l ...trialLog) {
	v.mu.Lock()
	v.log = append(v.log, l...)
	v.mu.Unlock()
}

// seedOf hashes the run seed with labels into a seed.
func seedOf(base uint64, parts ...string) uint64 {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, base)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// answerID is the generation id of a model's fresh answer to a discriminative pair's prompt.
func answerID(seed uint64, label, promptID string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("mbd-validate\x00%d\x00%s\x00%s", seed, label, promptID)))
	return hex.EncodeToString(h[:8])
}

// pairAnswers returns the fresh answers of the discriminative pairs as generations rows.
func (v *validator) pairAnswers() []schema.Generation {
	var out []schema.Generation
	for _, p := range v.val[:min(v.cfg.pairs, len(v.val))] {
		for _, b := range []bool{false, true} {
			label, m := "A", v.ma
			if b {
				label, m = "B", v.mb
			}
			seed := seedOf(v.cfg.seed, label, p.ID)
			text, ok := v.answers[answerKey{b, p.Text, seed}]
			if !ok {
				continue
			}
			out = append(out, schema.Generation{ID: answerID(v.cfg.seed, label, p.ID), Model: label, ModelRef: m.Info().Ref, PromptID: p.ID,
				Split: p.Split, Seed: int64(seed), Prompt: p.Text, Completion: text, FinishReason: "unknown"})
		}
	}
	return out
}

// prefetch generates, in one batch per model, the fresh answers the discriminative pairs and the
// generative test's base texts use (a backend batches them far better than one at a time).
func (v *validator) prefetch(ctx context.Context, n int) error {
	var keys []answerKey
	for _, b := range []bool{false, true} {
		label := map[bool]string{false: "A", true: "B"}[b]
		for _, p := range v.val[:min(n, len(v.val))] {
			keys = append(keys, answerKey{b, p.Text, seedOf(v.cfg.seed, label, p.ID)})
		}
	}
	return v.generateBatch(ctx, keys)
}

// generateBatch generates the answers of keys not memoised yet, one batch per model.
func (v *validator) generateBatch(ctx context.Context, keys []answerKey) error {
	for _, b := range []bool{false, true} {
		m := v.ma
		if b {
			m = v.mb
		}
		var reqs []llm.GenRequest
		byID := map[string]answerKey{}
		v.mu.Lock()
		for _, k := range keys {
			id := fmt.Sprintf("%d", len(reqs))
			if _, done := v.answers[k]; done || k.b != b {
				continue
			}
			reqs = append(reqs, llm.GenRequest{ID: id, Prompt: k.prompt, Seed: k.seed})
			byID[id] = k
		}
		v.mu.Unlock()
		if len(reqs) == 0 {
			continue
		}
		err := m.Generate(ctx, reqs, v.cfg.sampling, func(r llm.GenResult) error {
			v.mu.Lock()
			v.answers[byID[r.ID]] = r.Completion
			v.mu.Unlock()
			return nil
		})
		if err != nil {
			return fmt.Errorf("model %s: %w", m.Info().Ref, err)
		}
	}
	return nil
}

// answer returns model A's or B's fresh answer to prompt (memoised: every hypothesis judges the
// same pairs).
func (v *validator) answer(ctx context.Context, b bool, prompt string, seed uint64) (string, error) {
	k := answerKey{b, prompt, seed}
	if err := v.generateBatch(ctx, []answerKey{k}); err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.answers[k], nil
}

func (v *validator) test(ctx context.Context, method string, h schema.Hypothesis) (schema.Validation, error) {
	switch method {
	case Discriminative:
		return v.discriminative(ctx, h)
	case Generative:
		return v.generative(ctx, h)
	}
	return v.interactive(ctx, h)
}

// forB reports whether the hypothesis says B shows the property more.
func forB(h schema.Hypothesis) bool { return h.Direction == "B>A" }

func (v *validator) discriminative(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	n := min(v.cfg.pairs, len(v.val))
	type res struct{ out, base string }
	results := make([]res, n)
	logs := make([]trialLog, 0, 2*n)
	var logMu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.conc)
	for i := range n {
		p := v.val[i]
		g.Go(func() error {
			a, err := v.answer(gctx, false, p.Text, seedOf(v.cfg.seed, "A", p.ID))
			if err != nil {
				return err
			}
			b, err := v.answer(gctx, true, p.Text, seedOf(v.cfg.seed, "B", p.ID))
			if err != nil {
				return err
			}
			bFirst := seedOf(v.cfg.seed, "order", h.ID, p.ID)&1 == 1
			outcome, verdicts, err := v.judgeBothOrders(gctx, h.Property, p.Text, a, b, bFirst, forB(h))
			if err != nil {
				return err
			}
			results[i].out = outcome
			l := []trialLog{{Hypothesis: h.ID, Method: Discriminative, PromptID: p.ID, Trial: i, BFirst: &bFirst, Verdicts: verdicts, Outcome: outcome,
				AID: answerID(v.cfg.seed, "A", p.ID), BID: answerID(v.cfg.seed, "B", p.ID)}}
			if v.cfg.baseline {
				// The baseline judge picks the answer that differs from a typical assistant's; it
				// scores for the hypothesis when that is B's answer (the model that changed).
				bo, bv, err := v.judgeBothOrders(gctx, BaselineProperty, p.Text, a, b, bFirst, true)
				if err != nil {
					return err
				}
				results[i].base = bo
				l = append(l, trialLog{Hypothesis: h.ID, Method: Discriminative, PromptID: p.ID, Trial: i, BFirst: &bFirst, Verdicts: bv, Outcome: bo, Baseline: true})
			}
			logMu.Lock()
			logs = append(logs, l...)
			logMu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return schema.Validation{}, err
	}
	slices.SortFunc(logs, func(x, y trialLog) int {
		if x.Trial != y.Trial {
			return x.Trial - y.Trial
		}
		return map[bool]int{false: 0, true: 1}[x.Baseline] - map[bool]int{false: 0, true: 1}[y.Baseline]
	})
	v.addLog(logs...)

	var forN, against, ties, invalid, bFor, bAgainst int
	var scores []float64
	for _, r := range results {
		switch r.out {
		case "for":
			forN++
			scores = append(scores, 1)
		case "against":
			against++
			scores = append(scores, 0)
		case "tie":
			ties++
			scores = append(scores, 0.5)
		default:
			invalid++
		}
		switch r.base {
		case "for":
			bFor++
		case "against":
			bAgainst++
		}
	}
	row := schema.Validation{HypothesisID: h.ID, Method: Discriminative, N: int64(len(scores)), NInvalid: int64(invalid),
		StatName: "accuracy", EffectName: "auc-0.5"}
	if len(scores) < v.cfg.minValid || forN+against == 0 {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), "invalid"
		if len(scores) >= v.cfg.minValid { // all ties: a valid test with no evidence
			row.P, row.Verdict = 1, ""
			row.Statistic, row.Effect, row.CILow, row.CIHigh = 0.5, 0, 0, 0
		}
		return row, nil
	}
	p, err := stats.BinomTest(forN, forN+against, 0.5)
	if err != nil {
		return row, err
	}
	auc := mean(scores)
	lo, hi, err := stats.BootstrapMeanCI(scores, 0.95, 2000, seedOf(v.cfg.seed, "ci", h.ID))
	if err != nil {
		return row, err
	}
	row.Statistic, row.P, row.Effect, row.CILow, row.CIHigh = float64(forN)/float64(forN+against), p, auc-0.5, lo-0.5, hi-0.5
	if bFor+bAgainst > 0 {
		// The baseline judge's accuracy at picking the model the hypothesis favours (its "for" is
		// picking B's answer), comparable with this test's accuracy.
		favoured := bFor
		if !forB(h) {
			favoured = bAgainst
		}
		b := float64(favoured) / float64(bFor+bAgainst)
		row.Baseline = &b
	}
	return row, nil
}

// judgeBothOrders judges the pair in the seeded order and in the other one. The outcome is for
// (both orders pick the answer of the model the property is said to favour), against (both pick
// the other), tie, or invalid.
func (v *validator) judgeBothOrders(ctx context.Context, property, prompt, a, b string, bFirst, favoursB bool) (string, []string, error) {
	first, second := a, b
	if bFirst {
		first, second = b, a
	}
	v1, err := v.as.JudgePair(ctx, property, prompt, first, second)
	if err != nil {
		return "", nil, err
	}
	v2, err := v.as.JudgePair(ctx, property, prompt, second, first)
	if err != nil {
		return "", nil, err
	}
	verdicts := []string{v1.String(), v2.String()}
	if v1 == roles.Invalid || v2 == roles.Invalid {
		return "invalid", verdicts, nil
	}
	// Which model each order's pick belongs to ("" for a tie).
	pick := func(vd roles.Verdict, firstIsB bool) string {
		switch {
		case vd == roles.Tie:
			return ""
		case (vd == roles.First) == firstIsB:
			return "B"
		}
		return "A"
	}
	p1, p2 := pick(v1, bFirst), pick(v2, !bFirst)
	want := "A"
	if favoursB {
		want = "B"
	}
	switch {
	case p1 == "" || p2 == "" || p1 != p2:
		return "tie", verdicts, nil
	case p1 == want:
		return "for", verdicts, nil
	}
	return "against", verdicts, nil
}

func (v *validator) generative(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	row := schema.Validation{HypothesisID: h.ID, Method: Generative, StatName: "share_positive", EffectName: "paired_shift_logp_b_minus_a"}
	nan := func(verdict string) {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), verdict
	}
	unavailable := func(why string) (schema.Validation, error) {
		nan("unavailable")
		v.addLog(trialLog{Hypothesis: h.ID, Method: Generative, Outcome: "unavailable: " + why})
		return row, nil
	}
	n := min(v.cfg.exemplars, len(v.val))
	if n == 0 {
		return unavailable("no validation prompts")
	}
	// Probe scoring first: no assistant calls for a test that cannot run.
	for _, m := range []llm.Model{v.ma, v.mb} {
		if _, err := m.Score(ctx, []llm.ScoreRequest{{ID: "probe", Prompt: v.val[0].Text, Completion: " ok"}}); errors.Is(err, llm.ErrCannotScore) {
			return unavailable(m.Info().Ref + " cannot score texts")
		} else if err != nil {
			return row, err
		}
	}
	// For each prompt, a minimal pair rewritten from A's fresh answer: [0] shows the property,
	// [1] does not.
	texts := make([][2]string, n)
	ok := make([][2]bool, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.conc)
	for i := range 2 * n {
		p, side := v.val[i/2], i%2
		g.Go(func() error {
			base, err := v.answer(gctx, false, p.Text, seedOf(v.cfg.seed, "A", p.ID))
			if err != nil {
				return err
			}
			t, good, err := v.as.Exemplify(gctx, h.Property, p.Text, base, side == 0)
			if err != nil {
				return err
			}
			texts[i/2][side], ok[i/2][side] = t, good
			return nil
		})
	}
	if err := g.Wait(); errors.Is(err, roles.ErrNotAvailable) {
		return unavailable("the assistant " + v.as.Ref() + " cannot write texts for this property")
	} else if err != nil {
		return row, err
	}
	var reqs []llm.ScoreRequest
	var pairs []int
	for i := range n {
		if !ok[i][0] || !ok[i][1] {
			row.NInvalid++
			continue
		}
		pairs = append(pairs, i)
		for side := range 2 {
			reqs = append(reqs, llm.ScoreRequest{ID: fmt.Sprintf("%d/%d", i, side), Prompt: v.val[i].Text, Completion: texts[i][side]})
		}
	}
	sumOf := func(m llm.Model) (map[string]float64, error) {
		res, err := m.Score(ctx, reqs)
		if err != nil {
			return nil, fmt.Errorf("scoring with %s: %w", m.Info().Ref, err)
		}
		out := map[string]float64{}
		for _, r := range res {
			out[r.ID] = r.Sum
		}
		if len(out) != len(reqs) {
			return nil, fmt.Errorf("scoring with %s: %d results for %d texts", m.Info().Ref, len(out), len(reqs))
		}
		return out, nil
	}
	sa, err := sumOf(v.ma)
	if err != nil {
		return row, err
	}
	sb, err := sumOf(v.mb)
	if err != nil {
		return row, err
	}
	// Δ(x) = log p_B(x) − log p_A(x), oriented so that the hypothesis predicts Δ(shows) > Δ(not).
	var dShows, dNot, diffs []float64
	positive := 0
	for _, i := range pairs {
		var d [2]float64
		for side := range 2 {
			id := fmt.Sprintf("%d/%d", i, side)
			d[side] = sb[id] - sa[id]
			if !forB(h) {
				d[side] = -d[side]
			}
		}
		dShows, dNot, diffs = append(dShows, d[0]), append(dNot, d[1]), append(diffs, d[0]-d[1])
		if d[0] > d[1] {
			positive++
		}
		delta := d[0] - d[1]
		v.addLog(trialLog{Hypothesis: h.ID, Method: Generative, PromptID: v.val[i].ID, Trial: i, Texts: []string{texts[i][0], texts[i][1]}, Delta: &delta})
	}
	row.N = int64(len(pairs))
	if len(pairs) < v.cfg.minValid {
		nan("invalid")
		return row, nil
	}
	lo, hi, err := stats.BootstrapMeanCI(diffs, 0.95, 2000, seedOf(v.cfg.seed, "ci", h.ID))
	if err != nil {
		return row, err
	}
	row.Statistic, row.Effect, row.CILow, row.CIHigh = float64(positive)/float64(len(pairs)), mean(diffs), lo, hi
	w, err := stats.WilcoxonSignedRank(dShows, dNot, stats.MethodAuto, true)
	switch {
	case err == nil:
		row.P = w.PValue
	case allZero(diffs): // identical scores (e.g. A and B are one model): no evidence either way
		row.P = 1
	default:
		return row, err
	}
	return row, nil
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

func (v *validator) interactive(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	row := schema.Validation{HypothesisID: h.ID, Method: Interactive, StatName: "accuracy", EffectName: "accuracy-0.5"}
	ref := roles.Reference{ShareA: math.NaN(), ShareB: math.NaN(), FavoursB: forB(h)}
	if h.ShareA != nil && h.ShareB != nil {
		ref.ShareA, ref.ShareB = *h.ShareA, *h.ShareB
	}
	type res struct {
		valid, correct bool
	}
	results := make([]res, v.cfg.trials)
	logs := make([]trialLog, v.cfg.trials)
	hiddenOf := func(t int) bool { return seedOf(v.cfg.seed, "coin", h.ID, fmt.Sprint(t))&1 == 1 }
	offeredOf := func(t int) []string {
		offered := make([]string, v.cfg.rounds)
		for r := range offered {
			offered[r] = v.val[(t*v.cfg.rounds+r)%len(v.val)].Text
		}
		return offered
	}
	askSeed := func(t int, q string) uint64 { return seedOf(v.cfg.seed, "interactive", h.ID, fmt.Sprint(t), q) }
	if _, builtin := v.as.Assistant.(roles.Builtin); builtin {
		// The builtin interrogator asks the offered prompts in order: generate them in batches.
		var keys []answerKey
		for t := range v.cfg.trials {
			for _, q := range offeredOf(t) {
				keys = append(keys, answerKey{hiddenOf(t), q, askSeed(t, q)})
			}
		}
		if err := v.generateBatch(ctx, keys); err != nil {
			return row, err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.conc)
	for t := range v.cfg.trials {
		g.Go(func() error {
			hiddenB, offered := hiddenOf(t), offeredOf(t)
			ask := func(ctx context.Context, q string) (string, error) {
				return v.answer(ctx, hiddenB, q, askSeed(t, q))
			}
			it, err := v.as.Interrogate(gctx, h.Property, ref, offered, v.cfg.rounds, ask)
			if err != nil {
				return err
			}
			hidden := map[bool]string{false: "A", true: "B"}[hiddenB]
			l := trialLog{Hypothesis: h.ID, Method: Interactive, Trial: t, Hidden: hidden, Turns: it.Turns, Outcome: "invalid"}
			if it.Valid {
				// The hidden model shows the property more exactly when it is the favoured one.
				correct := it.Shows == (hiddenB == forB(h))
				results[t] = res{true, correct}
				l.Outcome = map[bool]string{true: "correct", false: "wrong"}[correct]
			}
			logs[t] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return row, err
	}
	v.addLog(logs...)
	k, n := 0, 0
	for _, r := range results {
		if !r.valid {
			row.NInvalid++
			continue
		}
		n++
		if r.correct {
			k++
		}
	}
	row.N = int64(n)
	if n < v.cfg.minValid {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), "invalid"
		if row.NInvalid == int64(v.cfg.trials) && v.as.Client == nil {
			row.Verdict = "unavailable" // builtin without reference shares or quoted terms
		}
		return row, nil
	}
	p, err := stats.BinomTest(k, n, 0.5)
	if err != nil {
		return row, err
	}
	lo, hi, err := stats.ClopperPearsonCI(k, n, 0.95)
	if err != nil {
		return row, err
	}
	acc := float64(k) / float64(n)
	row.Statistic, row.P, row.Effect, row.CILow, row.CIHigh = acc, p, acc-0.5, lo-0.5, hi-0.5
	return row, nil
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
