package weightdiff

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// denseSource is an in-memory matrix handed out in blocks of blockRows rows.
type denseSource struct {
	m, n      int
	data      []float64
	blockRows int
}

func (s *denseSource) Dims() (int, int) { return s.m, s.n }

func (s *denseSource) Blocks(fn func(int, []float64) error) error {
	for r0 := 0; r0 < s.m; r0 += s.blockRows {
		nr := min(s.blockRows, s.m-r0)
		if err := fn(r0, s.data[r0*s.n:(r0+nr)*s.n]); err != nil {
			return err
		}
	}
	return nil
}

func (s *denseSource) energy() float64 {
	var e float64
	for _, v := range s.data {
		e += v * v
	}
	return e
}

// orthonormalColumns returns an m×r matrix with orthonormal columns.
func orthonormalColumns(rng *rand.Rand, m, r int) *mat.Dense {
	a := mat.NewDense(m, r, nil)
	for i := range m {
		for j := range r {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var q mat.Dense
	qr.QTo(&q)
	return mat.DenseCopyOf(q.Slice(0, m, 0, r))
}

// planted returns the m×n matrix U diag(sv) Vᵀ with random orthonormal U and V.
func planted(rng *rand.Rand, m, n int, sv []float64) *denseSource {
	u, v := orthonormalColumns(rng, m, len(sv)), orthonormalColumns(rng, n, len(sv))
	for j, s := range sv {
		for i := range m {
			u.Set(i, j, u.At(i, j)*s)
		}
	}
	var d mat.Dense
	d.Mul(u, v.T())
	return &denseSource{m: m, n: n, data: d.RawMatrix().Data, blockRows: 7}
}

func TestSpectrumPlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	exact := Options{Top: 8, ExactMax: 1 << 20, Sketch: 16, PowerIters: 2, Seed: 1}
	randomized := exact
	randomized.ExactMax = 0
	for _, tc := range []struct {
		name       string
		m, n       int
		sv         []float64
		rank90     int
		rank1Error float64
	}{
		{"rank 1 tall", 90, 40, []float64{3}, 1, 0},
		{"rank 1 wide", 40, 90, []float64{0.01}, 1, 0},
		{"rank 3 equal", 60, 50, []float64{2, 2, 2}, 3, math.Sqrt(2.0 / 3)},
		{"rank 3 unequal", 50, 60, []float64{3, 2, 1}, 2, math.Sqrt(5.0 / 14)},     // 9/14 < 0.9 <= 13/14
		{"rank 5 wide", 20, 70, []float64{5, 4, 3, 2, 1}, 3, math.Sqrt(30.0 / 55)}, // 41/55 < 0.9 <= 50/55
	} {
		for _, o := range []Options{exact, randomized} {
			src := planted(rng, tc.m, tc.n, tc.sv)
			s, err := spectrumOf(src, src.energy(), o)
			if err != nil {
				t.Fatal(err)
			}
			name := tc.name + " " + s.Method
			if (o.ExactMax == 0) != (s.Method == "randomized") {
				t.Errorf("%s: method %s", name, s.Method)
			}
			if want := min(o.Top, tc.m, tc.n, map[bool]int{true: o.Sketch, false: 1 << 30}[s.Method == "randomized"]); len(s.Singular) != want {
				t.Errorf("%s: %d singular values, want %d", name, len(s.Singular), want)
			}
			for i, v := range s.Singular {
				want := 0.0
				if i < len(tc.sv) {
					want = tc.sv[i]
				}
				// the zeros come from the Gram matrix's eigenvalues: about sqrt(eps)·s1
				if math.Abs(v-want) > 1e-9*tc.sv[0] && !(want == 0 && v < 1e-6*tc.sv[0]) {
					t.Errorf("%s: singular value %d = %g, want %g", name, i, v, want)
				}
			}
			if s.Rank90 != tc.rank90 {
				t.Errorf("%s: rank90 %d, want %d", name, s.Rank90, tc.rank90)
			}
			if math.Abs(s.Rank1Error-tc.rank1Error) > 1e-6 {
				t.Errorf("%s: rank-1 error %g, want %g", name, s.Rank1Error, tc.rank1Error)
			}
			if math.Abs(s.TopEnergy-1) > 1e-9 {
				t.Errorf("%s: top energy %g, want 1", name, s.TopEnergy)
			}
		}
	}
}

// TestSpectrumRandomizedFullRank compares the randomized estimates with the exact spectrum of a
// full-rank matrix whose singular values decay, and one (noise) whose do not.
func TestSpectrumRandomizedFullRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, n := 300, 200
	sv := make([]float64, n)
	for i := range sv {
		sv[i] = math.Pow(0.85, float64(i))
	}
	src := planted(rng, m, n, sv)
	e := src.energy()
	ex, err := spectrumOf(src, e, Options{Top: 8, ExactMax: n, Sketch: 32, PowerIters: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := spectrumOf(src, e, Options{Top: 8, ExactMax: n - 1, Sketch: 32, PowerIters: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Method != "exact" || rd.Method != "randomized" {
		t.Fatalf("methods %s, %s", ex.Method, rd.Method)
	}
	for i := range 8 {
		if math.Abs(ex.Singular[i]-sv[i]) > 1e-9 {
			t.Errorf("exact singular value %d = %g, want %g", i, ex.Singular[i], sv[i])
		}
		if rd.Singular[i] > sv[i]*(1+1e-9) || rd.Singular[i] < sv[i]*0.995 {
			t.Errorf("randomized singular value %d = %g, want a little under %g", i, rd.Singular[i], sv[i])
		}
	}
	// 0.85^(2r) sums to 90% at r = 7.08: rank 8.
	if ex.Rank90 != 8 || rd.Rank90 != 8 {
		t.Errorf("rank90 exact %d randomized %d, want 8", ex.Rank90, rd.Rank90)
	}
	if math.Abs(ex.Rank1Error-rd.Rank1Error) > 1e-3 || rd.Rank1Error < ex.Rank1Error-1e-12 {
		t.Errorf("rank-1 error exact %g randomized %g", ex.Rank1Error, rd.Rank1Error)
	}

	// Noise: 90% of the energy takes most directions; the randomized sketch cannot say how many.
	noise := &denseSource{m: m, n: n, data: make([]float64, m*n), blockRows: 64}
	for i := range noise.data {
		noise.data[i] = rng.NormFloat64()
	}
	ex, _ = spectrumOf(noise, noise.energy(), Options{Top: 8, ExactMax: n, Sketch: 32, PowerIters: 2, Seed: 1})
	rd, _ = spectrumOf(noise, noise.energy(), Options{Top: 8, ExactMax: 0, Sketch: 32, PowerIters: 2, Seed: 1})
	if ex.Rank90 < n/2 || ex.Rank90 > n || ex.Rank1Error < 0.9 {
		t.Errorf("noise: rank90 %d, rank-1 error %g", ex.Rank90, ex.Rank1Error)
	}
	if rd.Rank90 != -1 || rd.TopEnergy >= 0.9 {
		t.Errorf("noise, randomized: rank90 %d (want -1, unknown), top energy %g", rd.Rank90, rd.TopEnergy)
	}
	if rd.Singular[0] > ex.Singular[0]*(1+1e-9) || rd.Singular[0] < 0.9*ex.Singular[0] {
		t.Errorf("noise: randomized s1 %g, exact %g", rd.Singular[0], ex.Singular[0])
	}
}

func TestSpectrumZero(t *testing.T) {
	for _, o := range []Options{{Top: 8, ExactMax: 100, Sketch: 8}, {Top: 8, ExactMax: 0, Sketch: 8}} {
		src := &denseSource{m: 5, n: 12, data: make([]float64, 60), blockRows: 2}
		s, err := spectrumOf(src, 0, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Singular) != 5 || s.Singular[0] != 0 || s.Rank90 != 0 || s.Rank1Error != 0 || s.TopEnergy != 1 {
			t.Errorf("zero matrix: %+v", s)
		}
	}
}
