package stats

import (
	"math"
)

// PocockSpending is the Lan-DeMets spending function of Pocock type, α(t) = α ln(1 + (e−1) t):
// the share of the level α that a group-sequential test may have spent by information fraction t
// (Lan & DeMets 1983, Biometrika 70:659–663; Kim & DeMets 1987, Biometrics 43:857–864). It
// spends early, so a strong effect can stop at an early look.
func PocockSpending(alpha, t float64) float64 {
	t = math.Min(math.Max(t, 0), 1)
	return alpha * math.Log1p((math.E-1)*t)
}

// SeqSign is a two-sided group-sequential sign test of H0: every decided trial is a success with
// probability 1/2, independently (a paired comparison where neither model is favoured). At each
// look the caller gives the cumulative decided trials m and successes s and the information
// fraction t, fixed in advance (e.g. pairs judged / pairs planned; never the data). The statistic
// is |2s − m|; the look's critical value is the smallest c with
//
//	P0(cross at an earlier look) + P0(no earlier crossing, |2S − m| ≥ c) ≤ PocockSpending(α, t),
//
// computed exactly by propagating the null distribution of S over the paths that have not crossed
// (Armitage, McPherson & Rowe 1969), conditional on the decided counts, which under H0 carry no
// information about the signs. Discreteness makes the test conservative.
//
// The p-value uses the stagewise ordering (Fairbanks & Madsen 1982; Jennison & Turnbull 2000,
// Group Sequential Methods, §8.4): stopping at an earlier look is more extreme than any outcome at
// a later one, and within a look a larger |2s − m| is more extreme. It is valid
// (P0(p ≤ u) ≤ u) whatever the looks, and with a single look at t = 1 it equals the exact
// two-sided sign test. Stopping early for futility and reporting p = 1 keeps it valid.
type SeqSign struct {
	alpha   float64
	f       []float64 // null sub-density of S over paths with no crossing yet; len m+1
	crossed float64   // null probability of crossing at an earlier look
	t       float64
	looks   int
}

// Look is what one look of a SeqSign found.
type Look struct {
	Reject bool    // |2s − m| reached the look's critical value
	Bound  int     // the critical value of |2s − m| (m+1 when no outcome rejects)
	P      float64 // the stagewise p-value if the test stops at this look
}

// NewSeqSign returns a test at level alpha in (0, 1).
func NewSeqSign(alpha float64) (*SeqSign, error) {
	if !(alpha > 0 && alpha < 1) {
		return nil, invalidf("sequential sign test: alpha %v not in (0, 1)", alpha)
	}
	return &SeqSign{alpha: alpha, f: []float64{1}}, nil
}

// Looks returns how many looks were taken.
func (q *SeqSign) Looks() int { return q.looks }

// Look takes a look at cumulative decided trials m and successes s at information fraction t.
// m and t must not decrease and t must be in (0, 1]; call it again only after a look that did
// not reject.
func (q *SeqSign) Look(t float64, m, s int) (Look, error) {
	prev := len(q.f) - 1
	switch {
	case !(t > 0 && t <= 1) || t < q.t:
		return Look{}, invalidf("sequential sign test: information fraction %v (previous %v)", t, q.t)
	case m < prev || s < 0 || s > m:
		return Look{}, invalidf("sequential sign test: %d successes of %d decided (previous %d)", s, m, prev)
	}
	g := convolveHalf(q.f, m-prev)
	allowed := PocockSpending(q.alpha, t) * (1 + 1e-12)
	// Grow the rejection region from the extremes inward while the spending allows it.
	bound, tail := m+1, 0.0
	for lo := 0; 2*lo <= m; lo++ {
		add := g[lo]
		if hi := m - lo; hi != lo {
			add += g[hi]
		}
		if q.crossed+tail+add > allowed {
			break
		}
		tail += add
		bound = m - 2*lo
	}
	obs := abs(2*s - m)
	p := q.crossed
	for x := 0; x <= m; x++ {
		if abs(2*x-m) >= obs {
			p += g[x]
		}
	}
	for x := range g {
		if abs(2*x-m) >= bound {
			g[x] = 0
		}
	}
	q.f, q.crossed, q.t = g, q.crossed+tail, t
	q.looks++
	return Look{Reject: obs >= bound, Bound: bound, P: math.Min(p, 1)}, nil
}

// convolveHalf returns the distribution of S + X for S ~ f and X ~ Binomial(n, 1/2).
func convolveHalf(f []float64, n int) []float64 {
	if n == 0 {
		return append([]float64(nil), f...)
	}
	pmf := make([]float64, n+1)
	for x := range pmf {
		pmf[x] = math.Exp(lchoose(n, x) - float64(n)*math.Ln2)
	}
	g := make([]float64, len(f)+n)
	for i, fi := range f {
		if fi == 0 {
			continue
		}
		for x, px := range pmf {
			g[i+x] += fi * px
		}
	}
	return g
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// SignPower is the power of the exact two-sided sign test at level alpha with m decided trials
// when each is a success with probability theta.
func SignPower(m int, theta, alpha float64) float64 {
	if m <= 0 {
		return 0
	}
	// Critical value: the smallest c with P0(|2S − m| ≥ c) ≤ alpha.
	null := convolveHalf([]float64{1}, m)
	bound, tail := m+1, 0.0
	for lo := 0; 2*lo <= m; lo++ {
		add := null[lo]
		if hi := m - lo; hi != lo {
			add += null[hi]
		}
		if tail+add > alpha*(1+1e-12) {
			break
		}
		tail += add
		bound = m - 2*lo
	}
	power := 0.0
	for x := 0; x <= m; x++ {
		if abs(2*x-m) >= bound {
			power += math.Exp(lchoose(m, x) + float64(x)*math.Log(theta) + float64(m-x)*math.Log1p(-theta))
		}
	}
	return power
}

// SignTrials returns the fewest decided trials, at most max, for which the exact two-sided sign
// test at level alpha has at least the given power when each trial is a success with probability
// theta; ok is false when max trials are not enough.
func SignTrials(theta, alpha, power float64, max int) (m int, ok bool) {
	if theta == 0.5 || !(theta > 0 && theta < 1) {
		return max, false
	}
	for m = 1; m <= max; m++ {
		if SignPower(m, theta, alpha) >= power {
			return m, true
		}
	}
	return max, false
}
