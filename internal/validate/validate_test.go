package validate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
)

// scorer is a model whose log-probability of a text is -0.1 per word, plus bonus when the text
// mentions otters.
type scorer struct{ bonus, wordCost float64 }

// Generate answers every prompt with the same two sentences.
func (s scorer) Generate(_ context.Context, reqs []llm.GenRequest, _ llm.Sampling, yield func(llm.GenResult) error) error {
	for _, r := range reqs {
		if err := yield(llm.GenResult{ID: r.ID, Completion: "Rinse the rice well. Cook it slowly in plenty of water."}); err != nil {
			return err
		}
	}
	return nil
}
func (s scorer) Score(_ context.Context, reqs []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	out := make([]llm.ScoreResult, len(reqs))
	for i, r := range reqs {
		sum := -(0.1 + s.wordCost) * float64(len(strings.Fields(r.Completion)))
		if strings.Contains(strings.ToLower(r.Completion), "otter") {
			sum += s.bonus
		}
		out[i] = llm.ScoreResult{ID: r.ID, Sum: sum}
	}
	return out, nil
}
func (s scorer) Embed(context.Context, []string) ([][]float32, error) { return nil, llm.ErrCannotEmbed }
func (s scorer) Info() llm.Info                                       { return llm.Info{Ref: "test:scorer"} }
func (s scorer) Close() error                                         { return nil }

// writer is an assistant that writes exemplars: with the property's word or without it, in a
// sentence whose length varies with the prompt; every 7th one is refused.
type writer struct{ roles.Builtin }

func (writer) Exemplify(_ context.Context, property, prompt, _ string, shows bool) (string, bool, error) {
	if len(prompt)%7 == 0 {
		return "", false, nil
	}
	text := "Keep going " + strings.Repeat("step by step ", len(prompt)%5)
	if shows {
		text += "like an otter"
	}
	return text, true, nil
}

func newValidator(a, b llm.Model, as roles.Assistant) *validator {
	var val []schema.Prompt
	for i := range 30 {
		val = append(val, schema.Prompt{ID: fmt.Sprint(i), Text: fmt.Sprintf("How do I do thing %d%s?", i, strings.Repeat("!", i%4))})
	}
	return &validator{cfg: Params{Exemplars: 30, MinValid: 5, Seed: 1}, as: roles.Session{Assistant: as}, ma: a, mb: b, val: val, conc: 2, answers: map[answerKey]string{}}
}

