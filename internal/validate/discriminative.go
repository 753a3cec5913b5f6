package validate

import (
	"context"
	"math"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

// BaselineProperty is what the no-hypothesis judge is asked about.
const BaselineProperty = "differs from what a typical AI assistant would write"

// Outcomes of a discriminative pair (see judgeBothOrders).
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
		logs := make([]Trial, 0, 2*(hi-lo))
		var logMu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(v.conc)
		for i := lo; i < hi; i++ {
			g.Go(func() error {
				pr := v.pair(i)
				a, err := v.answer(gctx, pr.a)
				if err != nil {
					return err
				}
				b, err := v.answer(gctx, pr.b)
				if err != nil {
					return err
				}
				bFirst := seedOf(v.cfg.Seed, "order", h.ID, pr.orderKey)&1 == 1
				outcome, verdicts, err := v.judgeBothOrders(gctx, h.Property, pr.prompt.Text, a, b, bFirst, forB(h))
				if err != nil {
					return err
				}
				results[i].out = outcome
				l := []Trial{{Hypothesis: h.ID, Method: schema.MethodDiscriminative, PromptID: pr.prompt.ID, Trial: i, BFirst: &bFirst, Verdicts: verdicts, Outcome: outcome,
					AID: pr.aID, BID: pr.bID}}
				if v.cfg.Baseline {
					// The baseline judge picks the answer that differs from a typical assistant's; it
					// scores for the hypothesis when that is B's answer (the model that changed).
					bo, bv, err := v.judgeBothOrders(gctx, BaselineProperty, pr.prompt.Text, a, b, bFirst, true)
					if err != nil {
						return err
					}
					results[i].base = bo
					l = append(l, Trial{Hypothesis: h.ID, Method: schema.MethodDiscriminative, PromptID: pr.prompt.ID, Trial: i, BFirst: &bFirst, Verdicts: bv, Outcome: bo, Baseline: true})
				}
				logMu.Lock()
				logs = append(logs, l...)
				logMu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return 0, 0, err
		}
		slices.SortFunc(logs, func(x, y Trial) int {
			if x.Trial != y.Trial {
				return x.Trial - y.Trial
			}
			return map[bool]int{false: 0, true: 1}[x.Baseline] - map[bool]int{false: 0, true: 1}[y.Baseline]
		})
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
	p, nLooks, stop, _, err := v.sequentialTest(plan, judge)
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

// judgeBothOrders judges the pair in the seeded order and in the other one. The outcome is for
// (both orders pick the answer of the model the property is said to favour), against (both pick
// the other), tie, or invalid.
func (v *validator) judgeBothOrders(ctx context.Context, property, prompt, a, b string, bFirst, favoursB bool) (string, []string, error) {
	first, second := a, b
	if bFirst {
		first, second = b, a
	}
	v1, err := v.as.JudgePair(ctx, property, prompt, first, second)
	if err != nil {
		return "", nil, err
	}
	v2, err := v.as.JudgePair(ctx, property, prompt, second, first)
	if err != nil {
		return "", nil, err
	}
	verdicts := []string{v1.String(), v2.String()}
	if v1 == roles.Invalid || v2 == roles.Invalid {
		return outcomeInvalid, verdicts, nil
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
		return outcomeTie, verdicts, nil
	case p1 == want:
		return outcomeFor, verdicts, nil
	}
	return outcomeAgainst, verdicts, nil
}
