// Package lens reads how two models' residual streams differ on neutral text: the activation
// difference lens of Minder et al., "Narrow Finetuning Leaves Clearly Readable Traces in
// Activation Differences" (arXiv 2510.13900, 2025).
//
// Both models read the same N texts (llamacpp.Model.Capture: the output of chosen blocks at the
// first K token positions). For each block l and position k the mean difference is
//
//	d = mean_i b_i − mean_i a_i   (b_i, a_i: B's and A's activations on text i)
//
// and also its average over the K positions (position −1). A direction v is read through a
// model's own final norm and unembedding (the logit lens; nostalgebraist 2020):
//
//	logits = W_out · (g ⊙ v / sqrt(mean(v²) + ε))
//
// with g the final RMSNorm weight; as in Minder et al., the norm is applied to the difference
// itself, which also makes the reading independent of the difference's size. It is read through
// B's head and through A's (a finetune may have changed the head too).
//
// Null. Under "A and B are exchangeable on each text" the two labels of a text may be swapped,
// which flips the sign of its difference b_i − a_i. Capture keeps, for F seeded sign patterns σ
// (Sign), the signed sums Σ σ_fi a_i and Σ σ_fi b_i, so that the null differences
// d_f = (1/N) Σ σ_fi (b_i − a_i) cost no per-text memory. Each d_f is put through the head with
// the observed difference's norm scale (so a token's logit is one linear function of d and of the
// d_f: the final norm of a small null difference would blow it up to full size), and each token's
// logit is compared with its logits under the flips: z = (logit − mean_f) / sd_f, a sign-flip
// statistic of the texts' differences projected on the token's output vector (at most about √N,
// reached when every text moves the same way). A token's p-value is adjusted over the whole
// vocabulary by the max-T method (Westfall & Young 1993): the share of the F flips, with the
// observed one counted, whose largest z over all tokens reaches the token's z (for suppressed
// tokens the smallest, reaching down). Tokens are listed by logit, as Minder et al. read them; z
// and p say which of them the texts' variation cannot explain.
//
// Principal directions. Each text's difference averaged over the K positions, centred, gives
// up to Components principal directions per block (power iteration with deflation from seeded
// start vectors), each oriented along the mean difference and read through the logit lens (no
// null: the directions are fitted to the same data).
//
// Cost: per block, position and head, one product of the vocabulary matrix with F+1 vectors
// (V·D·(F+1) multiply-adds); the per-text data are N·layers·D floats.
package lens

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Options of Analyze.
type Options struct {
	Top        int     // tokens listed per direction, head and side
	Components int     // principal directions per block (0: none)
	Iterations int     // power iterations per principal direction
	Alpha      float64 // level of the significant column
	Seed       uint64  // start vectors of the power iteration
}

// Model is one side of the comparison: its capture and its head.
type Model struct {
	Capture *llamacpp.Capture
	Head    *Head
}

