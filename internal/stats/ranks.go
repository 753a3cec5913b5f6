package stats

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
)

// midranks returns the 1-based ranks of xs with ties given their average
// rank (scipy.stats.rankdata method='average'), and sum(t^3 - t) over the
// tie groups, plus whether any tie exists.
func midranks(xs []float64) (ranks []float64, tieTerm float64, ties bool) {
	n := len(xs)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	ranks = make([]float64, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && xs[idx[j]] == xs[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // average of ranks i+1 .. j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		if t := float64(j - i); t > 1 {
			tieTerm += t*t*t - t
			ties = true
		}
		i = j
	}
	return ranks, tieTerm, ties
}

func checkTwoSamples(x, y []float64) error {
	if len(x) == 0 || len(y) == 0 {
		return emptyf("two-sample test needs non-empty samples (got n1=%d, n2=%d)", len(x), len(y))
	}
	if err := checkFinite("x", x); err != nil {
		return err
	}
	return checkFinite("y", y)
}

// MannWhitneyResult is the outcome of MannWhitneyU.
type MannWhitneyResult struct {
	// U is the statistic of the first sample: the number of pairs with
	// x > y plus half the number of tied pairs (scipy's U1).
	U float64
	// AUC is U / (n1 n2), the probability that a random x exceeds a random
	// y (ties counted one half).
	AUC    float64
	PValue float64
	// Method is the method actually used (never MethodAuto).
	Method Method
}

// mwuExactMaxProduct bounds n1*n2 for the exact Mann-Whitney null; the
// recursion costs O((n1 n2)^2) in the worst case.
const (
	mwuAutoMaxProduct  = 20000
	mwuExactMaxProduct = 50000
)

// MannWhitneyU performs the two-sided Mann-Whitney U (Wilcoxon rank-sum)
// test (Mann & Whitney 1947, Ann. Math. Stat. 18:50-60; Hollander, Wolfe &
// Chicken 2014, Nonparametric Statistical Methods, 3rd ed., §4.1), matching
// scipy.stats.mannwhitneyu(x, y, use_continuity=True,
// alternative='two-sided', method=...):
//
//   - MethodAsymptotic: z = (max(U1,U2) - n1 n2/2 - 0.5) / s with the tie
//     corrected s = sqrt(n1 n2/12 ((N+1) - sum(t^3-t)/(N(N-1)))) and
//     p = 2 P(Z > z), clipped to 1.
//   - MethodExact: p = 2 P(U >= max(U1,U2)) under the exact null of U
//     without ties, computed by the recursion of Mann & Whitney (1947) in
//     probability form, p(m,n,k) = m/(m+n) p(m-1,n,k-n) + n/(m+n) p(m,n-1,k).
//     Ties are an error (the tie-free null does not apply; SciPy silently
//     truncates U), as is n1*n2 > 50000 (use the asymptotic method).
//   - MethodAuto: exact when there are no ties and min(n1,n2) <= 8 (SciPy's
//     rule) and additionally n1*n2 <= 20000 (to bound the cost; SciPy has no
//     such cap); asymptotic otherwise.
//
// If every observation is equal the p-value is 1. Empty samples and NaN
// values are errors.
func MannWhitneyU(x, y []float64, method Method) (MannWhitneyResult, error) {
	if err := checkTwoSamples(x, y); err != nil {
		return MannWhitneyResult{}, err
	}
	n1, n2 := len(x), len(y)
	xy := append(append(make([]float64, 0, n1+n2), x...), y...)
	ranks, tieTerm, ties := midranks(xy)
	var r1 float64
	for _, r := range ranks[:n1] {
		r1 += r
	}
	f1, f2 := float64(n1), float64(n2)
	u1 := r1 - f1*(f1+1)/2
	u2 := f1*f2 - u1
	res := MannWhitneyResult{U: u1, AUC: u1 / (f1 * f2)}

	switch method {
	case MethodAuto:
		if !ties && min(n1, n2) <= 8 && n1*n2 <= mwuAutoMaxProduct {
			method = MethodExact
		} else {
			method = MethodAsymptotic
		}
	case MethodExact:
		if ties {
			return MannWhitneyResult{}, invalidf("exact Mann-Whitney null requires no ties; use MethodAsymptotic or a permutation test")
		}
		if n1*n2 > mwuExactMaxProduct {
			return MannWhitneyResult{}, invalidf("exact Mann-Whitney null too costly for n1*n2=%d > %d; use MethodAsymptotic", n1*n2, mwuExactMaxProduct)
		}
	case MethodAsymptotic:
	default:
		return MannWhitneyResult{}, invalidf("unknown method %v", method)
	}
	res.Method = method

	if method == MethodExact {
		k := int(math.Round(math.Min(u1, u2)))
		res.PValue = clip01(2 * mwuCDF(n1, n2, k))
		return res, nil
	}
	N := f1 + f2
	s := math.Sqrt(f1 * f2 / 12 * ((N + 1) - tieTerm/(N*(N-1))))
	if !(s > 0) { // all observations tied (or N = 2 with a tie)
		res.PValue = 1
		return res, nil
	}
	z := (math.Max(u1, u2) - f1*f2/2 - 0.5) / s
	res.PValue = clip01(2 * normSF(z))
	return res, nil
}

