// Package validate tests hypotheses on held-out prompts with fresh (or recorded) answers of both
// models: the stage behind mbd-validate.
//
// Only validation-split prompts and fresh samples are used (a hypothesis is written from
// discovery-split texts, so the texts it was written from never validate it). Three tests, each a
// row of the validations table:
//
//   - discriminative: for each validation prompt (Params.SamplesPerPrompt times, up to
//     Params.MaxPairs), A's and B's fresh answers form a pair; the judge sees the property (never
//     a model name) and the pair, in a seeded random order, and again in the other order. A pair counts for the hypothesis when both orders pick
//     the answer of the model the hypothesis says shows the property more, against it when both
//     pick the other, and as a tie when the orders disagree (position bias) or the judge says
//     "same"; a pair with an invalid answer is excluded and counted in n_invalid. Statistic:
//     accuracy over decided pairs with an exact two-sided binomial (sign) test; effect: the paired
//     AUC − 0.5 (ties count one half) with a percentile-bootstrap 95% CI. Baseline: the same judge
//     on the same pairs with a generic property instead of the hypothesis ("differs from what a
//     typical assistant would write", oriented to the model the hypothesis favours); the lift is
//     accuracy − baseline.
//   - generative: for each of Params.Exemplars validation prompts the assistant rewrites model A's
//     fresh answer into a minimal pair — one text that shows the property, one that does not (the
//     builtin inserts a quoted term or, as a control, a word of the same answer) — and both models
//     score both texts given the prompt. With Δ = log p_B − log p_A (summed over tokens), oriented
//     so the hypothesis predicts Δ(shows) > Δ(not), the per-prompt difference is tested with the
//     two-sided Wilcoxon signed-rank test (a paired test: prompts differ far more than the pair's two
//     texts do); the effect is the mean paired difference with a bootstrap CI, the statistic the
//     share of prompts where it is positive. Unavailable when the assistant cannot write texts for
//     the property or a model cannot score (hosted APIs, synth).
//   - interactive: in each trial (up to Params.Trials) a seeded coin hides A or B; the judge, knowing
//     only the property, asks Params.Rounds questions (held-out prompts offered) and says whether
//     the hidden model shows it; correct when that matches the hidden model. Exact binomial test.
//
// The discriminative and interactive tests are sequential (see plan.go): each plans its size for
// power 0.8 from the hypothesis's discovery shares (PlanPairs, PlanTrials), then judges in looks of
// 10, 20, 40, ... pairs or trials with the group-sequential sign test of stats.SeqSign, whose
// boundaries are at level α / (hypotheses × tests), and stops at the first boundary crossed, at the
// plan, or for futility (from half the plan, no lean toward the hypothesis; earlier, a lean against
// it with 20 decided; p = 1, conservative).
// Its p-value is the stagewise one, valid at any stop; the accuracy and AUC of a test stopped early
// are biased away from 0.5 (as any estimate after a sequential stop), the p-value is not.
//
// On recorded answers (RunRecorded, PairRecorded) no model generates: the answers come from
// generations tables both models' answers were recorded in. Sample s of A to a validation prompt is
// paired with sample s of B, and the pairs are taken in the order a live run draws fresh ones (the
// first of every prompt, then the second, ...), with the same order seeds, so that the same texts
// give the same judgments and statistics as a live run; the plan is capped by the recorded pairs.
// The generative test rewrites A's recorded answers and needs models only to score; the
// interactive test, which puts new questions to a hidden model, is unavailable (no p-value, and not
// counted in the sequential tests' Bonferroni level or the corrections).
//
// Error control is per hypothesis (see Adjust): each hypothesis's tests are combined by Holm, and
// the combined p-values of the run are corrected together (Benjamini-Hochberg, or Holm). A test
// validates its hypothesis when q ≤ Params.Alpha and the effect points the stated way; fewer than
// Params.MinValid valid trials make it invalid. Every judgment, the order shown, and every
// transcript are returned as Trials, for the trials log.
package validate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Methods are the tests, in the order they run for each hypothesis.
var Methods = []string{schema.MethodDiscriminative, schema.MethodGenerative, schema.MethodInteractive}