// Sign is the sign of text i in sign pattern f of the null, drawn from seed: +1 or −1 with equal
// chance, independently for every (f, i). Both models' captures must use the same seed.
func Sign(seed uint64, f, i int) float64 {
	h := splitmix(splitmix(seed^0x6c656e73) + uint64(f))
	if splitmix(h+uint64(i))>>63 == 0 {
		return 1
	}
	return -1
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func sqrt(x float64) float64 { return math.Sqrt(x) }

// Analyze compares B with A. Both captures must have read the same texts with the same layers,
// positions and sign patterns; tokens names the vocabulary's tokens as text (nil: the heads'
// tokens as stored).
func Analyze(ctx context.Context, a, b Model, tokens []string, o Options) ([]schema.LensRow, error) {
	ca, cb := a.Capture, b.Capture
	switch {
	case !slices.Equal(ca.Layers, cb.Layers) || ca.Positions != cb.Positions || ca.Dim != cb.Dim || ca.Flips != cb.Flips:
		return nil, errors.New("lens: the captures read different layers, positions or sign patterns")
	case !slices.Equal(ca.Used, cb.Used):
		return nil, errors.New("lens: the models read different texts (their tokenizers differ)")
	case len(ca.Used) < 2:
		return nil, fmt.Errorf("lens: %d texts with enough tokens; want at least 2", len(ca.Used))
	case a.Head.Dim != ca.Dim || b.Head.Dim != ca.Dim || a.Head.Vocab != b.Head.Vocab:
		return nil, errors.New("lens: the heads do not fit the captures")
	}
	if tokens == nil {
		tokens = b.Head.Tokens
	}
	if len(tokens) != b.Head.Vocab {
		return nil, fmt.Errorf("lens: %d token texts for a vocabulary of %d", len(tokens), b.Head.Vocab)
	}
	K, D, F, N := ca.Positions, ca.Dim, ca.Flips, float64(len(ca.Used))
	heads := []struct {
		name string
		h    *Head
	}{{"B", b.Head}, {"A", a.Head}}
	var rows []schema.LensRow
	for s, layer := range ca.Layers {
		// pos(k) averages over the positions for k = -1.
		pos := func(v []float64, k int) []float64 {
			out := make([]float64, D)
			for kk := range K {
				if k >= 0 && kk != k {
					continue
				}
				for j, x := range v[(s*K+kk)*D : (s*K+kk+1)*D] {
					out[j] += x
				}
			}
			if k < 0 {
				for j := range out {
					out[j] /= float64(K)
				}
			}
			return out
		}
		diff := func(va, vb []float64, k int) []float64 {
			pa, pb := pos(va, k), pos(vb, k)
			for j := range pb {
				pb[j] = (pb[j] - pa[j]) / N
			}
			return pb
		}
		rmsA := func(k int) float64 {
			var ss float64
			for kk := range K {
				if k < 0 || kk == k {
					ss += ca.SumSq[s*K+kk]
				}
			}
			if k < 0 {
				ss /= float64(K)
			}
			return math.Sqrt(ss / N)
		}
		var pooled []float64
		for k := -1; k < K; k++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			vs := [][]float64{diff(ca.Sum, cb.Sum, k)}
			for f := range F {
				vs = append(vs, diff(ca.Flipped[f], cb.Flipped[f], k))
			}
			if k < 0 {
				pooled = vs[0]
			}
			nrm := norm(vs[0])
			base := schema.LensRow{Layer: int32(layer), Position: int32(k), Direction: schema.LensMean,
				Norm: nrm, RelNorm: ratio(nrm, rmsA(k)), Texts: int32(len(ca.Used)), Flips: int32(F)}
			for _, h := range heads {
				base.Head = h.name
				rows = append(rows, read(h.h, vs, base, tokens, o)...)
			}
		}
		if o.Components == 0 {
			continue
		}
		deltas := make([][]float64, len(ca.Used))
		for u := range deltas {
			da, db := ca.TextMeans[u][s*D:(s+1)*D], cb.TextMeans[u][s*D:(s+1)*D]
			deltas[u] = make([]float64, D)
			for j := range D {
				deltas[u][j] = float64(db[j]) - float64(da[j])
			}
		}
		comps, vars, total := principal(deltas, o.Components, o.Iterations, o.Seed+uint64(s))
		for c, v := range comps {
			if dot(v, pooled) < 0 {
				for j := range v {
					v[j] = -v[j]
				}
			}
			sd := math.Sqrt(vars[c])
			share := vars[c] / total
			base := schema.LensRow{Layer: int32(layer), Position: -1, Direction: fmt.Sprintf("%s%d", schema.LensPC, c+1),
				Norm: sd, RelNorm: ratio(sd, rmsA(-1)), VarianceShare: &share, Texts: int32(len(ca.Used)), Flips: int32(F)}
			for _, h := range heads {
				base.Head = h.name
				rows = append(rows, read(h.h, [][]float64{v}, base, tokens, o)...)
			}
		}
	}
	return rows, nil
}

