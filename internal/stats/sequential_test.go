package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestSeqSignReference replays the designs of testdata/sequential.json (every path enumerated
// by scripts/stats/seqref.py): the critical values and the stagewise p-value of each history.
func TestSeqSignReference(t *testing.T) {
	b, err := os.ReadFile("testdata/sequential.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Designs []struct {
			Alpha    float64
			T        []float64
			M        []int
			Bounds   []int
			Observed []struct {
				Successes []int
				P         float64
			}
		}
		Power []struct {
			M                   int
			Theta, Alpha, Power float64
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for _, d := range ref.Designs {
		for _, o := range d.Observed {
			q, err := NewSeqSign(d.Alpha)
			if err != nil {
				t.Fatal(err)
			}
			var last Look
			for k, s := range o.Successes {
				if last, err = q.Look(d.T[k], d.M[k], s); err != nil {
					t.Fatal(err)
				}
				if last.Bound != d.Bounds[k] {
					t.Errorf("alpha %v m %v look %d: bound %d, want %d", d.Alpha, d.M, k, last.Bound, d.Bounds[k])
				}
				if k < len(o.Successes)-1 && last.Reject {
					t.Fatalf("alpha %v m %v history %v: rejected at look %d before its stop", d.Alpha, d.M, o.Successes, k)
				}
			}
			if !near(last.P, o.P, 1e-12) {
				t.Errorf("alpha %v m %v history %v: p %v, want %v", d.Alpha, d.M, o.Successes, last.P, o.P)
			}
		}
	}
	for _, c := range ref.Power {
		if got := SignPower(c.M, c.Theta, c.Alpha); !near(got, c.Power, 1e-10) {
			t.Errorf("SignPower(%d, %v, %v) = %v, want %v", c.M, c.Theta, c.Alpha, got, c.Power)
		}
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// One look at t = 1 is the exact two-sided sign test.
func TestSeqSignOneLookIsSignTest(t *testing.T) {
	for _, m := range []int{1, 2, 5, 12, 31, 100} {
		for s := 0; s <= m; s++ {
			q, _ := NewSeqSign(0.05)
			l, err := q.Look(1, m, s)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := BinomTest(s, m, 0.5)
			if !near(l.P, want, 1e-9) {
				t.Fatalf("m %d s %d: p %v, sign test %v", m, s, l.P, want)
			}
			if l.Reject != (want <= 0.05) {
				t.Fatalf("m %d s %d: reject %v with p %v", m, s, l.Reject, want)
			}
		}
	}
}

// TestSeqSignLevel simulates the null as mbd-validate meets it: pairs in looks of doubling size,
// a random share of ties (not decided), and a futility stop at half the plan. The rejection rate
// and P(p ≤ u) stay within their levels (plus three Monte Carlo standard errors).
func TestSeqSignLevel(t *testing.T) {
	const runs = 4000
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alpha := range []float64{0.05, 0.01} {
		rejected := 0
		below := map[float64]int{0.01: 0, 0.05: 0, 0.2: 0, 0.5: 0}
		for range runs {
			plan := 20 + rng.IntN(200)
			decidedRate := 0.1 + 0.8*rng.Float64()
			q, _ := NewSeqSign(alpha)
			m, s, n := 0, 0, 0
			p := 1.0
			for size := 10; ; size *= 2 {
				next := min(size, plan)
				for ; n < next; n++ {
					if rng.Float64() < decidedRate {
						m++
						if rng.IntN(2) == 1 {
							s++
						}
					}
				}
				tf := float64(n) / float64(plan)
				l, err := q.Look(tf, m, s)
				if err != nil {
					t.Fatal(err)
				}
				if l.Reject || n == plan {
					p = l.P
					if l.Reject {
						rejected++
					}
					break
				}
				if tf >= 0.5 && 2*s <= m { // futility: reported as p = 1
					break
				}
			}
			for u := range below {
				if p <= u {
					below[u]++
				}
			}
		}
		se := func(u float64) float64 { return 3 * math.Sqrt(u*(1-u)/runs) }
		if rate := float64(rejected) / runs; rate > alpha+se(alpha) {
			t.Errorf("alpha %v: rejection rate %v", alpha, rate)
		}
		for u, k := range below {
			if rate := float64(k) / runs; rate > u+se(u) {
				t.Errorf("alpha %v: P(p <= %v) = %v", alpha, u, rate)
			}
		}
	}
}

func TestSeqSignStopsEarlyOnStrongEffect(t *testing.T) {
	q, _ := NewSeqSign(0.005)
	l, err := q.Look(10.0/191, 9, 9)
	if err != nil {
		t.Fatal(err)
	}
	if l.Reject {
		t.Fatalf("9 of 9 at the first look rejected at level 0.005 with %v spent: %+v", PocockSpending(0.005, 10.0/191), l)
	}
	l, _ = q.Look(20.0/191, 18, 18)
	if !l.Reject || l.P > 0.005 {
		t.Fatalf("18 of 18 at the second look: %+v", l)
	}
}

func TestSeqSignErrors(t *testing.T) {
	if _, err := NewSeqSign(0); err == nil {
		t.Error("alpha 0 accepted")
	}
	q, _ := NewSeqSign(0.05)
	if _, err := q.Look(0.5, 10, 4); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    float64
		m, s int
	}{{0.4, 12, 5}, {0.6, 9, 4}, {0.6, 12, 13}, {1.5, 12, 5}, {math.NaN(), 12, 5}} {
		if _, err := q.Look(c.t, c.m, c.s); err == nil {
			t.Errorf("Look(%v, %d, %d) accepted", c.t, c.m, c.s)
		}
	}
}

func TestSignTrials(t *testing.T) {
	for _, c := range []struct{ theta, alpha float64 }{{0.9, 0.05}, {0.75, 0.05}, {0.6, 0.01}} {
		m, ok := SignTrials(c.theta, c.alpha, 0.8, 5000)
		if !ok || SignPower(m, c.theta, c.alpha) < 0.8 {
			t.Fatalf("SignTrials(%v, %v) = %d, %v", c.theta, c.alpha, m, ok)
		}
		for k := 1; k < m; k++ {
			if SignPower(k, c.theta, c.alpha) >= 0.8 {
				t.Fatalf("SignTrials(%v, %v) = %d but %d trials have power 0.8", c.theta, c.alpha, m, k)
			}
		}
	}
	if _, ok := SignTrials(0.5, 0.05, 0.8, 100); ok {
		t.Error("no effect: a plan")
	}
}
