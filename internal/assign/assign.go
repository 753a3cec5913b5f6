// Package assign solves the linear assignment problem: given an n×m cost
// matrix, pick at most one column per row and at most one row per column so
// that min(n, m) pairs are matched and the total cost is minimal.
//
// # Algorithm
//
// Solve is the Hungarian method of Kuhn (1955) and Munkres (1957) in its
// O(n²·m) shortest-augmenting-path form with row and column potentials
// (dual variables), as popularised by Jonker & Volgenant (1987) and
// described in e.g. "Hungarian algorithm" on e-maxx.ru / cp-algorithms.com:
//
//   - H. W. Kuhn, "The Hungarian method for the assignment problem",
//     Naval Research Logistics Quarterly 2 (1955) 83–97.
//   - J. Munkres, "Algorithms for the assignment and transportation
//     problems", J. SIAM 5 (1957) 32–38.
//   - R. Jonker, A. Volgenant, "A shortest augmenting path algorithm for
//     dense and sparse linear assignment problems", Computing 38 (1987)
//     325–340.
//
// Rows are added one at a time; for each new row a Dijkstra-like search over
// reduced costs c[i][j] − u[i] − v[j] (all ≥ 0 by the dual invariant) finds
// the cheapest augmenting path to a free column, the potentials are updated by
// the path's slack and the matching is flipped along the path. With n ≤ m the
// cost is O(n²·m), i.e. O(n³) for square matrices. A matrix with more rows
// than columns is solved on its transpose, and the rows left over are reported
// as unassigned (-1).
//
// Ties are broken deterministically (lowest column index first), so equal
// inputs give equal outputs. Costs must be finite: NaN and ±Inf are rejected
// with an error (express a forbidden pair with a large finite cost instead).
package assign

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrRagged is returned when the rows of a cost matrix differ in length.
var ErrRagged = errors.New("assign: rows of the cost matrix differ in length")

// validate checks that cost is rectangular and finite and returns its shape.
func validate(cost [][]float64) (rows, cols int, err error) {
	rows = len(cost)
	if rows == 0 {
		return 0, 0, nil
	}
	cols = len(cost[0])
	for i, r := range cost {
		if len(r) != cols {
			return 0, 0, ErrRagged
		}
		for j, c := range r {
			if math.IsNaN(c) || math.IsInf(c, 0) {
				return 0, 0, fmt.Errorf("assign: cost[%d][%d] = %v is not finite", i, j, c)
			}
		}
	}
	return rows, cols, nil
}

// Solve returns a minimum-total-cost assignment of rows to columns for the
// rectangular cost matrix cost (cost[i][j] is the cost of giving column j to
// row i). rowToCol[i] is the column assigned to row i, or -1 when row i is
// left unassigned (only possible when there are more rows than columns);
// total is the sum of the chosen costs. Every column is used at most once and
// exactly min(rows, cols) rows are assigned.
func Solve(cost [][]float64) (rowToCol []int, total float64, err error) {
	rows, cols, err := validate(cost)
	if err != nil {
		return nil, 0, err
	}
	rowToCol = make([]int, rows)
	for i := range rowToCol {
		rowToCol[i] = -1
	}
	if rows == 0 || cols == 0 {
		return rowToCol, 0, nil
	}
	if rows <= cols {
		at := func(i, j int) float64 { return cost[i][j] }
		colToRow := solve(rows, cols, at)
		for j, i := range colToRow {
			if i >= 0 {
				rowToCol[i] = j
			}
		}
	} else {
		// Transpose: columns become the "rows" of the search.
		at := func(i, j int) float64 { return cost[j][i] }
		rowOfTransposed := solve(cols, rows, at) // indexed by original row
		for r, c := range rowOfTransposed {
			if c >= 0 {
				rowToCol[r] = c
			}
		}
	}
	for i, j := range rowToCol {
		if j >= 0 {
			total += cost[i][j]
		}
	}
	return rowToCol, total, nil
}

// solve runs the shortest-augmenting-path Hungarian algorithm on an n×m
// matrix given by at, with n ≤ m. It returns, for each of the m columns, the
// row matched to it or -1.
func solve(n, m int, at func(i, j int) float64) []int {
	// 1-based indices as in the classic formulation; column 0 is a virtual
	// column holding the row currently being inserted.
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1)   // p[j]: row matched to column j (0 = none)
	way := make([]int, m+1) // way[j]: previous column on the shortest path
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			delta := math.Inf(1)
			j1 := 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := at(i0-1, j-1) - u[i0] - v[j]
				if cur < minv[j] {
					minv[j] = cur
					way[j] = j0
				}
				if minv[j] < delta {
					delta = minv[j]
					j1 = j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	colToRow := make([]int, m)
	for j := 1; j <= m; j++ {
		colToRow[j-1] = p[j] - 1
	}
	return colToRow
}

// NearestColumns returns, for each row of cost, the indices of its k
// cheapest columns in ascending order of cost (ties: lower column index
// first). When k exceeds the number of columns every column is returned.
// Unlike Solve, columns may be shared between rows. The same validation as
// Solve applies; k < 0 is an error.
func NearestColumns(cost [][]float64, k int) ([][]int, error) {
	if k < 0 {
		return nil, fmt.Errorf("assign: k = %d < 0", k)
	}
	rows, cols, err := validate(cost)
	if err != nil {
		return nil, err
	}
	k = min(k, cols)
	out := make([][]int, rows)
	idx := make([]int, cols)
	for i := range rows {
		r := cost[i]
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return r[idx[a]] < r[idx[b]] })
		out[i] = append([]int(nil), idx[:k]...)
	}
	return out, nil
}
