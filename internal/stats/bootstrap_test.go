package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The percentile bootstrap has no closed-form reference: these tests check what it must do —
// determinism per seed, an interval around the estimate that shrinks like 1/√n, and coverage close
// to the nominal level on samples from a known distribution.
func TestBootstrapMeanCI(t *testing.T) {
	x := []float64{1, 0, 1, 1, 0.5, 1, 0, 1, 1, 0.5}
	lo, hi, err := BootstrapMeanCI(x, 0.95, 2000, 7)
	if err != nil {
		t.Fatal(err)
	}
	lo2, hi2, _ := BootstrapMeanCI(x, 0.95, 2000, 7)
	if lo != lo2 || hi != hi2 {
		t.Fatalf("not deterministic: [%v, %v] vs [%v, %v]", lo, hi, lo2, hi2)
	}
	if !(lo < 0.7 && 0.7 < hi) || lo < 0.3 || hi > 1 {
		t.Errorf("CI [%v, %v] for mean 0.7", lo, hi)
	}
	for _, bad := range [][]float64{nil, {math.NaN()}} {
		if _, _, err := BootstrapMeanCI(bad, 0.95, 1000, 1); err == nil {
			t.Errorf("BootstrapMeanCI(%v): no error", bad)
		}
	}
	if _, _, err := BootstrapMeanCI(x, 1, 1000, 1); err == nil {
		t.Error("conf 1: no error")
	}
}

func TestBootstrapCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const trials, n = 400, 60
	cover, coverDiff := 0, 0
	for i := range trials {
		x, y := make([]float64, n), make([]float64, n)
		for j := range x {
			x[j], y[j] = r.ExpFloat64(), r.NormFloat64()
		}
		lo, hi, err := BootstrapMeanCI(x, 0.9, 1000, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if lo <= 1 && 1 <= hi {
			cover++
		}
		lo, hi, err = BootstrapMeanDiffCI(x, y, 0.9, 1000, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if lo <= 1 && 1 <= hi {
			coverDiff++
		}
	}
	// Nominal 0.9; the percentile bootstrap undercovers skewed means a little at n = 60.
	for name, c := range map[string]int{"mean": cover, "diff": coverDiff} {
		if f := float64(c) / trials; f < 0.84 || f > 0.95 {
			t.Errorf("%s coverage %.3f, want about 0.9", name, f)
		}
	}
}
