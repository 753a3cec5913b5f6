package stats

import "math"

// WilcoxonResult is the outcome of WilcoxonSignedRank.
type WilcoxonResult struct {
	// T is min(R+, R-), the smaller signed-rank sum (scipy's statistic).
	T float64
	// RPlus is the sum of the ranks of the positive differences.
	RPlus float64
	// Z is the normal deviate (MethodAsymptotic only; 0 otherwise).
	Z      float64
	PValue float64
	// N is the number of non-zero differences used.
	N int
	// Zeros is the number of zero differences dropped.
	Zeros  int
	Method Method
}

// wilcoxonExactMaxN is the largest n for which MethodAuto uses the exact
// null (scipy's and R's cut-off of 50).
const wilcoxonExactMaxN = 50

// WilcoxonSignedRank performs the two-sided Wilcoxon signed-rank test
// (Wilcoxon 1945, Biometrics Bull. 1:80-83; Hollander, Wolfe & Chicken 2014,
// §3.1) on the differences d = x - y (or on x when y is nil), matching
// scipy.stats.wilcoxon(x, y, zero_method='wilcox', correction=correction,
// alternative='two-sided', method=...).
//
// Zero handling ('wilcox', Wilcoxon's original rule): zero differences are
// dropped before ranking and n counts only the non-zero ones. If all
// differences are zero there is no information and an error is returned.
// |d| are midranked (ties averaged); T = min(R+, R-).
//
//   - MethodExact: p = 2 min(P(R+ <= r), P(R+ >= r)), clipped to 1, under
//     the exact null of R+ (sum of a uniformly random subset of {1..n}),
//     computed by dynamic programming. It requires no ties among |d| and no
//     zeros (the tie-free null would not apply); otherwise it is an error.
//   - MethodAsymptotic: z = (T - n(n+1)/4 - c)/sigma with
//     sigma^2 = (n(n+1)(2n+1) - sum(t^3-t)/2)/24 (tie correction), c =
//     0.5 sign(T - n(n+1)/4) if correction else 0, p = 2 P(Z > |z|).
//   - MethodAuto: exact if n <= 50 with no ties and no zeros (R's
//     wilcox.test rule), asymptotic otherwise. SciPy 1.10 also picks
//     "exact" for n <= 50 with ties, silently truncating R+; we use the
//     normal approximation there instead.
func WilcoxonSignedRank(x, y []float64, method Method, correction bool) (WilcoxonResult, error) {
	if len(x) == 0 {
		return WilcoxonResult{}, emptyf("signed-rank test needs at least one observation")
	}
	if y != nil && len(y) != len(x) {
		return WilcoxonResult{}, invalidf("paired samples differ in length (%d vs %d)", len(x), len(y))
	}
	if err := checkFinite("x", x); err != nil {
		return WilcoxonResult{}, err
	}
	if err := checkFinite("y", y); err != nil {
		return WilcoxonResult{}, err
	}
	var d []float64
	zeros := 0
	for i, v := range x {
		if y != nil {
			v -= y[i]
		}
		if v == 0 {
			zeros++
			continue
		}
		d = append(d, v)
	}
	if len(d) == 0 {
		return WilcoxonResult{}, invalidf("all %d differences are zero", len(x))
	}
	abs := make([]float64, len(d))
	for i, v := range d {
		abs[i] = math.Abs(v)
	}
	ranks, tieTerm, ties := midranks(abs)
	var rPlus, rMinus float64
	for i, v := range d {
		if v > 0 {
			rPlus += ranks[i]
		} else {
			rMinus += ranks[i]
		}
	}
	n := len(d)
	res := WilcoxonResult{T: math.Min(rPlus, rMinus), RPlus: rPlus, N: n, Zeros: zeros}

	switch method {
	case MethodAuto:
		if !ties && zeros == 0 && n <= wilcoxonExactMaxN {
			method = MethodExact
		} else {
			method = MethodAsymptotic
		}
	case MethodExact:
		if ties || zeros > 0 {
			return WilcoxonResult{}, invalidf("exact signed-rank null requires no ties and no zero differences (ties=%v, zeros=%d); use MethodAsymptotic", ties, zeros)
		}
	case MethodAsymptotic:
	default:
		return WilcoxonResult{}, invalidf("unknown method %v", method)
	}
	res.Method = method

	if method == MethodExact {
		pmf := signedRankPMF(n)
		r := int(math.Round(rPlus))
		var lo, hi float64
		for s, p := range pmf {
			if s <= r {
				lo += p
			}
			if s >= r {
				hi += p
			}
		}
		res.PValue = clip01(2 * math.Min(lo, hi))
		return res, nil
	}
	fn := float64(n)
	mean := fn * (fn + 1) / 4
	se := math.Sqrt((fn*(fn+1)*(2*fn+1) - tieTerm/2) / 24)
	c := 0.0
	if correction {
		c = 0.5 * sign(res.T-mean)
	}
	res.Z = (res.T - mean - c) / se
	res.PValue = clip01(2 * normSF(math.Abs(res.Z)))
	return res, nil
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// signedRankPMF returns P(R+ = s), s = 0..n(n+1)/2, for the tie-free
// signed-rank null: each rank k is included independently with
// probability 1/2 (subset-sum dynamic programming).
func signedRankPMF(n int) []float64 {
	maxS := n * (n + 1) / 2
	p := make([]float64, maxS+1)
	p[0] = 1
	top := 0
	for k := 1; k <= n; k++ {
		top += k
		for s := top; s >= 0; s-- {
			v := 0.5 * p[s]
			if s >= k {
				v += 0.5 * p[s-k]
			}
			p[s] = v
		}
	}
	return p
}