// mwuCDF returns P(U <= k) for the tie-free Mann-Whitney null with sample
// sizes m, n, by the Mann-Whitney (1947) recursion in probability form.
// Only additions of non-negative terms occur, so it is numerically stable.
func mwuCDF(m, n, k int) float64 {
	if k < 0 {
		return 0
	}
	if k >= m*n {
		return 1
	}
	// The null of U is symmetric in (m, n); keep the inner dimension small.
	s, l := min(m, n), max(m, n)
	K := k + 1
	// prev[j*K+u] = p(i-1, j, u); cur = p(i, j, u), for i over the large
	// sample and j over the small one.
	prev := make([]float64, (s+1)*K)
	cur := make([]float64, (s+1)*K)
	for j := 0; j <= s; j++ {
		prev[j*K] = 1 // p(0, j, 0) = 1
	}
	for i := 1; i <= l; i++ {
		cur[0] = 1 // p(i, 0, 0) = 1
		for u := 1; u < K; u++ {
			cur[u] = 0
		}
		for j := 1; j <= s; j++ {
			wi := float64(i) / float64(i+j)
			wj := float64(j) / float64(i+j)
			c := cur[j*K : (j+1)*K]
			pc := cur[(j-1)*K : j*K]
			pp := prev[j*K : (j+1)*K]
			for u := range K {
				v := wj * pc[u]
				if u >= j {
					v += wi * pp[u-j]
				}
				c[u] = v
			}
		}
		prev, cur = cur, prev
	}
	var sum float64
	for _, v := range prev[s*K : (s+1)*K] {
		sum += v
	}
	return math.Min(1, sum)
}

// AUCResult is an area under the ROC curve with a confidence interval.
type AUCResult struct {
	AUC    float64
	SE     float64
	Lo, Hi float64
}

// AUCDeLong returns the AUC = P(X > Y) + P(X = Y)/2 = U1/(n1 n2) of the
// scores x (positives) against y (negatives), with the DeLong standard
// error (DeLong, DeLong & Clarke-Pearson 1988, Biometrics 44:837-845) and
// the Wald interval AUC ± z SE at confidence level conf, clipped to [0, 1]
// (as pROC's ci.auc(method="delong") does). The structural components are
// computed from midranks (Sun & Xu 2014, IEEE Signal Process. Lett.
// 21:1389-1393): V10_i = (R(x_i) - R_x(x_i))/n2 and V01_j = 1 - (R(y_j) -
// R_y(y_j))/n1, SE^2 = var(V10)/n1 + var(V01)/n2 with n-1 denominators.
// Both samples need at least 2 observations. Under complete separation SE is
// 0 and the interval degenerates to a point — DeLong's variance estimate
// is known to be anti-conservative there.
func AUCDeLong(x, y []float64, conf float64) (AUCResult, error) {
	if err := checkTwoSamples(x, y); err != nil {
		return AUCResult{}, err
	}
	if len(x) < 2 || len(y) < 2 {
		return AUCResult{}, invalidf("DeLong variance needs at least 2 observations per group (got n1=%d, n2=%d)", len(x), len(y))
	}
	z, err := zCrit(conf)
	if err != nil {
		return AUCResult{}, err
	}
	n1, n2 := len(x), len(y)
	xy := append(append(make([]float64, 0, n1+n2), x...), y...)
	rc, _, _ := midranks(xy)
	rx, _, _ := midranks(x)
	ry, _, _ := midranks(y)
	v10 := make([]float64, n1)
	for i := range x {
		v10[i] = (rc[i] - rx[i]) / float64(n2)
	}
	v01 := make([]float64, n2)
	for j := range y {
		v01[j] = 1 - (rc[n1+j]-ry[j])/float64(n1)
	}
	auc, s10 := meanVar(v10)
	_, s01 := meanVar(v01)
	se := math.Sqrt(s10/float64(n1) + s01/float64(n2))
	return AUCResult{AUC: auc, SE: se, Lo: math.Max(0, auc-z*se), Hi: math.Min(1, auc+z*se)}, nil
}

// meanVar returns the mean and the unbiased (n-1) variance, two-pass.
func meanVar(v []float64) (mean, variance float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(v)-1)
}

