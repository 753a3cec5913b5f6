package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestAdjustProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 300 {
		m := 1 + rng.IntN(60)
		p := make([]float64, m)
		for i := range p {
			switch rng.IntN(5) {
			case 0:
				p[i] = math.Round(rng.Float64()*20) / 20 // ties
			case 1:
				p[i] = math.Pow(10, -40*rng.Float64()) // tiny
			default:
				p[i] = rng.Float64()
			}
		}
		bh, _ := BHAdjust(p)
		holm, _ := HolmAdjust(p)
		bonf, _ := BonferroniAdjust(p)
		for i := range p {
			if !(bh[i] >= p[i] && bh[i] <= 1) {
				t.Fatalf("trial %d: BH q=%g not in [p=%g, 1]", trial, bh[i], p[i])
			}
			if !(bh[i] <= holm[i]*(1+1e-15) && holm[i] <= bonf[i]*(1+1e-15)) {
				t.Fatalf("trial %d: want BH %g <= Holm %g <= Bonferroni %g", trial, bh[i], holm[i], bonf[i])
			}
			for j := range p {
				if p[i] < p[j] && (bh[i] > bh[j] || holm[i] > holm[j]) {
					t.Fatalf("trial %d: not monotone: p %g<%g but BH %g,%g Holm %g,%g", trial, p[i], p[j], bh[i], bh[j], holm[i], holm[j])
				}
				if p[i] == p[j] && (bh[i] != bh[j] || holm[i] != holm[j]) {
					t.Fatalf("trial %d: ties get different adjusted values", trial)
				}
			}
		}
		// The largest BH q-value is min over k of m p_(k)/k restricted to
		// k = m, i.e. max(p) when it is the minimum; and the smallest Holm
		// value equals the smallest Bonferroni value (both m min p).
		sorted := append([]float64(nil), p...)
		sort.Float64s(sorted)
		iMin := argmin(p)
		if holm[iMin] != bonf[iMin] {
			t.Fatalf("trial %d: Holm and Bonferroni differ at min p: %g vs %g", trial, holm[iMin], bonf[iMin])
		}
		iMax := argmax(p)
		if !approx(bh[iMax], sorted[m-1], 1e-15, 0) {
			t.Fatalf("trial %d: BH of max p should equal max p: %g vs %g", trial, bh[iMax], sorted[m-1])
		}
		if m == 1 && (bh[0] != p[0] || holm[0] != p[0]) {
			t.Fatalf("m=1 must leave p unchanged")
		}
	}
}

func argmin(v []float64) int {
	k := 0
	for i := range v {
		if v[i] < v[k] {
			k = i
		}
	}
	return k
}

func argmax(v []float64) int {
	k := 0
	for i := range v {
		if v[i] > v[k] {
			k = i
		}
	}
	return k
}

func TestAdjustNaNAndErrors(t *testing.T) {
	q, err := BHAdjust([]float64{0.01, math.NaN(), 0.04})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(q[1]) || q[0] != 0.02 || q[2] != 0.04 {
		t.Errorf("BH with NaN: got %v (NaN must be ignored, m=2)", q)
	}
	for _, bad := range [][]float64{{-0.1}, {1.5}, {0.2, math.Inf(1)}} {
		if _, err := BHAdjust(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("BH(%v): want ErrInvalid, got %v", bad, err)
		}
		if _, err := HolmAdjust(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Holm(%v): want ErrInvalid, got %v", bad, err)
		}
	}
	if q, err := BHAdjust(nil); err != nil || len(q) != 0 {
		t.Errorf("BH(nil) = %v, %v", q, err)
	}
}

// A discrete exact test must agree with a direct summation of the pmf
// computed independently via lgamma (small counts, where that is exact
// enough), including the tolerance rule.
func TestFisherBruteForce(t *testing.T) {
	logC := func(n, k int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return a - b - c
	}
	for a := 0; a <= 6; a++ {
		for b := 0; b <= 6; b++ {
			for c := 0; c <= 6; c++ {
				for d := 0; d <= 6; d++ {
					if a+b == 0 || c+d == 0 {
						continue
					}
					got, err := FisherExact2x2(a, b, c, d)
					if err != nil {
						t.Fatal(err)
					}
					N, K, n := a+b+c+d, a+b, a+c
					pmf := func(x int) float64 { return math.Exp(logC(K, x) + logC(N-K, n-x) - logC(N, n)) }
					var want float64
					pobs := pmf(a)
					for x := max(0, n-(N-K)); x <= min(n, K); x++ {
						if px := pmf(x); px <= pobs*(1+1e-7) {
							want += px
						}
					}
					want = math.Min(1, want)
					if !approx(got, want, 1e-11, 0) {
						t.Errorf("Fisher [[%d %d] [%d %d]]: got %g, brute force %g", a, b, c, d, got, want)
					}
				}
			}
		}
	}
}