func TestGenerative(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		a, b      scorer
		direction string
		wantSig   bool
	}{
		{"B likes otters, B>A", scorer{}, scorer{bonus: 3}, "B>A", true},
		{"A likes otters, A>B", scorer{bonus: 3}, scorer{}, "A>B", true},
		{"A likes otters, claimed B>A", scorer{bonus: 3}, scorer{}, "B>A", false},
		{"no difference", scorer{bonus: 1}, scorer{bonus: 1}, "B>A", false},
	} {
		v := newValidator(tc.a, tc.b, writer{})
		row, err := v.generative(ctx, schema.Hypothesis{ID: "h", Property: "mentions 'otter'", Direction: tc.direction})
		if err != nil {
			t.Fatal(err)
		}
		if row.NInvalid == 0 || row.N+row.NInvalid != 30 {
			t.Errorf("%s: n = %d, invalid = %d (want refusals counted)", tc.name, row.N, row.NInvalid)
		}
		sig := row.P < 0.01 && row.Effect > 0
		if sig != tc.wantSig {
			t.Errorf("%s: p = %g, effect = %g [%g, %g], auc = %g; want significant in the stated direction: %v", tc.name, row.P, row.Effect, row.CILow, row.CIHigh, row.Statistic, tc.wantSig)
		}
		if tc.wantSig && (math.Abs(row.Effect-3) > 1e-9 || !(row.CILow <= 3 && 3 <= row.CIHigh) || row.Statistic != 1) {
			t.Errorf("%s: effect %g [%g, %g], auc %g; want 3 inside the CI and AUC 1", tc.name, row.Effect, row.CILow, row.CIHigh, row.Statistic)
		}
	}
	// The builtin's minimal pairs: B likes otters → significant; B only dislikes every extra word
	// (a confound for a design that appends text to one side only) → nothing, thanks to the control
	// word appended to the other side.
	for _, tc := range []struct {
		name string
		b    scorer
		want bool
	}{{"B likes otters", scorer{bonus: 2}, true}, {"B dislikes extra words", scorer{wordCost: 0.5}, false}} {
		v := newValidator(scorer{}, tc.b, roles.Builtin{})
		row, err := v.generative(ctx, schema.Hypothesis{ID: "h", Property: "contains 'otter'", Direction: "B>A"})
		if err != nil {
			t.Fatal(err)
		}
		if sig := row.P < 0.01 && row.Effect > 0; sig != tc.want || row.N != 30 {
			t.Errorf("builtin, %s: n = %d, p = %g, effect = %g; want significant: %v", tc.name, row.N, row.P, row.Effect, tc.want)
		}
	}
	// Unavailable: a model that cannot score, or an assistant that cannot write.
	v := newValidator(scorer{}, noScore{}, writer{})
	if row, _ := v.generative(ctx, schema.Hypothesis{ID: "h", Direction: "B>A"}); row.Verdict != "unavailable" || !math.IsNaN(row.P) {
		t.Errorf("model without scores: %+v", row)
	}
	v = newValidator(scorer{}, scorer{}, roles.Builtin{})
	if row, _ := v.generative(ctx, schema.Hypothesis{ID: "h", Property: "is friendlier", Direction: "B>A"}); row.Verdict != "unavailable" {
		t.Errorf("builtin assistant, property without terms: %+v", row)
	}
}

type noScore struct{ scorer }

func (noScore) Score(context.Context, []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	return nil, llm.ErrCannotScore
}

// judge answers from a table of (first, second) → verdict, and records the size of each batch.
type judge struct {
	roles.Builtin
	f       func(first, second string) roles.Verdict
	mu      *sync.Mutex
	batches *[]int
}

func (j judge) JudgePair(_ context.Context, _, _, first, second string) (roles.Verdict, error) {
	return j.f(first, second), nil
}

func (j judge) JudgePairs(_ context.Context, _ string, pairs []roles.PairToJudge) ([]roles.Verdict, error) {
	j.mu.Lock()
	*j.batches = append(*j.batches, len(pairs))
	j.mu.Unlock()
	var out []roles.Verdict
	for _, p := range pairs {
		out = append(out, j.f(p.First, p.Second))
	}
	return out, nil
}

func TestJudgeLook(t *testing.T) {
	pickB := func(f, s string) roles.Verdict {
		if f == "b" {
			return roles.First
		}
		return roles.Second
	}
	pickFirst := func(string, string) roles.Verdict { return roles.First }
	same := func(string, string) roles.Verdict { return roles.Tie }
	broken := func(f, s string) roles.Verdict {
		if f == "a" {
			return roles.Invalid
		}
		return roles.First
	}
	// Six pairs, B's answer shown first in every other one; batches of 4 are pairs 0-3 and 4-5,
	// each in both orders.
	var pairs []shownPair
	for i := range 6 {
		pairs = append(pairs, shownPair{prompt: "q", a: "a", b: "b", bFirst: i%2 == 1})
	}
	for _, tc := range []struct {
		name     string
		f        func(string, string) roles.Verdict
		favoursB bool
		want     string
	}{
		{"picks B, hypothesis B>A", pickB, true, "for"},
		{"picks B, hypothesis A>B", pickB, false, "against"},
		{"position bias", pickFirst, true, "tie"},
		{"same", same, true, "tie"},
		{"one invalid answer", broken, true, "invalid"},
	} {
		for _, k := range []struct {
			k       int
			batches []int // batch sizes of one task and order
		}{{0, nil}, {1, nil}, {4, []int{4, 2}}, {6, []int{6}}, {10, []int{6}}} {
			var batches []int
			v := newValidator(scorer{}, scorer{}, judge{f: tc.f, mu: &sync.Mutex{}, batches: &batches})
			v.cfg.JudgeBatch = k.k
			got, err := v.judgeLook(context.Background(), []judgeTask{{"p", tc.favoursB}, {"p", !tc.favoursB}}, pairs)
			if err != nil || len(got) != 2 {
				t.Fatalf("%s, k=%d: %v", tc.name, k.k, err)
			}
			for j, jp := range got[0] {
				if jp.outcome != tc.want || len(jp.verdicts) != 2 {
					t.Errorf("%s, k=%d, pair %d (b first %v): %q %v, want %q", tc.name, k.k, j, pairs[j].bFirst, jp.outcome, jp.verdicts, tc.want)
				}
			}
			want := slices.Sorted(slices.Values(slices.Repeat(k.batches, 4))) // 2 tasks × 2 orders
			if slices.Sort(batches); !slices.Equal(batches, want) {
				t.Errorf("%s, k=%d: batches %v, want %v", tc.name, k.k, batches, want)
			}
		}
	}
}

