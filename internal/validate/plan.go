package validate

import (
	"math"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

// Planning. A sequential test plans its size before it sees validation data, from the
// hypothesis's discovery shares (share_a, share_b: how often the builtin judge found the property
// in the texts the hypothesis was written from), and stops earlier when the evidence allows.
const (
	planPower  = 0.8 // power the plan aims at
	planShrink = 0.5 // the discovery difference is shrunk by this factor: it is the best of many candidates, so optimistic (a 22% vs 1% otter term measured about 10% on validation)
	firstLook  = 10  // pairs or trials of the first look; each later look doubles them, the last is the plan
)

// Stop reasons of a sequential test (validations.stop).
const (
	StopBoundary = "boundary" // the statistic crossed the look's boundary (either way)
	StopFutility = "futility" // no lean toward the hypothesis at half the plan, or a lean against it from the second look with 20 decided (p reported as 1)
	StopPlan     = "plan"     // the planned size was reached
)

// shares returns the discovery shares of the favoured and the other model, oriented by the
// hypothesis's direction, shrunk toward no difference; ok is false when they are unknown.
func shares(h schema.Hypothesis) (fav, other float64, ok bool) {
	if h.ShareA == nil || h.ShareB == nil || math.IsNaN(*h.ShareA) || math.IsNaN(*h.ShareB) {
		return 0, 0, false
	}
	fav, other = *h.ShareB, *h.ShareA
	if !forB(h) {
		fav, other = other, fav
	}
	fav = other + planShrink*(fav-other)
	return math.Min(math.Max(fav, 0), 1), math.Min(math.Max(other, 0), 1), true
}

// PlanPairs is the number of discriminative pairs, at most max, for power planPower at level
// alpha: with the property in a share fav of the favoured model's answers and other of the other's,
// a pair is decided with probability d = fav(1−other) + other(1−fav) (a judge that sees the
// property exactly), and is then for the hypothesis with probability fav(1−other)/d. Unknown or
// null shares plan max.
func PlanPairs(h schema.Hypothesis, alpha float64, max int) int {
	fav, other, ok := shares(h)
	if !ok {
		return max
	}
	d := fav*(1-other) + other*(1-fav)
	if d <= 0 {
		return max
	}
	m, ok := stats.SignTrials(fav*(1-other)/d, alpha, planPower, max)
	if !ok {
		return max
	}
	return clampPlan(int(math.Ceil(float64(m)/d)), max)
}

// PlanTrials is the number of interactive trials, at most max, for power planPower at level
// alpha: a trial with rounds questions is taken as correct when the judge says "shows" exactly
// when one of the hidden model's answers shows the property, so with probability
// ½(1 − (1−fav)^rounds) + ½(1−other)^rounds.
func PlanTrials(h schema.Hypothesis, alpha float64, rounds, max int) int {
	fav, other, ok := shares(h)
	if !ok {
		return max
	}
	r := float64(rounds)
	theta := 0.5*(1-math.Pow(1-fav, r)) + 0.5*math.Pow(1-other, r)
	m, ok := stats.SignTrials(theta, alpha, planPower, max)
	if !ok {
		return max
	}
	return clampPlan(m, max)
}

func clampPlan(n, max int) int { return min(max, n) }

// looks returns the cumulative sizes of a plan's looks: firstLook, doubling, then the plan.
func looks(plan int) []int {
	var out []int
	for n := firstLook; n < plan; n *= 2 {
		out = append(out, n)
	}
	return append(out, plan)
}

// sequential runs a group-sequential sign test over a plan: judge(lo, hi) decides trials lo..hi-1
// and returns the cumulative decided count and successes. It returns the p-value (1 after a
// futility stop), the looks taken, the stop reason and the trials used.
func sequential(alpha float64, plan int, judge func(lo, hi int) (m, s int, err error)) (p float64, nLooks int, stop string, used int, err error) {
	q, err := stats.NewSeqSign(alpha)
	if err != nil {
		return 0, 0, "", 0, err
	}
	lo := 0
	for _, hi := range looks(plan) {
		m, s, err := judge(lo, hi)
		if err != nil {
			return 0, 0, "", 0, err
		}
		lo = hi
		t := float64(hi) / float64(plan)
		l, err := q.Look(t, m, s)
		if err != nil {
			return 0, 0, "", 0, err
		}
		switch {
		case l.Reject:
			return l.P, q.Looks(), StopBoundary, hi, nil
		case hi == plan:
			return l.P, q.Looks(), StopPlan, hi, nil
		case 2*s <= m && t >= 0.5, 2*s < m && hi >= 2*firstLook && m >= 2*firstLook:
			return 1, q.Looks(), StopFutility, hi, nil
		}
	}
	return 1, q.Looks(), StopPlan, lo, nil // plan 0: nothing to test
}
