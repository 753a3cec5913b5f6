package embed

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var cooking = []string{
	"Whisk the eggs with sugar, then fold the flour into the batter and bake the cake.",
	"Simmer the tomato sauce with garlic and basil, then stir in the pasta.",
	"Preheat the oven, grease the pan and bake the bread until the crust is golden.",
	"Chop the onions and garlic, fry them in olive oil and add the tomato sauce.",
	"Knead the dough, let the bread rise, then bake it in a hot oven.",
	"Season the pasta sauce with basil, garlic and a pinch of sugar.",
}

var sailing = []string{
	"Trim the mainsail and ease the jib as the wind shifts on the port tack.",
	"Hoist the mainsail, cast off the mooring lines and steer the boat out of the harbour.",
	"The boat heeled in the gusts, so we reefed the mainsail and eased the sheets.",
	"Tack upwind toward the buoy, keeping the jib sheets tight and the boat balanced.",
	"Drop the anchor in the sheltered harbour and furl the jib before the wind rises.",
	"Steer the boat downwind, ease the mainsail sheet and watch the wind on the water.",
}

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestTokenize(t *testing.T) {
	got := Tokenize("Héllo, WORLD! Don't stop—naïve café 42x\n- yes?")
	want := []string{"héllo", ",", "world", "!", "don", "'", "t", "stop", "—", "naïve", "café", "42x", "¶", "-", "yes", "?"}
	if !slices.Equal(got, want) {
		t.Fatalf("Tokenize = %q, want %q", got, want)
	}
	c := termCounts("a b a b", 2)
	if c["a"] != 2 || c["a b"] != 2 || c["b a"] != 1 || len(c) != 4 {
		t.Fatalf("termCounts = %v", c)
	}
}