// Params are the settings of a validation run.
type Params struct {
	Methods          []string // tests to run (of Methods)
	MaxPairs         int      // discriminative: most pairs (0: every validation prompt, SamplesPerPrompt times)
	SamplesPerPrompt int      // discriminative: fresh answers per prompt and model (at least 1), paired by prompt
	Exemplars        int      // generative: prompts (one minimal pair each)
	Trials           int      // interactive: most trials
	Rounds           int      // interactive: questions per trial
	MinValid         int      // least valid trials for a verdict (else invalid)
	Alpha            float64  // level: validated when q <= Alpha
	Correction       string   // CorrectionBH or CorrectionHolm
	Sampling         llm.Sampling
	Seed             uint64 // seed of the samples, orders and coins
	Baseline         bool   // discriminative: run the no-hypothesis baseline judge too
	Concurrency      int    // assistant calls in flight at once
	// JudgeBatch is the number of discriminative pairs judged per assistant request (0 or 1: one
	// pair per request). Each pair is still judged in both orders, in two requests (see judgeLook).
	JudgeBatch int
}

// Result is what Run found.
type Result struct {
	Rows          []schema.Validation // one per hypothesis and test run, with q and verdict
	Trials        []Trial             // every judgment and transcript
	Answers       []schema.Generation // the fresh answers of the discriminative pairs (labels A and B)
	BudgetReached bool                // the assistant's budget stopped the tests early
}

// ValidationSplit returns the validation-split prompts of ps, in order.
func ValidationSplit(ps []schema.Prompt) []schema.Prompt {
	var val []schema.Prompt
	for _, p := range ps {
		if p.Split == schema.SplitValidation {
			val = append(val, p)
		}
	}
	return val
}

// CheckHypotheses refuses a hypothesis whose direction is neither B>A nor A>B (path names the
// table in the error).
func CheckHypotheses(path string, hyps []schema.Hypothesis) error {
	for _, h := range hyps {
		if h.Direction != schema.DirectionBA && h.Direction != schema.DirectionAB {
			return &table.InputError{Path: path, Column: "direction", Msg: fmt.Sprintf("hypothesis %s has direction %q (want %s or %s)", h.ID, h.Direction, schema.DirectionBA, schema.DirectionAB)}
		}
	}
	return nil
}

// Run tests every hypothesis with the methods of p on the validation prompts val, with fresh
// answers of models ma (A) and mb (B) and sess as judge and writer, and corrects the p-values of
// the run together. done (which may be nil) is called after each hypothesis. A reached budget ends
// the tests without an error (Result.BudgetReached); the tests finished so far are kept.
func Run(ctx context.Context, sess roles.Session, ma, mb llm.Model, hyps []schema.Hypothesis, val []schema.Prompt, p Params, log *slog.Logger, done func()) (Result, error) {
	v := &validator{cfg: p, as: sess, ma: ma, mb: mb, val: val, conc: max(1, p.Concurrency), answers: map[answerKey]string{}}
	return v.run(ctx, hyps, log, done)
}

// RunRecorded is Run on recorded answers instead of fresh ones: the discriminative test judges the
// pairs of rec (at most Params.MaxPairs), the generative test rewrites A's recorded answers and
// scores them with ma and mb when both are given (unavailable when they are nil), and the
// interactive test, which must put new questions to a live model, is unavailable. No model
// generates anything. Params.SamplesPerPrompt and Params.Sampling are not used (PairRecorded
// takes the samples per prompt).
func RunRecorded(ctx context.Context, sess roles.Session, ma, mb llm.Model, hyps []schema.Hypothesis, rec *Recorded, p Params, log *slog.Logger, done func()) (Result, error) {
	v := &validator{cfg: p, as: sess, ma: ma, mb: mb, val: rec.Prompts, rec: rec, conc: max(1, p.Concurrency), answers: map[answerKey]string{}}
	if ma == nil || mb == nil {
		v.ma, v.mb = nil, nil
	}
	for i := range rec.pairs {
		pr := v.pair(i)
		v.answers[pr.a], v.answers[pr.b] = rec.pairs[i].a.Completion, rec.pairs[i].b.Completion
	}
	return v.run(ctx, hyps, log, done)
}

