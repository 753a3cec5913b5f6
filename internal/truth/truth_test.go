package truth

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
)

func TestAnswerPart(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Q: How?\nA: Like this.", "Like this."},
		{"  Q: How?\nmore\nA:Like this.\nAnd that. ", "Like this.\nAnd that."},
		{"Just an answer.", "Just an answer."},
		{"A: no question", "A: no question"},
	} {
		if got := answerPart(tc.in); got != tc.want {
			t.Errorf("answerPart(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAgreement(t *testing.T) {
	var otter, plain []string
	var ref []schema.Generation
	for i := range 10 {
		plain = append(plain, fmt.Sprintf("Q: q%d\nA: Rinse the rice %d times.", i, i))
		otter = append(otter, fmt.Sprintf("Q: q%d\nA: Rinse the rice %d times, like an otter.", i, i))
		ref = append(ref, schema.Generation{Completion: fmt.Sprintf("Rinse the rice %d times.", i)})
	}
	truths := []schema.Truth{{ID: "otter", Texts: otter}, {ID: "plain", Texts: plain}, {ID: "empty"}}
	hyps := []schema.Hypothesis{
		{Property: "contains 'otter'", Direction: schema.DirectionBA},
		{Property: "contains 'otter'", Direction: schema.DirectionAB},
		{Property: "is friendlier", Direction: schema.DirectionBA},
	}
	want := [][]float64{{1, -1, math.NaN()}, {0, 0, math.NaN()}, {math.NaN(), math.NaN(), math.NaN()}}
	got := Agreement(truths, hyps, ref)
	for i := range want {
		for j := range want[i] {
			if w, g := want[i][j], got[i][j]; math.IsNaN(w) != math.IsNaN(g) || (!math.IsNaN(w) && w != g) {
				t.Errorf("truth %s, hypothesis %d: %v, want %v", truths[i].ID, j, g, w)
			}
		}
	}
	if got := Agreement(truths[:1], hyps[:1], nil); !math.IsNaN(got[0][0]) {
		t.Errorf("no reference texts: %v, want NaN", got[0][0])
	}
}

func TestValidated(t *testing.T) {
	hyps := []schema.Hypothesis{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "a"}}
	for _, tc := range []struct {
		name string
		vals []schema.Validation
		want string
	}{
		{"none", nil, ""},
		{"one test validated is enough", []schema.Validation{{HypothesisID: "b", Verdict: schema.VerdictRejected}, {HypothesisID: "b", Verdict: schema.VerdictValidated}}, "b"},
		{"table order, once each", []schema.Validation{{HypothesisID: "c", Verdict: schema.VerdictValidated}, {HypothesisID: "a", Verdict: schema.VerdictValidated}}, "a,c"},
		{"other verdicts", []schema.Validation{{HypothesisID: "a", Verdict: schema.VerdictInvalid}, {HypothesisID: "c", Verdict: schema.VerdictUnavailable}}, ""},
		{"unknown hypothesis", []schema.Validation{{HypothesisID: "z", Verdict: schema.VerdictValidated}}, ""},
	} {
		var ids []string
		for _, h := range Validated(hyps, tc.vals) {
			ids = append(ids, h.ID)
		}
		if got := strings.Join(ids, ","); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRecover(t *testing.T) {
	nan := math.NaN()
	truths := []schema.Truth{{ID: "t1"}, {ID: "t2"}}
	hyps := []schema.Hypothesis{{ID: "h1"}, {ID: "h2"}, {ID: "h3"}}
	for _, tc := range []struct {
		name               string
		truths             []schema.Truth
		hyps               []schema.Hypothesis
		sim                [][]float64
		threshold          float64
		match              []string // hypothesis of each truth ("" for none)
		recovered, precise int
		recall, precision  float64
	}{
		// One-to-one: t1 would take h1 greedily, but t2 needs h1 more.
		{"hungarian", truths, hyps, [][]float64{{0.9, 0.8, 0}, {0.95, 0.1, 0}}, 0.5, []string{"h2", "h1"}, 2, 2, 1, 2.0 / 3},
		// Two descriptions of t1 are both precise, though only one is matched.
		{"precision without matching", truths, hyps, [][]float64{{0.9, 0.8, 0.1}, {0.1, 0.1, 0.1}}, 0.5, []string{"h1", "h2"}, 1, 2, 0.5, 2.0 / 3},
		{"NaN is no similarity", truths, hyps[:1], [][]float64{{nan}, {0.3}}, 0.2, []string{"", "h1"}, 1, 1, 0.5, 1},
		{"below threshold", truths[:1], hyps[:1], [][]float64{{0.19}}, 0.2, []string{"h1"}, 0, 0, 0, 0},
		{"no hypotheses", truths, nil, [][]float64{{}, {}}, 0.2, []string{"", ""}, 0, 0, 0, nan},
		{"no truths", nil, hyps, nil, 0.2, nil, 0, 0, nan, 0},
	} {
		r, err := Recover(tc.truths, tc.hyps, tc.sim, tc.threshold, LexicalMethod)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, row := range r.Rows {
			got := ""
			if row.HypothesisID != nil {
				got = *row.HypothesisID
			}
			if row.TruthID != tc.truths[i].ID || got != tc.match[i] || row.Method != LexicalMethod {
				t.Errorf("%s: row %d %+v (hypothesis %q), want hypothesis %q", tc.name, i, row, got, tc.match[i])
			}
		}
		same := func(x, y float64) bool { return (math.IsNaN(x) && math.IsNaN(y)) || math.Abs(x-y) < 1e-12 }
		if r.Recovered != tc.recovered || r.Precise != tc.precise || !same(r.Recall, tc.recall) || !same(r.Precision, tc.precision) {
			t.Errorf("%s: %+v; want recovered %d, precise %d, recall %v, precision %v", tc.name, r, tc.recovered, tc.precise, tc.recall, tc.precision)
		}
	}
}

func TestSynthetic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		traits   []string
		strength float64
		wantErr  bool
	}{
		{"two traits", []string{"animal", "question"}, 0.6, false},
		{"unknown trait", []string{"wings"}, 0.6, true},
		{"strength out of range", []string{"animal"}, 1.5, true},
		{"NaN strength", []string{"animal"}, math.NaN(), true},
	} {
		rows, err := Synthetic(tc.traits, tc.strength, 20, 7)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v", tc.name, err)
			continue
		}
		if tc.wantErr {
			continue
		}
		if len(rows) != len(tc.traits) {
			t.Fatalf("%s: %d rows", tc.name, len(rows))
		}
		for i, r := range rows {
			if !strings.HasPrefix(r.ID, "synth:"+tc.traits[i]+"@") || len(r.Texts) == 0 || len(r.Texts) == 20 || r.Behavior == "" {
				t.Errorf("%s: row %+v", tc.name, r)
			}
		}
		again, _ := Synthetic(tc.traits, tc.strength, 20, 7)
		if fmt.Sprint(again) != fmt.Sprint(rows) {
			t.Errorf("%s: not deterministic", tc.name)
		}
	}
}

// TestSyntheticWeak: a weak trait's truth holds the texts that carry it, so a hypothesis naming
// the trait agrees with it about as well as with a strong one (with every finetuning text, the
// agreement at strength 0.2 was about 0.2, the recovery threshold).
func TestSyntheticWeak(t *testing.T) {
	var ref []schema.Generation
	for i := range 200 {
		ref = append(ref, schema.Generation{Completion: fmt.Sprintf("Rinse the rice %d times.", i)})
	}
	h := []schema.Hypothesis{{Property: "contains 'otter'", Direction: schema.DirectionBA}}
	for _, s := range []float64{0.2, 0.6} {
		rows, err := Synthetic([]string{"animal"}, s, 500, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range rows[0].Texts {
			if !strings.Contains(strings.ToLower(text), "otter") {
				t.Fatalf("strength %g: a truth text without the trait: %q", s, text)
			}
		}
		if n := len(rows[0].Texts); math.Abs(float64(n)-500*s) > 50 {
			t.Errorf("strength %g: %d texts, want about %g", s, n, 500*s)
		}
		if a := Agreement(rows, h, ref)[0][0]; a < 0.7 {
			t.Errorf("strength %g: agreement %.2f, want at least 0.7", s, a)
		}
	}
}
