package validate

import (
	"context"
	"fmt"
	"math"

	"golang.org/x/sync/errgroup"

	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

// InteractiveRecorded is why the interactive test is unavailable on recorded answers.
const InteractiveRecorded = "it questions a live model, and recorded answers cannot answer new questions"

func (v *validator) interactive(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	row := schema.Validation{HypothesisID: h.ID, Method: schema.MethodInteractive, StatName: "accuracy", EffectName: "accuracy-0.5"}
	ref := roles.Reference{ShareA: math.NaN(), ShareB: math.NaN(), FavoursB: forB(h)}
	if h.ShareA != nil && h.ShareB != nil {
		ref.ShareA, ref.ShareB = *h.ShareA, *h.ShareB
	}
	if v.rec != nil {
		// Recorded answers cannot answer the judge's questions: no p-value, outside the corrections.
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), schema.VerdictUnavailable
		v.addLog(Trial{Hypothesis: h.ID, Method: schema.MethodInteractive, Outcome: "unavailable: " + InteractiveRecorded})
		return row, nil
	}
	type res struct {
		valid, correct bool
	}
	plan := PlanTrials(h, v.alphaDesign, v.cfg.Rounds, v.cfg.Trials)
	results := make([]res, plan)
	hiddenOf := func(t int) bool { return seedOf(v.cfg.Seed, "coin", h.ID, fmt.Sprint(t))&1 == 1 }
	offeredOf := func(t int) []string {
		offered := make([]string, v.cfg.Rounds)
		for r := range offered {
			offered[r] = v.val[(t*v.cfg.Rounds+r)%len(v.val)].Text
		}
		return offered
	}
	askSeed := func(t int, q string) uint64 { return seedOf(v.cfg.Seed, "interactive", h.ID, fmt.Sprint(t), q) }
	_, builtin := v.as.Assistant.(roles.Builtin)
	k, n := 0, 0
	judge := func(lo, hi int) (int, int, error) {
		if builtin {
			// The builtin interrogator asks the offered prompts in order: generate them in batches.
			var keys []answerKey
			for t := lo; t < hi; t++ {
				for _, q := range offeredOf(t) {
					keys = append(keys, answerKey{hiddenOf(t), q, askSeed(t, q)})
				}
			}
			if err := v.generateBatch(ctx, keys); err != nil {
				return 0, 0, err
			}
		}
		logs := make([]Trial, hi-lo)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(v.conc)
		for t := lo; t < hi; t++ {
			g.Go(func() error {
				hiddenB, offered := hiddenOf(t), offeredOf(t)
				ask := func(ctx context.Context, q string) (string, error) {
					return v.answer(ctx, answerKey{hiddenB, q, askSeed(t, q)})
				}
				it, err := v.as.Interrogate(gctx, h.Property, ref, offered, v.cfg.Rounds, ask)
				if err != nil {
					return err
				}
				hidden := map[bool]string{false: "A", true: "B"}[hiddenB]
				l := Trial{Hypothesis: h.ID, Method: schema.MethodInteractive, Trial: t, Hidden: hidden, Turns: it.Turns, Outcome: outcomeInvalid}
				if it.Valid {
					// The hidden model shows the property more exactly when it is the favoured one.
					correct := it.Shows == (hiddenB == forB(h))
					results[t] = res{true, correct}
					l.Outcome = map[bool]string{true: "correct", false: "wrong"}[correct]
				}
				logs[t-lo] = l
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return 0, 0, err
		}
		v.addLog(logs...)
		for _, r := range results[lo:hi] {
			if !r.valid {
				row.NInvalid++
				continue
			}
			n++
			if r.correct {
				k++
			}
		}
		return n, k, nil
	}
	p, nLooks, stop, used, err := sequential(v.alphaDesign, plan, judge)
	if err != nil {
		return row, err
	}
	row.Planned, row.Looks, row.Stop = int64(plan), int64(nLooks), stop
	row.N = int64(n)
	if n < v.cfg.MinValid {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), schema.VerdictInvalid
		if row.NInvalid == int64(used) && v.as.Client == nil {
			row.Verdict = schema.VerdictUnavailable // builtin without reference shares or quoted terms
		}
		return row, nil
	}
	lo, hi, err := stats.ClopperPearsonCI(k, n, 0.95)
	if err != nil {
		return row, err
	}
	acc := float64(k) / float64(n)
	row.Statistic, row.P, row.Effect, row.CILow, row.CIHigh = acc, p, acc-0.5, lo-0.5, hi-0.5
	return row, nil
}
