package stats

import (
	"math"
	"sort"
)

// adjustPrep validates p-values and returns the indices of the non-NaN ones
// sorted by ascending p (ties keep input order).
func adjustPrep(p []float64) ([]int, error) {
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if math.IsNaN(v) {
			continue
		}
		if v < 0 || v > 1 {
			return nil, invalidf("p-value p[%d]=%v outside [0, 1]", i, v)
		}
		idx = append(idx, i)
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	return idx, nil
}

func nanCopy(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// BHAdjust returns Benjamini-Hochberg q-values (FDR-adjusted p-values) for
// the step-up procedure of Benjamini & Hochberg (1995), "Controlling the
// false discovery rate", J. R. Stat. Soc. B 57:289-300:
//
//	q_(i) = min_{k >= i} min(1, m p_(k) / k)
//
// for the ascending order statistics p_(1) <= ... <= p_(m). This is
// scipy.stats.false_discovery_control(method='bh') and R's
// p.adjust(method="BH").
//
// Properties: q >= p, q is monotone non-decreasing in p, q <= 1, and
// q <= Holm <= Bonferroni element-wise.
// Ties: tied p-values always receive the same q-value (the running minimum
// from the right makes the order within a tie irrelevant).
// NaN: NaN entries are treated as missing, as in R's p.adjust — they are
// returned as NaN and m counts only the non-NaN p-values. (SciPy rejects
// NaN instead.) Values outside [0, 1] are an error. Empty input gives an
// empty result.
func BHAdjust(p []float64) ([]float64, error) {
	idx, err := adjustPrep(p)
	if err != nil {
		return nil, err
	}
	out := nanCopy(len(p))
	m := float64(len(idx))
	run := 1.0
	for k := len(idx) - 1; k >= 0; k-- {
		v := p[idx[k]] * (m / float64(k+1)) // m/k first, as SciPy: keeps q >= p exactly
		if v < run {
			run = v
		}
		out[idx[k]] = run
	}
	return out, nil
}

// HolmAdjust returns Holm step-down adjusted p-values (Holm 1979, "A simple
// sequentially rejective multiple test procedure", Scand. J. Stat.
// 6:65-70):
//
//	a_(i) = max_{k <= i} min(1, (m - k + 1) p_(k))
//
// as in R's p.adjust(method="holm") and statsmodels multipletests('holm').
// It controls the family-wise error rate. Ties receive equal values; NaN
// handling is as for BHAdjust.
func HolmAdjust(p []float64) ([]float64, error) {
	idx, err := adjustPrep(p)
	if err != nil {
		return nil, err
	}
	out := nanCopy(len(p))
	m := len(idx)
	run := 0.0
	for k, i := range idx {
		v := math.Min(1, float64(m-k)*p[i])
		if v > run {
			run = v
		}
		out[i] = run
	}
	return out, nil
}

// BonferroniAdjust returns min(1, m p) (Bonferroni correction; see e.g.
// Dunn 1961, J. Am. Stat. Assoc. 56:52-64). NaN handling is as for
// BHAdjust.
func BonferroniAdjust(p []float64) ([]float64, error) {
	idx, err := adjustPrep(p)
	if err != nil {
		return nil, err
	}
	out := nanCopy(len(p))
	m := float64(len(idx))
	for _, i := range idx {
		out[i] = math.Min(1, m*p[i])
	}
	return out, nil
}
