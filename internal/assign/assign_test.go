package assign

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteForce returns the minimum total cost over all injective maps from the
// smaller side to the larger side.
func bruteForce(cost [][]float64) float64 {
	rows := len(cost)
	if rows == 0 {
		return 0
	}
	cols := len(cost[0])
	at := func(i, j int) float64 { return cost[i][j] }
	n, m := rows, cols
	if rows > cols {
		at = func(i, j int) float64 { return cost[j][i] }
		n, m = cols, rows
	}
	best := math.Inf(1)
	used := make([]bool, m)
	var rec func(i int, sum float64)
	rec = func(i int, sum float64) {
		if i == n {
			best = min(best, sum)
			return
		}
		for j := range m {
			if !used[j] {
				used[j] = true
				rec(i+1, sum+at(i, j))
				used[j] = false
			}
		}
	}
	rec(0, 0)
	return best
}

func checkValid(t *testing.T, cost [][]float64, rowToCol []int, total float64) {
	t.Helper()
	rows := len(cost)
	cols := 0
	if rows > 0 {
		cols = len(cost[0])
	}
	seen := make(map[int]bool)
	assigned := 0
	var sum float64
	for i, j := range rowToCol {
		if j == -1 {
			continue
		}
		if j < 0 || j >= cols || seen[j] {
			t.Fatalf("row %d: bad or reused column %d (%v)", i, j, rowToCol)
		}
		seen[j] = true
		assigned++
		sum += cost[i][j]
	}
	if assigned != min(rows, cols) {
		t.Fatalf("assigned %d rows, want %d (%v)", assigned, min(rows, cols), rowToCol)
	}
	if math.Abs(sum-total) > 1e-9 {
		t.Fatalf("total %v != recomputed %v", total, sum)
	}
}

func TestSolveAgreesWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 3000 {
		rows := 1 + rng.IntN(7)
		cols := 1 + rng.IntN(7)
		cost := make([][]float64, rows)
		ints := trial%2 == 0 // small integers give many ties
		for i := range cost {
			cost[i] = make([]float64, cols)
			for j := range cost[i] {
				if ints {
					cost[i][j] = float64(rng.IntN(4))
				} else {
					cost[i][j] = rng.NormFloat64() * 10
				}
			}
		}
		rowToCol, total, err := Solve(cost)
		if err != nil {
			t.Fatal(err)
		}
		checkValid(t, cost, rowToCol, total)
		if want := bruteForce(cost); math.Abs(total-want) > 1e-9 {
			t.Fatalf("trial %d %dx%d: total %v, brute force %v\n%v", trial, rows, cols, total, want, cost)
		}
	}
}

func TestSolveTiesAndDeterminism(t *testing.T) {
	// All-equal costs: any perfect matching is optimal; the answer must be
	// valid and identical across calls.
	cost := [][]float64{{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}
	a, total, err := Solve(cost)
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, cost, a, total)
	if total != 3 {
		t.Fatalf("total %v, want 3", total)
	}
	b, _, _ := Solve(cost)
	if !slices.Equal(a, b) {
		t.Fatalf("non-deterministic: %v vs %v", a, b)
	}
}

func TestSolveKnown(t *testing.T) {
	cost := [][]float64{
		{4, 1, 3},
		{2, 0, 5},
		{3, 2, 2},
	}
	a, total, err := Solve(cost)
	if err != nil {
		t.Fatal(err)
	}
	if total != 5 || !slices.Equal(a, []int{1, 0, 2}) {
		t.Fatalf("got %v total %v, want [1 0 2] total 5", a, total)
	}
	// More rows than columns: the cheapest two rows win.
	tall := [][]float64{{10, 10}, {1, 9}, {9, 1}}
	a, total, err = Solve(tall)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || !slices.Equal(a, []int{-1, 0, 1}) {
		t.Fatalf("tall: got %v total %v", a, total)
	}
	// More columns than rows.
	wide := [][]float64{{5, 1, 7, 0}}
	a, total, _ = Solve(wide)
	if total != 0 || !slices.Equal(a, []int{3}) {
		t.Fatalf("wide: got %v total %v", a, total)
	}
}

func TestSolveEdgeCases(t *testing.T) {
	a, total, err := Solve(nil)
	if err != nil || len(a) != 0 || total != 0 {
		t.Fatalf("nil: %v %v %v", a, total, err)
	}
	a, _, err = Solve([][]float64{{}, {}})
	if err != nil || !slices.Equal(a, []int{-1, -1}) {
		t.Fatalf("zero columns: %v %v", a, err)
	}
	if _, _, err := Solve([][]float64{{1, 2}, {3}}); err != ErrRagged {
		t.Fatalf("ragged: err = %v", err)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, _, err := Solve([][]float64{{1, bad}, {3, 4}}); err == nil {
			t.Fatalf("%v accepted", bad)
		}
		if _, err := NearestColumns([][]float64{{1, bad}}, 1); err == nil {
			t.Fatalf("NearestColumns accepted %v", bad)
		}
	}
}

func TestNearestColumns(t *testing.T) {
	cost := [][]float64{
		{3, 1, 2, 1},
		{0, 5, -1, 4},
	}
	got, err := NearestColumns(cost, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 3}, {2, 0}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("row %d: got %v, want %v", i, got[i], want[i])
		}
	}
	got, _ = NearestColumns(cost, 10)
	if !slices.Equal(got[0], []int{1, 3, 2, 0}) {
		t.Fatalf("k > cols: %v", got[0])
	}
	if _, err := NearestColumns(cost, -1); err == nil {
		t.Fatal("negative k accepted")
	}
}
