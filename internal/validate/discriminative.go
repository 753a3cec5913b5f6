package validate

import (
	"context"
	"math"

	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

// BaselineProperty is what the no-hypothesis judge is asked about.
const BaselineProperty = "differs from what a typical AI assistant would write"

// Outcomes of a discriminative pair (see outcome).
const (
	outcomeFor     = "for"
	outcomeAgainst = "against"
	outcomeTie     = "tie"
	outcomeInvalid = "invalid"
)

func (v *validator) discriminative(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	type res struct{ out, base string }
	plan := PlanPairs(h, v.alphaDesign, v.maxPairs())
	results := make([]res, 0, plan)
	forN, against := 0, 0
	judge := func(lo, hi int) (int, int, error) {
		if err := v.generateBatch(ctx, v.pairKeys(lo, hi)); err != nil {
			return 0, 0, err
		}
		results = append(results, make([]res, hi-lo)...)
		refs := make([]pairRef, 0, hi-lo)
		shown := make([]shownPair, 0, hi-lo)
		for i := lo; i < hi; i++ {
			pr := v.pair(i)
			a, err := v.answer(ctx, pr.a)
			if err != nil {
				return 0, 0, err
			}
			b, err := v.answer(ctx, pr.b)
			if err != nil {
				return 0, 0, err
			}
			refs = append(refs, pr)
			shown = append(shown, shownPair{prompt: pr.prompt.Text, a: a, b: b, bFirst: seedOf(v.cfg.Seed, "order", h.ID, pr.orderKey)&1 == 1})
		}
		tasks := []judgeTask{{property: h.Property, favoursB: forB(h)}}
		if v.cfg.Baseline {
			// The baseline judge picks the answer that differs from a typical assistant's; it
			// scores for the hypothesis when that is B's answer (the model that changed).
			tasks = append(tasks, judgeTask{property: BaselineProperty, favoursB: true})
		}
		judged, err := v.judgeLook(ctx, tasks, shown)
		if err != nil {
			return 0, 0, err
		}
		logs := make([]Trial, 0, len(tasks)*(hi-lo))
		for j, pr := range refs {
			i := lo + j
			bFirst := shown[j].bFirst
			results[i].out = judged[0][j].outcome
			logs = append(logs, Trial{Hypothesis: h.ID, Method: schema.MethodDiscriminative, PromptID: pr.prompt.ID, Trial: i, BFirst: &bFirst, Verdicts: judged[0][j].verdicts, Outcome: judged[0][j].outcome,
				AID: pr.aID, BID: pr.bID})
			if v.cfg.Baseline {
				results[i].base = judged[1][j].outcome
				logs = append(logs, Trial{Hypothesis: h.ID, Method: schema.MethodDiscriminative, PromptID: pr.prompt.ID, Trial: i, BFirst: &bFirst, Verdicts: judged[1][j].verdicts, Outcome: judged[1][j].outcome, Baseline: true})
			}
		}
		v.addLog(logs...)
		v.usePairs(hi)
		for _, r := range results[lo:hi] {
			switch r.out {
			case outcomeFor:
				forN++
			case outcomeAgainst:
				against++
			}
		}
		return forN + against, forN, nil
	}
	p, nLooks, stop, _, err := sequential(v.alphaDesign, plan, judge)
	if err != nil {
		return schema.Validation{}, err
	}

	var invalid, bFor, bAgainst int
	var scores []float64
	for _, r := range results {
		switch r.out {
		case outcomeFor:
			scores = append(scores, 1)
		case outcomeAgainst:
			scores = append(scores, 0)
		case outcomeTie:
			scores = append(scores, 0.5)
		default:
			invalid++
		}
		switch r.base {
		case outcomeFor:
			bFor++
		case outcomeAgainst:
			bAgainst++
		}
	}
	row := schema.Validation{HypothesisID: h.ID, Method: schema.MethodDiscriminative, N: int64(len(scores)), NInvalid: int64(invalid),
		StatName: "accuracy", EffectName: "auc-0.5", Planned: int64(plan), Looks: int64(nLooks), Stop: stop}
	if len(scores) < v.cfg.MinValid || forN+against == 0 {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), schema.VerdictInvalid
		if len(scores) >= v.cfg.MinValid { // all ties: a valid test with no evidence
			row.P, row.Verdict = 1, ""
			row.Statistic, row.Effect, row.CILow, row.CIHigh = 0.5, 0, 0, 0
		}
		return row, nil
	}
	auc := mean(scores)
	lo, hi, err := stats.BootstrapMeanCI(scores, 0.95, 2000, seedOf(v.cfg.Seed, "ci", h.ID))
	if err != nil {
		return row, err
	}
	row.Statistic, row.P, row.Effect, row.CILow, row.CIHigh = float64(forN)/float64(forN+against), p, auc-0.5, lo-0.5, hi-0.5
	if bFor+bAgainst > 0 {
		// The baseline judge's accuracy at picking the model the hypothesis favours (its "for" is
		// picking B's answer), comparable with this test's accuracy.
		favoured := bFor
		if !forB(h) {
			favoured = bAgainst
		}
		b := float64(favoured) / float64(bFor+bAgainst)
		row.Baseline = &b
	}
	return row, nil
}

// outcome is a pair's outcome from its two verdicts (v1 with the pair in the order shown first,
// b first when bFirst; v2 in the other order): for when both orders pick the answer of the model
// the property is said to favour, against when both pick the other, invalid when either verdict
// is, tie otherwise (the orders disagree, a position bias, or the judge says "same").
func outcome(v1, v2 roles.Verdict, bFirst, favoursB bool) string {
	if v1 == roles.Invalid || v2 == roles.Invalid {
		return outcomeInvalid
	}
	// Which model each order's pick belongs to ("" for a tie).
	pick := func(vd roles.Verdict, firstIsB bool) string {
		switch {
		case vd == roles.Tie:
			return ""
		case (vd == roles.First) == firstIsB:
			return "B"
		}
		return "A"
	}
	p1, p2 := pick(v1, bFirst), pick(v2, !bFirst)
	want := "A"
	if favoursB {
		want = "B"
	}
	switch {
	case p1 == "" || p2 == "" || p1 != p2:
		return outcomeTie
	case p1 == want:
		return outcomeFor
	}
	return outcomeAgainst
}
