package validate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"golang.org/x/sync/errgroup"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

func (v *validator) generative(ctx context.Context, h schema.Hypothesis) (schema.Validation, error) {
	row := schema.Validation{HypothesisID: h.ID, Method: schema.MethodGenerative, StatName: "share_positive", EffectName: "paired_shift_logp_b_minus_a"}
	nan := func(verdict string) {
		row.Statistic, row.Effect, row.CILow, row.CIHigh, row.P, row.Verdict = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), verdict
	}
	unavailable := func(why string) (schema.Validation, error) {
		nan(schema.VerdictUnavailable)
		v.addLog(Trial{Hypothesis: h.ID, Method: schema.MethodGenerative, Outcome: "unavailable: " + why})
		return row, nil
	}
	n := min(v.cfg.Exemplars, len(v.val))
	if n == 0 {
		return unavailable("no validation prompts")
	}
	if v.ma == nil || v.mb == nil {
		return unavailable("no models to score texts with (recorded answers only)")
	}
	// Probe scoring first: no assistant calls for a test that cannot run.
	for _, m := range []llm.Model{v.ma, v.mb} {
		if _, err := m.Score(ctx, []llm.ScoreRequest{{ID: "probe", Prompt: v.val[0].Text, Completion: " ok"}}); errors.Is(err, llm.ErrCannotScore) {
			return unavailable(m.Info().Ref + " cannot score texts")
		} else if err != nil {
			return row, err
		}
	}
	// For each prompt, a minimal pair rewritten from A's fresh answer: [0] shows the property,
	// [1] does not.
	texts := make([][2]string, n)
	ok := make([][2]bool, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.conc)
	for i := range 2 * n {
		p, side := v.val[i/2], i%2
		g.Go(func() error {
			base, err := v.answer(gctx, v.pair(i/2).a)
			if err != nil {
				return err
			}
			t, good, err := v.as.Exemplify(gctx, h.Property, p.Text, base, side == 0)
			if err != nil {
				return err
			}
			texts[i/2][side], ok[i/2][side] = t, good
			return nil
		})
	}
	if err := g.Wait(); errors.Is(err, roles.ErrNotAvailable) {
		return unavailable("the assistant " + v.as.Ref() + " cannot write texts for this property")
	} else if err != nil {
		return row, err
	}
	var reqs []llm.ScoreRequest
	var pairs []int
	for i := range n {
		if !ok[i][0] || !ok[i][1] {
			row.NInvalid++
			continue
		}
		pairs = append(pairs, i)
		for side := range 2 {
			reqs = append(reqs, llm.ScoreRequest{ID: fmt.Sprintf("%d/%d", i, side), Prompt: v.val[i].Text, Completion: texts[i][side]})
		}
	}
	sumOf := func(m llm.Model) (map[string]float64, error) {
		res, err := m.Score(ctx, reqs)
		if err != nil {
			return nil, fmt.Errorf("scoring with %s: %w", m.Info().Ref, err)
		}
		out := map[string]float64{}
		for _, r := range res {
			out[r.ID] = r.Sum
		}
		if len(out) != len(reqs) {
			return nil, fmt.Errorf("scoring with %s: %d results for %d texts", m.Info().Ref, len(out), len(reqs))
		}
		return out, nil
	}
	sa, err := sumOf(v.ma)
	if err != nil {
		return row, err
	}
	sb, err := sumOf(v.mb)
	if err != nil {
		return row, err
	}
	// Δ(x) = log p_B(x) − log p_A(x), oriented so that the hypothesis predicts Δ(shows) > Δ(not).
	var dShows, dNot, diffs []float64
	positive := 0
	for _, i := range pairs {
		var d [2]float64
		for side := range 2 {
			id := fmt.Sprintf("%d/%d", i, side)
			d[side] = sb[id] - sa[id]
			if !forB(h) {
				d[side] = -d[side]
			}
		}
		dShows, dNot, diffs = append(dShows, d[0]), append(dNot, d[1]), append(diffs, d[0]-d[1])
		if d[0] > d[1] {
			positive++
		}
		delta := d[0] - d[1]
		v.addLog(Trial{Hypothesis: h.ID, Method: schema.MethodGenerative, PromptID: v.val[i].ID, Trial: i, Texts: []string{texts[i][0], texts[i][1]}, Delta: &delta})
	}
	row.N = int64(len(pairs))
	if len(pairs) < v.cfg.MinValid {
		nan(schema.VerdictInvalid)
		return row, nil
	}
	lo, hi, err := stats.BootstrapMeanCI(diffs, 0.95, 2000, seedOf(v.cfg.Seed, "ci", h.ID))
	if err != nil {
		return row, err
	}
	row.Statistic, row.Effect, row.CILow, row.CIHigh = float64(positive)/float64(len(pairs)), mean(diffs), lo, hi
	w, err := stats.WilcoxonSignedRank(dShows, dNot, stats.MethodAuto, true)
	switch {
	case err == nil:
		row.P = w.PValue
	case allZero(diffs): // identical scores (e.g. A and B are one model): no evidence either way
		row.P = 1
	default:
		return row, err
	}
	return row, nil
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}
