package validate

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
)

func hyp(dir string, shareA, shareB float64) schema.Hypothesis {
	return schema.Hypothesis{ID: "h", Direction: dir, ShareA: &shareA, ShareB: &shareB}
}

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		name         string
		h            schema.Hypothesis
		pairs        [2]int // want in this range, with at most 400
		trialsAtMost int    // want at most, with rounds 3 and at most 100
	}{
		// Loud: the property in 60% of B's texts and 5% of A's: few pairs.
		{"loud", hyp(schema.DirectionBA, 0.05, 0.6), [2]int{firstLook, 60}, 40},
		// The same, stated the other way round.
		{"loud A>B", hyp(schema.DirectionAB, 0.6, 0.05), [2]int{firstLook, 60}, 40},
		// Quiet: a habit in 10% of B's answers, 1% of A's: most pairs are ties.
		{"quiet", hyp(schema.DirectionBA, 0.01, 0.1), [2]int{150, 400}, 100},
		// No difference, or unknown shares: everything allowed.
		{"null", hyp(schema.DirectionBA, 0.2, 0.2), [2]int{400, 400}, 100},
		{"unknown", schema.Hypothesis{ID: "h", Direction: schema.DirectionBA}, [2]int{400, 400}, 100},
	} {
		pairs := PlanPairs(c.h, 0.01, 400)
		if pairs < c.pairs[0] || pairs > c.pairs[1] {
			t.Errorf("%s: %d pairs planned, want %d to %d", c.name, pairs, c.pairs[0], c.pairs[1])
		}
		if trials := PlanTrials(c.h, 0.01, 3, 100); trials > c.trialsAtMost || c.trialsAtMost == 100 && trials != 100 {
			t.Errorf("%s: %d trials planned, want at most %d", c.name, trials, c.trialsAtMost)
		}
	}
	// Rarer properties need more pairs.
	prev := 0
	for _, s := range []float64{0.8, 0.5, 0.3, 0.2, 0.15} {
		n := PlanPairs(hyp(schema.DirectionBA, 0.02, s), 0.01, 100000)
		if n <= prev {
			t.Errorf("share %v: %d pairs, not more than %d for a commoner property", s, n, prev)
		}
		prev = n
	}
}

func TestLooks(t *testing.T) {
	for plan, want := range map[int][]int{5: {5}, 10: {10}, 11: {10, 11}, 40: {10, 20, 40}, 191: {10, 20, 40, 80, 160, 191}} {
		if got := looks(plan); !slices.Equal(got, want) {
			t.Errorf("looks(%d) = %v, want %v", plan, got, want)
		}
	}
}

// TestSequential: the stop reasons on scripted outcomes (success = for the hypothesis).
func TestSequential(t *testing.T) {
	for _, c := range []struct {
		name    string
		outcome func(i int) int // 1 for, 0 against, -1 tie
		plan    int
		stop    string
		used    int
		pMax    float64
	}{
		{"strong stops early", func(int) int { return 1 }, 191, StopBoundary, 20, 1e-4},
		{"against crosses the boundary", func(int) int { return 0 }, 160, StopBoundary, 20, 1e-4},
		{"no lean goes on to half the plan", func(i int) int { return i % 2 }, 160, StopFutility, 80, 1},
		{"a lean against stops at the second look", func(i int) int { return map[bool]int{true: 1, false: 0}[i%3 == 0] }, 160, StopFutility, 20, 1},
		{"few decided go on to half the plan", func(i int) int { return map[bool]int{true: i / 5 % 2, false: -1}[i%5 == 0] }, 160, StopFutility, 80, 1},
		{"ties stop at half", func(int) int { return -1 }, 40, StopFutility, 20, 1},
		{"weak runs the plan", func(i int) int { return map[bool]int{true: 1, false: 0}[i%5 < 3] }, 60, StopPlan, 60, 1},
	} {
		m, s := 0, 0
		p, nLooks, stop, used, err := sequential(0.005, c.plan, func(lo, hi int) (int, int, error) {
			for i := lo; i < hi; i++ {
				switch c.outcome(i) {
				case 1:
					m, s = m+1, s+1
				case 0:
					m++
				}
			}
			return m, s, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if stop != c.stop || used != c.used || p > c.pMax || nLooks != len(looks(used)) {
			t.Errorf("%s: p %v, %d looks, stop %s after %d; want %s after %d, p <= %v", c.name, p, nLooks, stop, used, c.stop, c.used, c.pMax)
		}
	}
}

// Samples per prompt: pair i is prompt i mod P, sample i / P; sample 0 keeps a single-sample
// run's seeds and ids.
func TestPairs(t *testing.T) {
	var val []schema.Prompt
	for i := range 3 {
		val = append(val, schema.Prompt{ID: fmt.Sprint("p", i), Text: fmt.Sprint("q", i)})
	}
	v := &validator{cfg: Params{Seed: 7, SamplesPerPrompt: 2}, val: val}
	if v.maxPairs() != 6 {
		t.Fatalf("max pairs %d", v.maxPairs())
	}
	v.cfg.MaxPairs = 4
	if v.maxPairs() != 4 {
		t.Fatalf("max pairs %d with --max-pairs 4", v.maxPairs())
	}
	p0, p3 := v.pair(0), v.pair(3)
	if p0.prompt.ID != "p0" || p3.prompt.ID != "p0" || p0.aID != answerID(7, "A", "p0") || p0.a.seed != seedOf(7, "A", "p0") {
		t.Fatalf("pairs 0, 3: %+v %+v", p0, p3)
	}
	if p3.a.seed == p0.a.seed || p3.aID == p0.aID || p3.a.seed == p3.b.seed {
		t.Errorf("second sample shares a seed or id with the first: %+v %+v", p0, p3)
	}
}
