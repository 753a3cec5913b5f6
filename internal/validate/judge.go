package validate

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/mbd-dev/mbd/internal/roles"
)

// shownPair is a discriminative pair as the judge sees it: the prompt, A's and B's answers, and
// whether B's answer is shown first in the first order.
type shownPair struct {
	prompt, a, b string
	bFirst       bool
}

// judgeTask is a property to judge the pairs of a look against, and whether it is said to favour B.
type judgeTask struct {
	property string
	favoursB bool
}

// judgedPair is a pair's outcome and its two verdicts (first order, other order).
type judgedPair struct {
	outcome  string
	verdicts []string
}

// judgeLook judges every pair of a look against every task, in both orders, and returns the
// outcomes by task and pair. With Params.JudgeBatch k > 1 the pairs are cut, in order, into runs
// of k (the last may be shorter), and each run is one request per order and task: the first
// order of each of its pairs in one, the other order in another (roles.Assistant.JudgePairs).
// Otherwise each pair and order is one JudgePair call. The requests run concurrently, but which
// pairs share one depends only on their positions, so the results do not depend on scheduling.
// The sign test's independence of pairs then rests on the judge deciding each pair of a request on
// its own (a judge swayed by the other pairs of its request would correlate their outcomes).
func (v *validator) judgeLook(ctx context.Context, tasks []judgeTask, pairs []shownPair) ([][]judgedPair, error) {
	k := max(1, v.cfg.JudgeBatch)
	n := len(pairs)
	// verdicts[t][o][j]: task t, order o (0: as shown first, 1: the other), pair j.
	verdicts := make([][2][]roles.Verdict, len(tasks))
	for t := range verdicts {
		verdicts[t] = [2][]roles.Verdict{make([]roles.Verdict, n), make([]roles.Verdict, n)}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.conc)
	for t, task := range tasks {
		for lo := 0; lo < n; lo += k {
			hi := min(lo+k, n)
			for o := range 2 {
				g.Go(func() error {
					batch := make([]roles.PairToJudge, 0, hi-lo)
					for _, p := range pairs[lo:hi] {
						first, second := p.a, p.b
						if p.bFirst != (o == 1) {
							first, second = second, first
						}
						batch = append(batch, roles.PairToJudge{Prompt: p.prompt, First: first, Second: second})
					}
					if k == 1 {
						vd, err := v.as.JudgePair(gctx, task.property, batch[0].Prompt, batch[0].First, batch[0].Second)
						verdicts[t][o][lo] = vd
						return err
					}
					vs, err := v.as.JudgePairs(gctx, task.property, batch)
					if err != nil {
						return err
					}
					if len(vs) != len(batch) {
						return fmt.Errorf("judge %s: %d verdicts for %d pairs", v.as.Ref(), len(vs), len(batch))
					}
					copy(verdicts[t][o][lo:hi], vs)
					return nil
				})
			}
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([][]judgedPair, len(tasks))
	for t, task := range tasks {
		out[t] = make([]judgedPair, n)
		for j, p := range pairs {
			v1, v2 := verdicts[t][0][j], verdicts[t][1][j]
			out[t][j] = judgedPair{outcome: outcome(v1, v2, p.bFirst, task.favoursB), verdicts: []string{v1.String(), v2.String()}}
		}
	}
	return out, nil
}