// PermutationResult is the outcome of PermutationTestMeanDiff.
type PermutationResult struct {
	// Diff is mean(x) - mean(y).
	Diff   float64
	PValue float64
	// Exact reports that all C(n1+n2, n1) splits were enumerated.
	Exact bool
	// NPerm is the number of splits evaluated.
	NPerm int
}

// PermutationTestMeanDiff tests equality of distributions with the
// two-sided permutation test of the difference in means, T = mean(x) -
// mean(y), counting splits with |T*| >= |T| (Good 2005, Permutation,
// Parametric and Bootstrap Tests of Hypotheses, 3rd ed., ch. 3; Ernst 2004,
// Stat. Sci. 19:676-685). The comparison allows a relative slack of 1e-9
// (of max(|T|, mean|value|)) so that splits tied with the observed one in
// exact arithmetic are counted despite rounding. (SciPy's
// permutation_test defines two-sided as 2 min(one-sided p) instead; the two
// coincide when the permutation null of T is symmetric, e.g. n1 = n2.)
//
// If C(n1+n2, n1) <= nResamples every split is enumerated and the exact
// p-value (count / C) is returned, as scipy.stats.permutation_test does.
// Otherwise nResamples random splits are drawn and p = (1 + count) /
// (1 + nResamples) (Phipson & Smyth 2010, Stat. Appl. Genet. Mol. Biol.
// 9:39), which is never 0 and is a valid p-value. Random splits come from a
// PCG generator (math/rand/v2 PCG seeded with seed) and a Fisher-Yates
// shuffle with Lemire's bounded integers implemented here, so the result is
// a deterministic function of the data, nResamples and seed.
func PermutationTestMeanDiff(x, y []float64, nResamples int, seed uint64) (PermutationResult, error) {
	return permutationTestMeanDiff(x, y, nResamples, seed, true)
}

func permutationTestMeanDiff(x, y []float64, nResamples int, seed uint64, allowExact bool) (PermutationResult, error) {
	if err := checkTwoSamples(x, y); err != nil {
		return PermutationResult{}, err
	}
	if nResamples < 1 {
		return PermutationResult{}, invalidf("nResamples=%d < 1", nResamples)
	}
	n1, n2 := len(x), len(y)
	N := n1 + n2
	z := append(append(make([]float64, 0, N), x...), y...)
	var total, sx, sAbs float64
	for i, v := range z {
		total += v
		sAbs += math.Abs(v)
		if i < n1 {
			sx += v
		}
	}
	stat := func(s float64) float64 { return s/float64(n1) - (total-s)/float64(n2) }
	tobs := stat(sx)
	thr := math.Abs(tobs) - 1e-9*math.Max(math.Abs(tobs), sAbs/float64(N))
	res := PermutationResult{Diff: tobs}

	if c, ok := binomInt(N, n1, nResamples); ok && allowExact {
		// Enumerate all n1-subsets of {0..N-1} in lexicographic order.
		idx := make([]int, n1)
		for i := range idx {
			idx[i] = i
		}
		count := 0
		for {
			var s float64
			for _, i := range idx {
				s += z[i]
			}
			if math.Abs(stat(s)) >= thr {
				count++
			}
			i := n1 - 1
			for i >= 0 && idx[i] == N-n1+i {
				i--
			}
			if i < 0 {
				break
			}
			idx[i]++
			for j := i + 1; j < n1; j++ {
				idx[j] = idx[j-1] + 1
			}
		}
		res.PValue = float64(count) / float64(c)
		res.Exact = true
		res.NPerm = c
		return res, nil
	}

	src := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	perm := make([]float64, N)
	copy(perm, z)
	small := min(n1, n2)
	count := 0
	for range nResamples {
		// Partial Fisher-Yates: the first `small` slots form a random subset.
		var s float64
		for i := range small {
			j := i + int(boundedUint64(src, uint64(N-i)))
			perm[i], perm[j] = perm[j], perm[i]
			s += perm[i]
		}
		if small != n1 { // the subset drawn is y's; convert to x's sum
			s = total - s
		}
		if math.Abs(stat(s)) >= thr {
			count++
		}
	}
	res.PValue = float64(1+count) / float64(1+nResamples)
	res.NPerm = nResamples
	return res, nil
}

// boundedUint64 returns a uniform integer in [0, n) (Lemire 2019, "Fast
// random integer generation in an interval", ACM TOMACS 29:3).
func boundedUint64(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// binomInt returns C(n, k) if it is <= limit.
func binomInt(n, k, limit int) (int, bool) {
	k = min(k, n-k)
	c := 1
	for i := 1; i <= k; i++ {
		// c*(n-k+i)/i is exact at each step; guard overflow against limit.
		if c > (limit*i)/(n-k+i)+1 {
			return 0, false
		}
		c = c * (n - k + i) / i
	}
	return c, c <= limit
}
