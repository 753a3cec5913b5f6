package cluster

import (
	"math"

	"github.com/mbd-dev/mbd/internal/vec"
)

// Lloyd iterations stop in a local optimum; on data with many well-separated
// groups a typical one has a centroid shared by two groups while another
// group holds two centroids, and no Lloyd step can undo that. refine
// searches for such configurations with a swap move (in the spirit of the
// local search of Kanungo et al., "A local search approximation algorithm
// for k-means clustering", Comput. Geom. 28, 2004): remove the centroid
// whose points would lose least by going to their second-nearest centroid,
// split the cluster that gains most from being cut in two by spherical
// 2-means, re-run Lloyd from there and keep the result only if the inertia
// dropped. It is applied to the winning restart of full (not mini-batch)
// k-means and only ever lowers the inertia.

// maxSplitIter caps the 2-means iterations of split2.
const maxSplitIter = 20

// refine applies improving swap moves to a converged Lloyd solution (cent,
// assign, dist with the given inertia) until none is predicted to help, one
// fails to help, k moves were made or the moves have taken MaxIter Lloyd
// assignment steps in all (so refining costs at most about as much as one
// more restart). It returns the new inertia and the number of Lloyd
// assignment steps of the accepted moves.
func (m *km) refine(cent []float32, assign []int, dist []float64, inertia float64) (float64, int) {
	n, d, k := m.n, m.d, m.k
	if k < 2 {
		return inertia, 0
	}
	second := make([]float32, n)
	removeCost := make([]float64, k)
	gain := make([]float64, k)
	halves := make([]float32, 2*k*d)
	start := make([]int, k+1)
	members := make([]int, n)
	savedCent := make([]float32, len(cent))
	savedAssign := make([]int, n)
	savedDist := make([]float64, n)
	iters, budget := 0, m.opt.MaxIter
	for range k {
		if budget <= 0 {
			break
		}
		// The current assignment, with the second-nearest centroids.
		inertia, _ = m.assignAll(cent, assign, dist, second)

		// Cost of removing centroid c: its points move to their
		// second-nearest centroid (an upper bound: that centroid would
		// then move towards them).
		clear(removeCost)
		for i, c := range assign {
			removeCost[c] += cosDist(second[i]) - dist[i]
		}

		// Members of each cluster, in index order.
		clear(start)
		for _, c := range assign {
			start[c+1]++
		}
		for c := range k {
			start[c+1] += start[c]
		}
		fill := append([]int(nil), start[:k]...)
		for i, c := range assign {
			members[fill[c]] = i
			fill[c]++
		}
		forBlocks(k, 1, m.workers, func(c, _, _ int) {
			gain[c] = m.split2(members[start[c]:start[c+1]], dist, halves[2*c*d:2*(c+1)*d])
		})

		r := 0
		for c := range k {
			if removeCost[c] < removeCost[r] {
				r = c
			}
		}
		s := -1
		for c := range k {
			if c != r && gain[c] > 0 && (s < 0 || gain[c] > gain[s]) {
				s = c
			}
		}
		if s < 0 || gain[s] <= removeCost[r] {
			break
		}

		copy(savedCent, cent)
		copy(savedAssign, assign)
		copy(savedDist, dist)
		copy(cent[s*d:(s+1)*d], halves[2*s*d:(2*s+1)*d])
		copy(cent[r*d:(r+1)*d], halves[(2*s+1)*d:2*(s+1)*d])
		it, in := m.iterate(cent, assign, dist, budget)
		budget -= it
		if !(in < inertia) {
			copy(cent, savedCent)
			copy(assign, savedAssign)
			copy(dist, savedDist)
			break
		}
		iters += it
		inertia = in
	}
	return inertia, iters
}

// split2 runs spherical 2-means on the points idx (one cluster; dist holds
// their distances to its centroid), writes the two centres to out (2d
// floats) and returns the drop in the points' summed distance from using the
// closer of the two instead of the centroid; 0 if the points cannot be split.
// The first centre starts at the point farthest from the centroid, the
// second at the point farthest from the first (lowest index on ties).
func (m *km) split2(idx []int, dist []float64, out []float32) float64 {
	nc, d := len(idx), m.d
	if nc < 2 {
		return 0
	}
	rows := make([][]float32, nc)
	var w float64
	far := 0
	for j, i := range idx {
		rows[j] = m.data[i]
		w += dist[i]
		if dist[i] > dist[idx[far]] {
			far = j
		}
	}
	cent := make([]float32, 4*d) // the two centres, zero-padded to 4 rows
	buf := make([]float32, 12)
	copy(cent[:d], rows[far])
	b, bs := -1, float32(math.Inf(1))
	dotsRows(rows, cent, 4, d, buf, func(i, r int, o []float32) {
		if s := o[r*4]; s < bs {
			b, bs = i, s
		}
	})
	if bs >= 1-1e-6 { // all points (numerically) equal
		return 0
	}
	copy(cent[d:2*d], rows[b])

	side := make([]int8, nc)
	for i := range side {
		side[i] = -1
	}
	sums := make([]float64, 2*d)
	var wSplit float64
	for it := 1; ; it++ {
		changed := 0
		wSplit = 0
		dotsRows(rows, cent, 4, d, buf, func(i, r int, o []float32) {
			s, best := int8(0), o[r*4]
			if o[r*4+1] > best {
				s, best = 1, o[r*4+1]
			}
			if side[i] != s {
				side[i] = s
				changed++
			}
			wSplit += cosDist(best)
		})
		if changed == 0 || it >= maxSplitIter {
			break
		}
		clear(sums)
		var cnt [2]int
		for i, x := range rows {
			addF32ToF64(sums[int(side[i])*d:int(side[i]+1)*d], x)
			cnt[side[i]]++
		}
		for h := range 2 {
			if cnt[h] == 0 || !vec.UnitInto(cent[h*d:(h+1)*d], sums[h*d:(h+1)*d]) {
				return 0
			}
		}
	}
	copy(out, cent[:2*d])
	return max(0, w-wSplit)
}
