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

func (v *validator) interactive(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	row := schema.Validation{HypothesisID: h.ID, Method: schema.MethodInteractive, StatName: "accuracy", EffectName: "accuracy-0.5"}
	ref := roles.Reference{ShareA: math.NaN(), ShareB: math.NaN(), FavoursB: forB(h)}
	if h.ShareA != nil && h.ShareB != nil {
		ref.ShareA, ref.ShareB = *h.ShareA, *h.ShareB
	}
	type res struct {
		valid, correct bool
	}
	results := make([]res, v.cfg.Trials)
	logs := make([]Trial, v.cfg.Trials)
	hiddenOf := func(t int) bool { return seedOf(v.cfg.Seed, "coin", h.ID, fmt.Sprint(t))&1 == 1 }
	offeredOf := func(t int) []string {
		offered := make([]string, v.cfg.Rounds)
		for r := range offered {
			offered[r] = v.val[(t*v.cfg.Rounds+r)%len(v.val)].Text
		}
		return offered
	}
	askSeed := func(t int, q string) uint64 { return seedOf(v.cfg.Seed, "interactive", h.ID, fmt.Sprint(t), q) }
	if _, builtin := v.as.Assistant.(roles.Builtin); builtin {
		// The builtin interrogator asks the offered prompts in order: generate them in batches.
		var keys []answerKey
		for t := range v.cfg.Trials {
			for _, q := range offeredOf(t) {
				keys = append(keys, answerKey{hiddenOf(t), q, askSeed(t, q)})
			}
		}
		if err := v.generateBatch(ctx, keys); err != nil {
			return row, err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.conc)
	for t := range v.cfg.Trials {
		g.Go(func() error {
			hiddenB, offered := hiddenOf(t), offeredOf(t)
			ask := func(ctx context.Context, q string) (string, error) {
				return v.answer(ctx, hiddenB, q, askSeed(t, q))
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
			logs[t] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return row, err
	}
	v.addLog(logs...)
	k, n := 0, 0
	for _, r := range results {
		if !r.valid {
			row.NInvalid++
			continue
		}
		n++
		if r.correct {
			k++
		}
	}
	row.N = int64(n)
	if n < v.cfg.MinValid {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), schema.VerdictInvalid
		if row.NInvalid == int64(v.cfg.Trials) && v.as.Client == nil {
			row.Verdict = schema.VerdictUnavailable // builtin without reference shares or quoted terms
		}
		return row, nil
	}
	p, err := stats.BinomTest(k, n, 0.5)
	if err != nil {
		return row, err
	}
	lo, hi, err := stats.ClopperPearsonCI(k, n, 0.95)
	if err != nil {
		return row, err
	}
	acc := float64(k) / float64(n)
	row.Statistic, row.P, row.Effect, row.CILow, row.CIHigh = acc, p, acc-0.5, lo-0.5, hi-0.5
	return row, nil
}