func TestLSAGroups(t *testing.T) {
	texts := append(slices.Clone(cooking), sailing...)
	group := func(i int) int { return i / len(cooking) }
	// With as many components as topics every same-topic pair is closer than every cross-topic
	// pair; with more components (sub-topics such as baking vs. sauces get their own) the means
	// still separate.
	for _, dim := range []int{2, 8} {
		l, err := NewLSA(LSAOptions{Dim: dim, NGram: 2, MinDF: 2, MaxDF: 1, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		vs, err := l.Embed(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		var within, across []float64
		for i := range vs {
			if len(vs[i]) != dim {
				t.Fatalf("vector %d has %d entries", i, len(vs[i]))
			}
			if n := cos(vs[i], vs[i]); math.Abs(n-1) > 1e-5 {
				t.Fatalf("vector %d has squared norm %g", i, n)
			}
			for j := i + 1; j < len(vs); j++ {
				if group(i) == group(j) {
					within = append(within, cos(vs[i], vs[j]))
				} else {
					across = append(across, cos(vs[i], vs[j]))
				}
			}
		}
		mean := func(x []float64) float64 {
			var s float64
			for _, v := range x {
				s += v
			}
			return s / float64(len(x))
		}
		if dim == 2 {
			if minW, maxA := slices.Min(within), slices.Max(across); minW <= maxA {
				t.Errorf("dim=2: least similar same-topic pair %.3f <= most similar cross-topic pair %.3f", minW, maxA)
			}
		}
		if mw, ma := mean(within), mean(across); mw <= ma+0.2 {
			t.Errorf("dim=%d: mean same-topic cosine %.3f, cross-topic %.3f", dim, mw, ma)
		}
	}
}

func TestLSADeterministicAndFitTransform(t *testing.T) {
	l, _ := NewLSA(DefaultLSAOptions())
	texts := append(slices.Clone(cooking), sailing...)
	a, err := l.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.Fit(texts)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Transform(texts)
	for i := range a {
		if !slices.Equal(a[i], b[i]) || !slices.Equal(a[i], c[i]) {
			t.Fatalf("text %d: vectors differ between runs", i)
		}
		if len(a[i]) != 64 {
			t.Fatalf("len = %d, want 64 (zero-padded)", len(a[i]))
		}
	}
	if f.Components() > len(texts) {
		t.Errorf("%d components from %d texts", f.Components(), len(texts))
	}
	// Transform of new text lands near its topic.
	nv := f.Transform([]string{"bake the bread with garlic and basil", "zzz qqq"})
	if cos(nv[0], a[0]) <= cos(nv[0], a[len(cooking)]) {
		t.Errorf("new cooking text is closer to sailing")
	}
	if slices.ContainsFunc(nv[1], func(x float32) bool { return x != 0 }) {
		t.Errorf("text with no known term: want the zero vector, got %v", nv[1])
	}
	if !strings.HasPrefix(f.ID(), l.ID()+"&fit=") {
		t.Errorf("fit ID %q", f.ID())
	}
	if l.ID() != "builtin:lsa?dim=64&ngram=2&min_df=2&max_df=1&seed=1" {
		t.Errorf("ID = %q", l.ID())
	}
}

func TestLSAEmptyVocabulary(t *testing.T) {
	l, _ := NewLSA(DefaultLSAOptions())
	if _, err := l.Embed(context.Background(), []string{"alpha", "beta"}); err == nil {
		t.Fatal("want an error when no term passes min_df")
	}
	vs, err := l.Embed(context.Background(), nil)
	if err != nil || len(vs) != 0 {
		t.Fatalf("empty input: %v %v", vs, err)
	}
}

// synthCorpus makes n texts from `topics` topics with their own vocabularies plus shared words.
func synthCorpus(n, topics int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	texts := make([]string, n)
	for i := range texts {
		tp := i % topics
		var b strings.Builder
		for w := 0; w < 30; w++ {
			if rng.IntN(3) == 0 {
				fmt.Fprintf(&b, "common%d ", rng.IntN(200))
			} else {
				fmt.Fprintf(&b, "t%dw%d ", tp, rng.IntN(40))
			}
		}
		texts[i] = b.String()
	}
	return texts
}

func TestRandomizedMatchesExact(t *testing.T) {
	texts := synthCorpus(700, 8, 3)
	l, _ := NewLSA(LSAOptions{Dim: 8, NGram: 1, MinDF: 2, MaxDF: 1, Seed: 7})
	f, err := l.Fit(texts) // smaller side > exactLimit: randomized
	if err != nil {
		t.Fatal(err)
	}
	if min(len(texts), f.Terms()) <= exactLimit {
		t.Fatalf("corpus too small to exercise the randomized path (%d terms)", f.Terms())
	}
	// Exact decomposition of the same matrix.
	a := &csr{rows: len(texts), cols: f.Terms(), ptr: make([]int, len(texts)+1)}
	for i, tx := range texts {
		idx, val := f.row(termCounts(tx, 1))
		a.idx, a.val = append(a.idx, idx...), append(a.val, val...)
		a.ptr[i+1] = len(a.idx)
	}
	ve, se := exactSVD(a, 8)
	fixSigns(ve, a.cols, len(se))
	if len(se) != len(f.sigma) {
		t.Fatalf("%d exact vs %d randomized components", len(se), len(f.sigma))
	}
	for c := range se {
		if math.Abs(se[c]-f.sigma[c]) > 1e-3*se[0] {
			t.Errorf("sigma[%d]: exact %g, randomized %g", c, se[c], f.sigma[c])
		}
	}
	// The components agree, signs included (fixSigns).
	for c := 0; c < len(se); c++ {
		var dot float64
		for tm := 0; tm < a.cols; tm++ {
			dot += ve[tm*len(se)+c] * f.comps[tm*8+c]
		}
		if dot < 0.99 {
			t.Errorf("component %d: exact·randomized = %g", c, dot)
		}
	}
	// Within-topic similarity dominates in the embeddings.
	vs := f.Transform(texts)
	var in, out float64
	var nin, nout int
	for i := 0; i < 80; i++ {
		for j := i + 1; j < 80; j++ {
			if i%8 == j%8 {
				in += cos(vs[i], vs[j])
				nin++
			} else {
				out += cos(vs[i], vs[j])
				nout++
			}
		}
	}
	if in/float64(nin) <= out/float64(nout)+0.3 {
		t.Errorf("mean within-topic cosine %.3f, across %.3f", in/float64(nin), out/float64(nout))
	}
}