func TestExtremePValues(t *testing.T) {
	// Fisher for [[n 0] [0 n]]: p = 2 / C(2n, n) exactly.
	for _, n := range []int{10, 50, 100, 300} {
		p, _ := FisherExact2x2(n, 0, 0, n)
		lc, _ := math.Lgamma(float64(2*n + 1))
		lh, _ := math.Lgamma(float64(n + 1))
		want := 2 * math.Exp(-(lc - 2*lh))
		check(t, fmt.Sprintf("Fisher [[%d 0][0 %d]]", n, n), p, want, 1e-9, 0)
	}
	// Binomial all-successes at p=1/2: 2 * 2^-n.
	for _, n := range []int{10, 100, 1000} {
		p, _ := BinomTest(n, n, 0.5)
		check(t, fmt.Sprintf("binom %d/%d", n, n), p, 2*math.Pow(2, -float64(n)), 1e-9, 0)
	}
	// p-values around 1e-30 pass through the adjusters exactly.
	q, _ := BHAdjust([]float64{1e-30, 0.5})
	check(t, "BH 1e-30", q[0], 2e-30, 1e-15, 0)
}

func TestDegenerateInputs(t *testing.T) {
	if _, err := FisherExact2x2(0, 0, 3, 4); !errors.Is(err, ErrEmpty) {
		t.Errorf("Fisher empty group: %v", err)
	}
	if _, err := FisherExact2x2(-1, 2, 3, 4); !errors.Is(err, ErrInvalid) {
		t.Errorf("Fisher negative: %v", err)
	}
	if p, err := FisherExact2x2(0, 5, 0, 7); err != nil || p != 1 {
		t.Errorf("Fisher empty column: %v %v, want 1", p, err)
	}
	if _, _, err := ChiSquare2x2(3, 4, 0, 0, true); !errors.Is(err, ErrEmpty) {
		t.Errorf("chi2 empty group: %v", err)
	}
	if _, _, err := ChiSquare2x2(0, 5, 0, 7, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("chi2 empty column: %v", err)
	}
	if _, err := BinomTest(0, 0, 0.5); !errors.Is(err, ErrEmpty) {
		t.Errorf("binom n=0: %v", err)
	}
	if _, err := BinomTest(3, 2, 0.5); !errors.Is(err, ErrInvalid) {
		t.Errorf("binom k>n: %v", err)
	}
	if _, err := BinomTest(1, 2, 1.5); !errors.Is(err, ErrInvalid) {
		t.Errorf("binom p>1: %v", err)
	}
	if p, _ := BinomTest(0, 5, 0); p != 1 {
		t.Errorf("binom p0=0, k=0: %v", p)
	}
	if p, _ := BinomTest(1, 5, 0); p != 0 {
		t.Errorf("binom p0=0, k=1: %v", p)
	}
	if _, _, err := WilsonCI(0, 0, 0.95); !errors.Is(err, ErrEmpty) {
		t.Errorf("Wilson n=0: %v", err)
	}
	if _, _, err := WilsonCI(1, 2, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("Wilson conf=1: %v", err)
	}
	if _, _, _, err := NewcombeDiffCI(1, 2, 0, 0, 0.95); !errors.Is(err, ErrEmpty) {
		t.Errorf("Newcombe empty: %v", err)
	}
	if _, err := CohenH(1.2, 0.5); !errors.Is(err, ErrInvalid) {
		t.Errorf("CohenH: %v", err)
	}
	if _, err := MannWhitneyU(nil, []float64{1}, MethodAuto); !errors.Is(err, ErrEmpty) {
		t.Errorf("MWU empty: %v", err)
	}
	if _, err := MannWhitneyU([]float64{math.NaN()}, []float64{1}, MethodAuto); !errors.Is(err, ErrInvalid) {
		t.Errorf("MWU NaN: %v", err)
	}
	if _, err := AUCDeLong([]float64{1}, []float64{1, 2}, 0.95); !errors.Is(err, ErrInvalid) {
		t.Errorf("DeLong n1=1: %v", err)
	}
	if _, err := PermutationTestMeanDiff([]float64{1}, nil, 100, 1); !errors.Is(err, ErrEmpty) {
		t.Errorf("perm empty: %v", err)
	}
	if _, err := WilcoxonSignedRank(nil, nil, MethodAuto, false); !errors.Is(err, ErrEmpty) {
		t.Errorf("wilcoxon empty: %v", err)
	}
	if _, err := WilcoxonSignedRank([]float64{1, 2}, []float64{1, 2}, MethodAuto, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("wilcoxon all zero: %v", err)
	}
	if _, err := WilcoxonSignedRank([]float64{1, 2}, []float64{1}, MethodAuto, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("wilcoxon length mismatch: %v", err)
	}
	if _, err := WilcoxonSignedRank([]float64{1, 1, 2}, nil, MethodExact, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("wilcoxon exact with ties: %v", err)
	}
	if r, err := MannWhitneyU([]float64{2, 2}, []float64{2, 2, 2}, MethodAuto); err != nil || r.PValue != 1 {
		t.Errorf("MWU all tied: %+v %v", r, err)
	}
}