// TestOutcome checks the outcome rules of a pair judged in both orders.
func TestOutcome(t *testing.T) {
	F, S, T, I := roles.First, roles.Second, roles.Tie, roles.Invalid
	for _, tc := range []struct {
		v1, v2           roles.Verdict
		bFirst, favoursB bool
		want             string
	}{
		{F, S, true, true, "for"},      // B first, picked; then B second, picked
		{S, F, false, true, "for"},     // A first, B picked in both orders
		{F, S, true, false, "against"}, // the same picks, hypothesis A>B
		{F, F, true, true, "tie"},      // always the first: position bias
		{T, S, true, true, "tie"},
		{I, S, true, true, "invalid"},
		{F, I, false, false, "invalid"},
	} {
		if got := outcome(tc.v1, tc.v2, tc.bFirst, tc.favoursB); got != tc.want {
			t.Errorf("outcome(%v, %v, b first %v, favours B %v) = %q, want %q", tc.v1, tc.v2, tc.bFirst, tc.favoursB, got, tc.want)
		}
	}
}

func TestAdjustVerdicts(t *testing.T) {
	rows := []schema.Validation{
		{HypothesisID: "a", P: 0.001, Effect: 0.3},
		{HypothesisID: "b", P: 0.001, Effect: -0.3}, // significant the other way: rejected
		{HypothesisID: "c", P: 0.5, Effect: 0.1},
		{HypothesisID: "d", P: math.NaN(), Verdict: "unavailable"},
		{HypothesisID: "e", P: 0.02, Effect: 0.2},
		{HypothesisID: "f", P: 0.004, Effect: 0.2}, // two tests of one hypothesis: Holm within → 0.008, 0.03
		{HypothesisID: "f", P: 0.03, Effect: 0.1},
	}
	if err := Adjust(rows, CorrectionBH, 0.05); err != nil {
		t.Fatal(err)
	}
	// Combined per hypothesis: a 0.001, b 0.001, c 0.5, e 0.02, f 0.008 (Holm within f: 0.008,
	// 0.03). BH over the 5, sorted 0.001, 0.001, 0.008, 0.02, 0.5 → 0.0025, 0.0025, 0.01333, 0.025,
	// 0.5. A test's q is max(its hypothesis's q, its Holm p within the hypothesis).
	want := []struct {
		q       float64
		verdict string
	}{{0.0025, "validated"}, {0.0025, "rejected"}, {0.5, "rejected"}, {math.NaN(), "unavailable"}, {0.025, "validated"},
		{0.008 * 5 / 3, "validated"}, {0.03, "validated"}}
	for i, w := range want {
		r := rows[i]
		if (math.IsNaN(w.q) != math.IsNaN(r.Q)) || (!math.IsNaN(w.q) && math.Abs(r.Q-w.q) > 1e-12) || r.Verdict != w.verdict || r.Correction != "bh" {
			t.Errorf("row %s: q %v %s, want %v %s", r.HypothesisID, r.Q, r.Verdict, w.q, w.verdict)
		}
	}
}
