package stats

import "math"

// minlikeRelErr is the relative tolerance used when deciding whether a
// support point is "as or less likely" than the observed one. It is R's
// value (fisher.test, binom.test: relErr <- 1 + 10^(-7)), also used by
// scipy.stats.binomtest; it absorbs rounding in the pmf so that outcomes
// that are equally likely in exact arithmetic (e.g. mirror images under
// p = 1/2) are counted.
const minlikeRelErr = 1e-7

// minlikePValue returns the two-sided "minimum likelihood" p-value
//
//	sum_{x : f(x) <= f(obs) (1 + 1e-7)} f(x)
//
// of a discrete distribution on lo..hi, given logRatio(x) =
// log f(x+1) - log f(x) for lo <= x < hi. Probabilities are handled in log
// space relative to f(lo) and the result is a ratio of log-sum-exps, so the
// normalising constant is never needed, tiny p-values (down to the float64
// underflow limit) keep full relative precision, and no lgamma of large
// arguments is taken. Cost O(hi - lo).
func minlikePValue(lo, hi, obs int, logRatio func(x int) float64) float64 {
	n := hi - lo + 1
	r := make([]float64, n-1)
	mode := n - 1
	for i := range r {
		r[i] = logRatio(lo + i)
		if r[i] <= 0 && mode == n-1 {
			mode = i
		}
	}
	// Accumulate outwards from the mode so the log-probabilities that
	// matter (near the mode and the observation) stay small in magnitude.
	l := make([]float64, n)
	for i := mode + 1; i < n; i++ {
		l[i] = l[i-1] + r[i-1]
	}
	for i := mode - 1; i >= 0; i-- {
		l[i] = l[i+1] - r[i]
	}
	thr := l[obs-lo] + math.Log1p(minlikeRelErr)
	maxAll, maxSel := math.Inf(-1), math.Inf(-1)
	for _, v := range l {
		maxAll = math.Max(maxAll, v)
		if v <= thr {
			maxSel = math.Max(maxSel, v)
		}
	}
	var sAll, sSel float64
	for _, v := range l {
		sAll += math.Exp(v - maxAll)
		if v <= thr {
			sSel += math.Exp(v - maxSel)
		}
	}
	lp := (maxSel + math.Log(sSel)) - (maxAll + math.Log(sAll))
	return clip01(math.Exp(lp))
}
