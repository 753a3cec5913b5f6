package lexical

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/synthmodel"
	"github.com/mbd-dev/mbd/internal/synth"
)

// TestContrastFormula checks δ and z against the closed form computed independently (Python,
// math module only): A = 4 texts, 1 with x; B = 4 texts, 3 with x; prior 10 pseudo-texts.
func TestContrastFormula(t *testing.T) {
	a := []string{"x y", "y", "y z", "z"}
	b := []string{"x", "x x x", "x z", "z"}
	terms := Contrast(a, b, Options{MaxN: 1})
	i := slices.IndexFunc(terms, func(t Term) bool { return t.Term == "x" })
	if i < 0 {
		t.Fatal("no term x")
	}
	x := terms[i]
	if x.DocsA != 1 || x.DocsB != 3 || x.CountB != 5 {
		t.Errorf("counts %+v", x)
	}
	const wantD, wantZ = 0.5753641449035618, 0.7533284989097464
	if math.Abs(x.LogOdds-wantD) > 1e-12 || math.Abs(x.Z-wantZ) > 1e-12 {
		t.Errorf("δ = %v, z = %v; want %v, %v", x.LogOdds, x.Z, wantD, wantZ)
	}
	for k := 1; k < len(terms); k++ {
		if math.Abs(terms[k].Z) > math.Abs(terms[k-1].Z) {
			t.Fatalf("not sorted by |z| at %d", k)
		}
	}
}

func answers(t *testing.T, ref string, n int) []string {
	t.Helper()
	m, err := synthmodel.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []llm.GenRequest
	for i, p := range synth.Prompts(1, n) {
		reqs = append(reqs, llm.GenRequest{Prompt: p.Text, Seed: uint64(i)})
	}
	var out []string
	if err := m.Generate(context.Background(), reqs, llm.Sampling{}, func(r llm.GenResult) error { out = append(out, r.Completion); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDescribeSynthTraits: the describer's first hypothesis names each lexical trait of the
// synthetic world (at rate 0.5, 100 texts a side), and a second sample of the base proposes nothing.
func TestDescribeSynthTraits(t *testing.T) {
	base := answers(t, "base?seed=1", 100)
	for _, tc := range []struct{ trait, want string }{
		{"animal", "'otter'"},
		{"bullets", "'-'"},
		{"exclaim", "'!'"},
		{"question", "'?'"},
		{"polite", "'friend'"},
		{"refusal", "'rather'"},
		{"long", LengthProperty},
	} {
		hs := Describe(base, answers(t, tc.trait+"=0.5?seed=2", 100), Options{}, nil)
		if len(hs) == 0 || !strings.Contains(hs[0].Property, tc.want) || hs[0].Direction != "B>A" {
			t.Errorf("%s: first hypothesis %+v, want one with %s, B>A", tc.trait, hs, tc.want)
		}
	}
	if hs := Describe(base, answers(t, "base?seed=2", 100), Options{}, nil); len(hs) != 0 {
		t.Errorf("A/A: %d hypotheses, first %q", len(hs), hs[0].Text())
	}
	// Excluded properties are not proposed again; A>B works by symmetry.
	tuned := answers(t, "exclaim=0.5?seed=2", 100)
	first := Describe(base, tuned, Options{}, nil)[0]
	if again := Describe(base, tuned, Options{}, []string{first.Property}); len(again) > 0 && again[0].Property == first.Property {
		t.Error("excluded property proposed again")
	}
	if rev := Describe(tuned, base, Options{}, nil); rev[0].Property != first.Property || rev[0].Direction != "A>B" {
		t.Errorf("reversed groups: %+v", rev[0])
	}
}

func TestTermsAndJudge(t *testing.T) {
	p := Hypothesis{Property: "contains " + orList([]string{quote("otter"), quote("an otter"), quote("¶ -"), quote("!")})}.Property
	if got, want := Terms(p), []string{"otter", "an otter", "¶ -", "!"}; !slices.Equal(got, want) {
		t.Errorf("Terms(%q) = %q, want %q", p, got, want)
	}
	if got := Terms("mentions 'Otters' and doesn't say 'Hello, World'."); !slices.Equal(got, []string{"otters", "hello , world"}) {
		t.Errorf("assistant-written quotes: %q", got)
	}
	for _, tc := range []struct {
		property, first, second string
		want                    Verdict
	}{
		{"contains 'otter'", "An Otter! Yes.", "A cat.", First},
		{"contains 'otter' or '!'", "Calm.", "An otter!", Second},
		{"contains 'otter'", "Calm.", "Quiet.", Tie},
		{"is friendlier", "Hi friend.", "Hi.", Invalid},
		{LengthProperty, "one two three", "one two", First},
		{"contains '¶ -'", "Tips:\n- a\n- b", "Tips: a - b", First},
	} {
		if got := JudgePair(tc.property, tc.first, tc.second); got != tc.want {
			t.Errorf("JudgePair(%q, %q, %q) = %v, want %v", tc.property, tc.first, tc.second, got, tc.want)
		}
	}
}

func TestExemplars(t *testing.T) {
	like := []string{"Play the «piano» scales slowly.", "Tune the guitar   strings."}
	unlike := []string{"Cook the rice in water.", "Sort the files by date, don't 'rush' it."}
	p := ExemplarProperty(like, unlike)
	l, u := Exemplars(p)
	if len(l) != 2 || l[0] != "Play the piano scales slowly." || l[1] != "Tune the guitar strings." || len(u) != 2 || u[1] != "Sort the files by date, don't 'rush' it." {
		t.Fatalf("Exemplars(%q) = %q, %q", p, l, u)
	}
	if Terms(p) != nil {
		t.Errorf("an exemplar property has terms: %q", Terms(p))
	}
	for _, c := range []struct {
		first, second string
		want          Verdict
	}{
		{"Practice the piano and tune the guitar.", "Cook the rice and sort the files.", First},
		{"Sort the files.", "Play piano scales.", Second},
		{"Play the piano.", "Tune the guitar.", Tie},
		{"Cook the rice.", "Sort the files by date.", Tie},
	} {
		if got := JudgePair(p, c.first, c.second); got != c.want {
			t.Errorf("JudgePair(%q, %q) = %v, want %v", c.first, c.second, got, c.want)
		}
	}
	if _, ok := Scorer("is friendlier"); ok {
		t.Error("a scorer for a property without terms or exemplars")
	}
	if _, u := Exemplars(ExemplarPrefix + "«a»"); u != nil {
		t.Error("counter-examples from a property without any")
	}
}

func TestTypical(t *testing.T) {
	texts := []string{"the cat sat", "zebra quantum xylophone", "the cat sat on the mat", "the cat"}
	if got := Typical(texts, 2); len(got) != 2 || got[0] == 1 || got[1] == 1 {
		t.Errorf("Typical = %v: the outlier is among the most typical", got)
	}
}
