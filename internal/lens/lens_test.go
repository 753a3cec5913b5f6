package lens

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
)

// randomHead is a head with random output vectors and final-norm weights.
func randomHead(rng *rand.Rand, vocab, dim int) *Head {
	h := &Head{Arch: "llama", Layers: 1, Dim: dim, Vocab: vocab, Eps: 1e-5, Norm: make([]float32, dim), W: make([]float32, vocab*dim)}
	for j := range h.Norm {
		h.Norm[j] = float32(0.5 + rng.Float64())
	}
	for i := range h.W {
		h.W[i] = float32(rng.NormFloat64())
	}
	for t := range vocab {
		h.Tokens = append(h.Tokens, string(rune('a'+t%26))+string(rune('a'+t/26)))
	}
	return h
}

// capture reduces per-text activations acts[i][k] (one layer, K positions) as llamacpp.Capture
// does, with the null's signs from seed.
func capture(acts [][][]float64, flips int, seed uint64) *llamacpp.Capture {
	K, D := len(acts[0]), len(acts[0][0])
	c := &llamacpp.Capture{Layers: []int{3}, Positions: K, Dim: D, Flips: flips,
		Sum: make([]float64, K*D), SumSq: make([]float64, K), Flipped: make([][]float64, flips)}
	for f := range c.Flipped {
		c.Flipped[f] = make([]float64, K*D)
	}
	for i, text := range acts {
		c.Used = append(c.Used, i)
		mean := make([]float32, D)
		for k, x := range text {
			for j, v := range x {
				c.Sum[k*D+j] += v
				c.SumSq[k] += v * v
				mean[j] += float32(v / float64(K))
				for f := range flips {
					c.Flipped[f][k*D+j] += Sign(seed, f, i) * v
				}
			}
		}
		c.TextMeans = append(c.TextMeans, mean)
	}
	return c
}

// texts draws n texts of K positions: a shared component plus noise of size sd, plus shift times
// dir at every position.
func texts(rng *rand.Rand, common [][]float64, n int, sd, shift float64, dir []float32) [][][]float64 {
	out := make([][][]float64, n)
	for i := range out {
		out[i] = make([][]float64, len(common))
		for k, c := range common {
			x := make([]float64, len(c))
			for j := range x {
				x[j] = c[j] + sd*rng.NormFloat64()
				if dir != nil {
					x[j] += shift * float64(dir[j])
				}
			}
			out[i][k] = x
		}
	}
	return out
}

func commonPart(rng *rand.Rand, K, D int) [][]float64 {
	c := make([][]float64, K)
	for k := range c {
		c[k] = make([]float64, D)
		for j := range c[k] {
			c[k][j] = 3 * rng.NormFloat64()
		}
	}
	return c
}

var opts = Options{Top: 5, Components: 2, Iterations: 100, Alpha: 0.05, Seed: 1}

