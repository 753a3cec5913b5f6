package validate

import (
	"math"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

// Corrections of the run's p-values (Params.Correction).
const (
	CorrectionBH   = "bh"   // Benjamini-Hochberg: controls the false discovery rate
	CorrectionHolm = "holm" // Holm: controls the family-wise error rate
)

// Adjust fills the q-values and verdicts of rows (those with a verdict already, invalid or
// unavailable, keep it). The claim mbd makes is per hypothesis ("validated on at least one
// test"), so error control is per hypothesis, in two stages: each hypothesis's tests are combined by
// Holm (its combined p is its smallest Holm-adjusted p, i.e. Bonferroni's min-p — valid whatever
// the dependence between its tests), then the combined p-values of all hypotheses are corrected
// together (Benjamini-Hochberg, or Holm). A test's q is the larger of its hypothesis's q and its
// own within-hypothesis Holm-adjusted p, so a test is validated (q ≤ α, effect in the stated
// direction) only when its hypothesis passes the run-wide correction and the test passes the
// within-hypothesis one. (Correcting all tests together instead would let a hypothesis with a true
// effect and three tests add three rejections to the Benjamini-Hochberg count, loosening the
// threshold for the others.)
func Adjust(rows []schema.Validation, correction string, alpha float64) error {
	byHyp := map[string][]int{}
	var order []string
	for i, r := range rows {
		rows[i].Q, rows[i].Correction, rows[i].Alpha = math.NaN(), correction, alpha
		if math.IsNaN(r.P) {
			continue
		}
		if _, ok := byHyp[r.HypothesisID]; !ok {
			order = append(order, r.HypothesisID)
		}
		byHyp[r.HypothesisID] = append(byHyp[r.HypothesisID], i)
	}
	within := make(map[int]float64, len(rows))
	combined := make([]float64, len(order))
	for k, id := range order {
		idx := byHyp[id]
		ps := make([]float64, len(idx))
		for j, i := range idx {
			ps[j] = rows[i].P
		}
		adj, err := stats.HolmAdjust(ps)
		if err != nil {
			return err
		}
		combined[k] = 1
		for j, i := range idx {
			within[i] = adj[j]
			combined[k] = math.Min(combined[k], adj[j])
		}
	}
	var qs []float64
	var err error
	if correction == CorrectionHolm {
		qs, err = stats.HolmAdjust(combined)
	} else {
		qs, err = stats.BHAdjust(combined)
	}
	if err != nil {
		return err
	}
	for k, id := range order {
		for _, i := range byHyp[id] {
			r := &rows[i]
			r.Q = math.Max(qs[k], within[i])
			switch {
			case r.Verdict != "":
				// invalid already
			case r.Q <= alpha && r.Effect > 0:
				r.Verdict = schema.VerdictValidated
			default:
				r.Verdict = schema.VerdictRejected
			}
		}
	}
	return nil
}
