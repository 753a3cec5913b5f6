package truth

import (
	"math"

	"github.com/mbd-dev/mbd/internal/assign"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Methods of similarity (the recovery table's method column; an LLM rubric is RubricMethod+ref).
const (
	LexicalMethod = "lexical-agreement"
	RubricMethod  = "rubric:"
)

// DefaultThreshold is the least similarity of a recovery, lexical or rubric. A truth's texts all
// exhibit its behaviour, so a hypothesis that names it agrees about 0.9 with them (otter, '!',
// bullets, length for longer answers), while one that describes a consequence of it agrees less
// (longer answers for an inserted otter sentence: 0.36-0.46).
const DefaultThreshold = 0.5

// Validated returns the hypotheses with at least one validated test, once each, in table order.
func Validated(hyps []schema.Hypothesis, vals []schema.Validation) []schema.Hypothesis {
	validated := schema.ValidatedIDs(vals)
	var vh []schema.Hypothesis
	for _, h := range hyps {
		if validated[h.ID] {
			vh = append(vh, h)
			delete(validated, h.ID) // once, even if listed twice
		}
	}
	return vh
}

// Recovery is how well a run recovered the truths.
type Recovery struct {
	Rows      []schema.RecoveryRow // one per truth, in order
	Recovered int                  // truths recovered
	Precise   int                  // hypotheses whose best similarity with a truth reaches the threshold
	Recall    float64              // Recovered / truths (NaN without truths)
	Precision float64              // Precise / hypotheses (NaN without hypotheses)
}

// Recover matches truths to hyps one-to-one on the similarity matrix sim (truths × hyps; NaN
// counts as no similarity) and counts recoveries at threshold.
func Recover(truths []schema.Truth, hyps []schema.Hypothesis, sim [][]float64, threshold float64, method string) (Recovery, error) {
	rows := make([]schema.RecoveryRow, len(truths))
	for i, t := range truths {
		rows[i] = schema.RecoveryRow{TruthID: t.ID, Method: method, Score: math.NaN()}
	}
	if len(truths) > 0 && len(hyps) > 0 {
		cost := make([][]float64, len(truths))
		for i := range truths {
			cost[i] = make([]float64, len(hyps))
			for j := range hyps {
				s := sim[i][j]
				if math.IsNaN(s) {
					s = -1
				}
				cost[i][j] = -s
			}
		}
		rowToCol, _, err := assign.Solve(cost)
		if err != nil {
			return Recovery{}, err
		}
		for i, j := range rowToCol {
			if j < 0 {
				continue
			}
			id := hyps[j].ID
			rows[i].HypothesisID, rows[i].Score = &id, sim[i][j]
			rows[i].Recovered = sim[i][j] >= threshold
		}
	}
	r := Recovery{Rows: rows}
	for _, row := range rows {
		if row.Recovered {
			r.Recovered++
		}
	}
	for j := range hyps {
		for i := range truths {
			if sim[i][j] >= threshold {
				r.Precise++
				break
			}
		}
	}
	r.Recall, r.Precision = ratio(r.Recovered, len(truths)), ratio(r.Precise, len(hyps))
	return r, nil
}

func ratio(k, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(k) / float64(n)
}