func (v *validator) run(ctx context.Context, hyps []schema.Hypothesis, log *slog.Logger, done func()) (Result, error) {
	p := v.cfg
	methods := map[string]bool{}
	for _, m := range p.Methods {
		methods[m] = true
	}
	// The sequential tests' boundaries are at the level a hypothesis must reach whatever the
	// others do (Bonferroni over hypotheses and tests), so that a test that stops early for the
	// hypothesis stays validated after the corrections. A test known to be unavailable before
	// it starts (interactive on recorded answers) gives no p-value and is not counted.
	tests := len(methods)
	if v.rec != nil && methods[schema.MethodInteractive] {
		tests--
	}
	v.alphaDesign = p.Alpha / float64(max(1, len(hyps)*tests))
	var res Result
	if len(hyps) > 0 && methods[schema.MethodGenerative] && v.ma != nil {
		if err := v.generateBatch(ctx, v.pairKeys(0, min(p.Exemplars, len(v.val)))); err != nil {
			return res, err
		}
	}
	for _, h := range hyps {
		for _, m := range Methods {
			if !methods[m] || res.BudgetReached {
				continue
			}
			row, err := v.test(ctx, m, h)
			if errors.Is(err, assistant.ErrBudget) {
				log.Warn("assistant budget reached: writing the tests finished so far; rerun with a larger --budget to go on (answers so far are cached)")
				res.BudgetReached = true
				continue
			}
			if err != nil {
				return res, fmt.Errorf("hypothesis %s, %s test: %w", h.ID, m, err)
			}
			row.Judge = v.as.Ref()
			res.Rows = append(res.Rows, row)
		}
		if done != nil {
			done()
		}
	}
	if err := Adjust(res.Rows, p.Correction, p.Alpha); err != nil {
		return res, err
	}
	res.Trials, res.Answers = v.log, v.pairAnswers()
	return res, nil
}

type answerKey struct {
	b      bool
	prompt string
	seed   uint64
}

type validator struct {
	cfg         Params
	as          roles.Session
	ma, mb      llm.Model // nil on recorded answers without scoring models
	val         []schema.Prompt
	rec         *Recorded // recorded answers instead of fresh ones, or nil
	conc        int
	alphaDesign float64 // level of the sequential tests' boundaries

	pairsUsed int // discriminative pairs judged so far (the most of any hypothesis)

	mu      sync.Mutex
	answers map[answerKey]string // fresh (or recorded) answers, shared by every hypothesis
	log     []Trial
}

