package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randRows(rng *rand.Rand, n, d int) []float32 {
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestDots3AsmMatchesGo checks the assembly kernel (where the CPU has it)
// against the portable one and a float64 reference, for dimensions with and
// without a tail of fewer than eight coordinates.
func TestDots3AsmMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	if !useAVX2 {
		t.Log("no AVX2/FMA: checking the portable kernel only")
	}
	for _, d := range []int{1, 3, 7, 8, 9, 16, 23, 24, 100, 384} {
		for _, kp := range []int{4, 8, 52} {
			x := randRows(rng, 3, d)
			cent := randRows(rng, kp, d)
			x0, x1, x2 := x[:d], x[d:2*d], x[2*d:]
			got := make([]float32, 3*kp)
			ref := make([]float32, 3*kp)
			dots3(x0, x1, x2, nil, cent, kp, d, got)
			dots3Go(x0, x1, x2, cent, kp, d, ref)
			for c := range kp {
				for r, xr := range [][]float32{x0, x1, x2} {
					var exact, mag float64
					for t := range d {
						p := float64(xr[t]) * float64(cent[c*d+t])
						exact += p
						mag += math.Abs(p)
					}
					i := (3*(c/4)+r)*4 + c%4
					tol := 1e-5 * (mag + 1)
					if math.Abs(float64(got[i])-exact) > tol || math.Abs(float64(ref[i])-exact) > tol {
						t.Fatalf("d=%d kp=%d row %d centroid %d: kernel %v, Go %v, exact %v",
							d, kp, r, c, got[i], ref[i], exact)
					}
				}
			}
		}
	}
}

func TestAddF32ToF64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 3, 4, 5, 8, 12, 31, 64, 385} {
		src := randRows(rng, 1, n)
		a := make([]float64, n)
		b := make([]float64, n)
		for i := range a {
			a[i] = rng.NormFloat64()
			b[i] = a[i]
		}
		addF32ToF64(a, src)
		for i, v := range src {
			b[i] += float64(v)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, a[i], b[i])
			}
		}
	}
}

// BenchmarkDots3 measures the kernel on points that fit the L2 cache (512)
// and on points streamed from memory (100,000), 52 centroids of dimension 384.
func BenchmarkDots3(b *testing.B) {
	for _, n := range []int{512, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchDots3(b, n) })
	}
}

func benchDots3(b *testing.B, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d, kp = 384, 52
	x := randRows(rng, n, d)
	xs := make([][]float32, n)
	for i := range xs {
		xs[i] = x[i*d : (i+1)*d]
	}
	cent := randRows(rng, kp, d)
	s := getScratch(n, kp)
	for _, impl := range []struct {
		name string
		asm  bool
	}{{"asm", true}, {"go", false}} {
		b.Run(impl.name, func(b *testing.B) {
			if impl.asm && !useAVX2 {
				b.Skip("no AVX2")
			}
			for b.Loop() {
				if impl.asm {
					dotsRows(xs, cent, kp, d, s.buf, func(int, int, []float32) {})
					continue
				}
				for i := 0; i < n; i += 3 {
					dots3Go(xs[i], xs[min(i+1, n-1)], xs[min(i+2, n-1)], cent, kp, d, s.buf)
				}
			}
			b.ReportMetric(float64(2*n*kp*d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