// The exact Mann-Whitney null must agree with brute-force enumeration.
func TestMannWhitneyExactBruteForce(t *testing.T) {
	for m := 1; m <= 6; m++ {
		for n := 1; n <= 6; n++ {
			counts := make([]int, m*n+1)
			total := 0
			// Enumerate arrangements as bitmasks of length m+n with m ones (x).
			for mask := 0; mask < 1<<(m+n); mask++ {
				if popcount(mask) != m {
					continue
				}
				u, ys := 0, 0
				for b := 0; b < m+n; b++ {
					if mask>>b&1 == 1 {
						u += ys
					} else {
						ys++
					}
				}
				counts[u]++
				total++
			}
			cum := 0
			for k := 0; k <= m*n; k++ {
				cum += counts[k]
				check(t, fmt.Sprintf("mwuCDF(%d,%d,%d)", m, n, k), mwuCDF(m, n, k), float64(cum)/float64(total), 1e-13, 0)
			}
		}
	}
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestPermutationProperties(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	y := []float64{3, 5, 7, 9, 11, 13, 15, 17, 19, 21}
	a, _ := PermutationTestMeanDiff(x, y, 5000, 1)
	b, _ := PermutationTestMeanDiff(x, y, 5000, 2)
	if a.PValue == b.PValue {
		t.Logf("different seeds gave identical p (possible but unlikely): %g", a.PValue)
	}
	if a.PValue <= 0 || a.PValue > 1 {
		t.Errorf("p out of range: %g", a.PValue)
	}
	// Swapping groups flips the sign of the difference and, with the same
	// seed, draws subsets of the other size; p must stay close.
	c, _ := PermutationTestMeanDiff(y, x, 5000, 1)
	if c.Diff != -a.Diff {
		t.Errorf("swap: diff %g vs %g", c.Diff, a.Diff)
	}
	// Identical groups: the observed difference is 0, so every split is at
	// least as extreme and p = 1.
	d, _ := PermutationTestMeanDiff([]float64{1, 2, 3}, []float64{1, 2, 3}, 1000, 1)
	if d.PValue != 1 {
		t.Errorf("identical groups: p=%g, want 1", d.PValue)
	}
}

// For k = 0, 1, n-1, n the Clopper-Pearson bounds have closed forms, e.g.
// k = 0: hi = 1 - (alpha/2)^(1/n); k = 1: lo = 1 - (1 - alpha/2)^(1/n).
// gonum's InvRegIncBeta loses a little accuracy for very large n, hence
// the looser tolerance there (still far below any reporting precision).
func TestClopperPearsonClosedForm(t *testing.T) {
	for _, n := range []int{1, 2, 5, 10, 100, 1000, 100000} {
		tol := 1e-12
		if n > 1000 {
			tol = 1e-9
		}
		for _, conf := range []float64{0.9, 0.95, 0.99} {
			a2 := (1 - conf) / 2
			pow := func(b float64) float64 { return -math.Expm1(math.Log(b) / float64(n)) } // 1 - b^(1/n)
			lo, hi, _ := ClopperPearsonCI(0, n, conf)
			check(t, fmt.Sprintf("n=%d conf=%g k=0 lo", n, conf), lo, 0, 0, 0)
			check(t, fmt.Sprintf("n=%d conf=%g k=0 hi", n, conf), hi, pow(a2), tol, 0)
			lo, hi, _ = ClopperPearsonCI(n, n, conf)
			check(t, fmt.Sprintf("n=%d conf=%g k=n lo", n, conf), lo, 1-pow(a2), tol, 0)
			check(t, fmt.Sprintf("n=%d conf=%g k=n hi", n, conf), hi, 1, 0, 0)
			if n >= 2 {
				lo, _, _ = ClopperPearsonCI(1, n, conf)
				check(t, fmt.Sprintf("n=%d conf=%g k=1 lo", n, conf), lo, pow(1-a2), tol, 0)
				_, hi, _ = ClopperPearsonCI(n-1, n, conf)
				check(t, fmt.Sprintf("n=%d conf=%g k=n-1 hi", n, conf), hi, 1-pow(1-a2), tol, 0)
			}
		}
	}
}