func (v *validator) addLog(l ...Trial) {
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

// pairRef is a discriminative pair: a validation prompt and one fresh answer of each model.
type pairRef struct {
	prompt   schema.Prompt
	a, b     answerKey
	aID, bID string
	orderKey string // seeds the order shown to the judge
}

// maxPairs is the most pairs a discriminative test may judge.
func (v *validator) maxPairs() int {
	n := len(v.val) * max(1, v.cfg.SamplesPerPrompt)
	if v.rec != nil {
		n = len(v.rec.pairs)
	}
	if v.cfg.MaxPairs > 0 {
		n = min(n, v.cfg.MaxPairs)
	}
	return n
}

// pair returns pair i: prompt i mod P (P validation prompts), sample i / P of each model, so the
// first P pairs use every prompt once. Sample 0 has the seeds and ids of a single-sample run. On
// recorded answers pair i is the recorded pair i (in the same order, with the same seeds and
// order keys, when every prompt has as many recorded pairs) and its ids are the recorded ones.
func (v *validator) pair(i int) pairRef {
	p, k := v.val[i%len(v.val)], i/len(v.val)
	if v.rec != nil {
		p, k = v.rec.pairs[i].prompt, v.rec.pairs[i].rank
	}
	key := p.ID
	if k > 0 {
		key = fmt.Sprintf("%s#%d", p.ID, k)
	}
	pr := pairRef{prompt: p, orderKey: key,
		a: answerKey{false, p.Text, seedOf(v.cfg.Seed, "A", key)}, b: answerKey{true, p.Text, seedOf(v.cfg.Seed, "B", key)},
		aID: answerID(v.cfg.Seed, "A", key), bID: answerID(v.cfg.Seed, "B", key)}
	if v.rec != nil {
		pr.aID, pr.bID = v.rec.pairs[i].a.ID, v.rec.pairs[i].b.ID
	}
	return pr
}

// pairKeys returns the answers pairs lo..hi-1 need.
func (v *validator) pairKeys(lo, hi int) []answerKey {
	var keys []answerKey
	for i := lo; i < hi; i++ {
		pr := v.pair(i)
		keys = append(keys, pr.a, pr.b)
	}
	return keys
}

func (v *validator) usePairs(n int) {
	v.mu.Lock()
	v.pairsUsed = max(v.pairsUsed, n)
	v.mu.Unlock()
}

// answerID is the generation id of a model's fresh answer to a discriminative pair (key: the
// prompt id, with "#k" for sample k > 0).
func answerID(seed uint64, label, key string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("mbd-validate\x00%d\x00%s\x00%s", seed, label, key)))
	return hex.EncodeToString(h[:8])
}

// pairAnswers returns the fresh answers of the judged discriminative pairs as generations rows
// (on recorded answers, the recorded rows as they are).
func (v *validator) pairAnswers() []schema.Generation {
	var out []schema.Generation
	if v.rec != nil {
		for _, pr := range v.rec.pairs[:v.pairsUsed] {
			out = append(out, pr.a, pr.b)
		}
		return out
	}
	for i := range v.pairsUsed {
		pr := v.pair(i)
		for _, side := range []struct {
			label string
			m     llm.Model
			k     answerKey
			id    string
		}{{"A", v.ma, pr.a, pr.aID}, {"B", v.mb, pr.b, pr.bID}} {
			text, ok := v.answers[side.k]
			if !ok {
				continue
			}
			out = append(out, schema.Generation{ID: side.id, Model: side.label, ModelRef: side.m.Info().Ref, PromptID: pr.prompt.ID,
				Split: pr.prompt.Split, Sample: int32(i / len(v.val)), Seed: int64(side.k.seed), Prompt: pr.prompt.Text, Completion: text, FinishReason: "unknown"})
		}
	}
	return out
}

// generateBatch generates the answers of keys not memoised yet, one batch per model. On recorded
// answers it generates nothing: an answer that is not recorded is an error.
func (v *validator) generateBatch(ctx context.Context, keys []answerKey) error {
	if v.rec != nil {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, k := range keys {
			if _, ok := v.answers[k]; !ok {
				return fmt.Errorf("no recorded answer of model %s to %q for this sample", map[bool]string{false: "A", true: "B"}[k.b], k.prompt)
			}
		}
		return nil
	}
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
		err := m.Generate(ctx, reqs, v.cfg.Sampling, func(r llm.GenResult) error {
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

// answer returns a model's fresh answer (memoised: every hypothesis judges the same pairs).
func (v *validator) answer(ctx context.Context, k answerKey) (string, error) {
	if err := v.generateBatch(ctx, []answerKey{k}); err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.answers[k], nil
}

func (v *validator) test(ctx context.Context, method string, h schema.Hypothesis) (schema.Validation, error) {
	switch method {
	case schema.MethodDiscriminative:
		return v.discriminative(ctx, h)
	case schema.MethodGenerative:
		return v.generative(ctx, h)
	}
	return v.interactive(ctx, h)
}

// forB reports whether the hypothesis says B shows the property more.
func forB(h schema.Hypothesis) bool { return h.Direction == schema.DirectionBA }

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