// read decodes vs[0] through head h, with vs[1:] as its null, and returns the top tokens of both
// sides as rows completing base.
func read(h *Head, vs [][]float64, base schema.LensRow, tokens []string, o Options) []schema.LensRow {
	n, V := len(vs), h.Vocab
	// The null's directions are scaled as the observed one, so that each token's logit is a fixed
	// linear function of the difference and its flips.
	sc := h.rmsScale(vs[0])
	x := make([]float32, 0, n*h.Dim)
	for _, v := range vs {
		x = append(x, h.scaled(v, sc)...)
	}
	// logits[t*n+c] is token t's logit under vs[c].
	logits := make([]float32, V*n)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: V, Cols: h.Dim, Stride: h.Dim, Data: h.W},
		blas32.General{Rows: n, Cols: h.Dim, Stride: h.Dim, Data: x},
		0, blas32.General{Rows: V, Cols: n, Stride: n, Data: logits})
	F := n - 1
	z := make([]float64, V)
	hiF, loF := make([]float64, F), make([]float64, F) // per flip: the largest and smallest z
	for f := range F {
		hiF[f], loF[f] = math.Inf(-1), math.Inf(1)
	}
	for t := range V {
		z[t] = math.NaN()
		if F < 2 {
			continue
		}
		row := logits[t*n : (t+1)*n]
		var mean, ss float64
		for _, l := range row[1:] {
			mean += float64(l)
		}
		mean /= float64(F)
		for _, l := range row[1:] {
			ss += (float64(l) - mean) * (float64(l) - mean)
		}
		sd := math.Sqrt(ss / float64(F-1))
		if !(sd > 1e-9*(1+math.Abs(mean))) {
			continue
		}
		z[t] = (float64(row[0]) - mean) / sd
		for f, l := range row[1:] {
			zf := (float64(l) - mean) / sd
			hiF[f], loF[f] = max(hiF[f], zf), min(loF[f], zf)
		}
	}
	var out []schema.LensRow
	for _, side := range []string{schema.LensPromoted, schema.LensSuppressed} {
		sign := 1.0
		if side == schema.LensSuppressed {
			sign = -1
		}
		order := make([]int, V)
		for t := range order {
			order[t] = t
		}
		slices.SortStableFunc(order, func(p, q int) int {
			return cmp.Compare(sign*float64(logits[q*n]), sign*float64(logits[p*n]))
		})
		for r, t := range order[:min(o.Top, V)] {
			row := base
			row.Side, row.Rank, row.TokenID, row.Token, row.Logit = side, int32(r+1), int32(t), tokens[t], float64(logits[t*n])
			if !math.IsNaN(z[t]) {
				zt := z[t]
				reach := 0
				for f := range F {
					if side == schema.LensPromoted && hiF[f] >= zt || side == schema.LensSuppressed && loF[f] <= zt {
						reach++
					}
				}
				p := float64(1+reach) / float64(1+F)
				row.Z, row.P, row.Significant = &zt, &p, p <= o.Alpha
			}
			out = append(out, row)
		}
	}
	return out
}

// principal returns up to k principal directions of the centred rows of x (unit vectors, by
// power iteration with deflation), their variances and the total variance (both with divisor
// len(x)). Directions of no variance are not returned.
func principal(x [][]float64, k, iters int, seed uint64) (dirs [][]float64, vars []float64, total float64) {
	n, d := len(x), len(x[0])
	mean := make([]float64, d)
	for _, r := range x {
		for j, v := range r {
			mean[j] += v / float64(n)
		}
	}
	c := make([][]float64, n)
	for i, r := range x {
		c[i] = make([]float64, d)
		for j, v := range r {
			c[i][j] = v - mean[j]
			total += c[i][j] * c[i][j] / float64(n)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x70636173))
	for range min(k, n-1, d) {
		v := make([]float64, d)
		for j := range v {
			v[j] = rng.NormFloat64()
		}
		var lambda float64
		for range max(iters, 1) {
			deflate(v, dirs)
			w := make([]float64, d)
			for _, r := range c {
				p := dot(r, v)
				for j, x := range r {
					w[j] += p * x
				}
			}
			deflate(w, dirs)
			nw := norm(w)
			if nw == 0 {
				break
			}
			for j := range w {
				w[j] /= nw
			}
			v = w
		}
		deflate(v, dirs)
		if nv := norm(v); nv > 0 {
			for j := range v {
				v[j] /= nv
			}
		}
		lambda = 0
		for _, r := range c {
			p := dot(r, v)
			lambda += p * p / float64(n)
		}
		if !(lambda > 1e-12*total) {
			break
		}
		dirs, vars = append(dirs, v), append(vars, lambda)
	}
	return dirs, vars, total
}

// deflate removes from v its components along the unit vectors dirs.
func deflate(v []float64, dirs [][]float64) {
	for _, u := range dirs {
		p := dot(v, u)
		for j := range v {
			v[j] -= p * u[j]
		}
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for j := range a {
		s += a[j] * b[j]
	}
	return s
}

func norm(v []float64) float64 { return math.Sqrt(dot(v, v)) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