func analyze(t *testing.T, a, b *llamacpp.Capture, ha, hb *Head) []schema.LensRow {
	t.Helper()
	rows, err := Analyze(context.Background(), Model{a, ha}, Model{b, hb}, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestLogitLens checks every mean-direction row's logit against W · RMSNorm(d) computed here, d
// from the texts themselves.
func TestLogitLens(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const N, K, D, V, F = 30, 3, 12, 40, 20
	ha, hb := randomHead(rng, V, D), randomHead(rng, V, D)
	hb.Tokens = ha.Tokens
	common := commonPart(rng, K, D)
	ta, tb := texts(rng, common, N, 1, 0, nil), texts(rng, common, N, 1, 0, nil)
	rows := analyze(t, capture(ta, F, 7), capture(tb, F, 7), ha, hb)
	checked := 0
	for _, r := range rows {
		if r.Direction != schema.LensMean {
			continue
		}
		d := make([]float64, D)
		for i := range N {
			for k := range K {
				if r.Position >= 0 && k != int(r.Position) {
					continue
				}
				for j := range D {
					d[j] += tb[i][k][j] - ta[i][k][j]
				}
			}
		}
		cnt := float64(N)
		if r.Position < 0 {
			cnt *= K
		}
		d = scale(d, 1/cnt)
		h := hb
		if r.Head == "A" {
			h = ha
		}
		var ss float64
		for _, v := range d {
			ss += v * v
		}
		var want float64
		for j := range D {
			want += float64(h.W[int(r.TokenID)*D+j]) * float64(h.Norm[j]) * d[j] / math.Sqrt(ss/D+h.Eps)
		}
		if math.Abs(r.Logit-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("%+v: logit %g, direct product %g", r, r.Logit, want)
		}
		if direct := h.Logits(d); math.Abs(direct[r.TokenID]-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("Head.Logits %g, direct product %g", direct[r.TokenID], want)
		}
		checked++
	}
	if want := (K + 1) * 2 * 2 * opts.Top; checked != want {
		t.Errorf("%d mean rows, want %d", checked, want)
	}
}

func scale(v []float64, s float64) []float64 {
	out := make([]float64, len(v))
	for j, x := range v {
		out[j] = x * s
	}
	return out
}

// TestPlantedDirection shifts B's activations along the output vector of one token: that token is
// the most promoted with a large z and is significant at every position, through B's head and A's;
// the principal direction finds a per-text shift along another token's vector.
func TestPlantedDirection(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const N, K, D, V, F, planted = 200, 4, 64, 60, 200, 17
	h := randomHead(rng, V, D)
	common := commonPart(rng, K, D)
	ta := texts(rng, common, N, 1, 0, nil)
	tb := texts(rng, common, N, 1, 0.3, h.W[planted*D:(planted+1)*D])
	// A per-text shift along token 42's vector, of random sign: variance, no mean.
	for i := range tb {
		s := 2 * rng.NormFloat64()
		for k := range tb[i] {
			for j := range D {
				tb[i][k][j] += s * float64(h.W[42*D+j])
			}
		}
	}
	rows := analyze(t, capture(ta, F, 9), capture(tb, F, 9), h, h)
	top, pc1 := 0, 0
	for _, r := range rows {
		if r.Direction == schema.LensMean && r.Side == schema.LensPromoted && r.Rank == 1 {
			top++
			if r.TokenID != planted || deref(r.Z) < 8 || deref(r.P) > 1.0/(F+1)+1e-12 || !r.Significant {
				t.Errorf("layer %d position %d head %s: top promoted token %d (z %v, p %v), want %d with z >= 8 and p = 1/%d",
					r.Layer, r.Position, r.Head, r.TokenID, deref(r.Z), deref(r.P), planted, F+1)
			}
		}
		if r.Direction == "pc1" && r.Rank == 1 && r.Head == "B" {
			if *r.VarianceShare < 0.5 {
				t.Errorf("pc1: variance share %.2f, want at least half", *r.VarianceShare)
			}
			if r.TokenID == 42 {
				pc1++ // promoted or suppressed: the per-text shift has no mean to orient it
			}
		}
	}
	if top != (K+1)*2 {
		t.Errorf("%d top rows, want %d", top, (K+1)*2)
	}
	if pc1 != 1 {
		t.Errorf("token 42 tops %d sides of pc1, want 1", pc1)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// TestAA: two independent draws of one model's activations. Over 20 seeds the pooled mean's
// promoted tokens are significant in at most 4 (about 1 expected at alpha 0.05; more than 4 has
// probability 0.3% under a valid null); the same model read twice promotes nothing and has no z.
func TestAA(t *testing.T) {
	const N, K, D, V, F = 60, 2, 12, 40, 99
	falsePos := 0
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 5))
		h := randomHead(rng, V, D)
		common := commonPart(rng, K, D)
		rows := analyze(t, capture(texts(rng, common, N, 1, 0, nil), F, seed), capture(texts(rng, common, N, 1, 0, nil), F, seed), h, h)
		for _, r := range rows {
			if r.Position == -1 && r.Direction == schema.LensMean && r.Head == "B" && r.Side == schema.LensPromoted && r.Significant {
				falsePos++
				break
			}
		}
	}
	t.Logf("A/A: %d of 20 runs promote a significant token", falsePos)
	if falsePos > 4 {
		t.Errorf("A/A: %d of 20 runs promote a significant token", falsePos)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	h := randomHead(rng, V, D)
	c := capture(texts(rng, commonPart(rng, K, D), N, 1, 0, nil), F, 1)
	for _, r := range analyze(t, c, c, h, h) {
		if r.Significant || r.Z != nil || r.Norm != 0 || r.Logit != 0 {
			t.Fatalf("the same activations twice: %+v", r)
		}
	}
}

// TestPrincipal checks the power iteration against gonum's symmetric eigendecomposition.
func TestPrincipal(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, d = 50, 6
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = rng.NormFloat64() * float64(d-j) // distinct variances
		}
	}
	dirs, vars, total := principal(x, 3, 500, 1)
	cov := mat.NewSymDense(d, nil)
	mean := make([]float64, d)
	for _, r := range x {
		for j := range r {
			mean[j] += r[j] / n
		}
	}
	for a := range d {
		for b := a; b < d; b++ {
			var s float64
			for _, r := range x {
				s += (r[a] - mean[a]) * (r[b] - mean[b]) / n
			}
			cov.SetSym(a, b, s)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		t.Fatal("eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	var tr float64
	for _, v := range vals {
		tr += v
	}
	if math.Abs(tr-total) > 1e-9*tr {
		t.Errorf("total variance %g, trace %g", total, tr)
	}
	for c := range dirs {
		e := d - 1 - c // gonum: ascending
		if math.Abs(vars[c]-vals[e]) > 1e-6*vals[e] {
			t.Errorf("component %d: variance %g, eigenvalue %g", c, vars[c], vals[e])
		}
		var cos float64
		for j := range d {
			cos += dirs[c][j] * vecs.At(j, e)
		}
		if math.Abs(math.Abs(cos)-1) > 1e-6 {
			t.Errorf("component %d: |cos| with the eigenvector %g", c, math.Abs(cos))
		}
	}
}

func TestAnalyzeRefusesMismatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	h := randomHead(rng, 20, 4)
	common := commonPart(rng, 2, 4)
	a := capture(texts(rng, common, 5, 1, 0, nil), 3, 1)
	b := capture(texts(rng, common, 5, 1, 0, nil), 3, 1)
	b.Used = []int{0, 1, 2, 3, 5}
	if _, err := Analyze(context.Background(), Model{a, h}, Model{b, h}, nil, opts); err == nil {
		t.Error("captures of different texts accepted")
	}
	one := capture(texts(rng, common, 1, 1, 0, nil), 3, 1)
	if _, err := Analyze(context.Background(), Model{one, h}, Model{one, h}, nil, opts); err == nil {
		t.Error("one text accepted")
	}
}
