package cluster

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mbd-dev/mbd/internal/vec"
)

// Options configures KMeans. Zero values select the documented defaults.
type Options struct {
	// K is the number of clusters (1 ≤ K ≤ number of points).
	K int
	// Seed seeds the PCG generator; restart r uses stream r.
	Seed uint64
	// Restarts is the number of independently seeded runs; the one with the
	// lowest inertia is kept. Default 3.
	Restarts int
	// MaxIter caps Lloyd iterations (default 100) or, in mini-batch mode,
	// batches (default 300).
	MaxIter int
	// Tol is the relative inertia improvement below which iteration stops.
	// Default 1e-6; a negative value means 0 (stop only on no change).
	Tol float64
	// Workers is the number of goroutines for the parallel steps; 0 means
	// GOMAXPROCS. The result does not depend on it.
	Workers int
	// MiniBatch selects Sculley's mini-batch k-means, for large inputs.
	MiniBatch bool
	// BatchSize is the mini-batch size (default 1024).
	BatchSize int
}

// Result is a clustering of n points into K clusters.
type Result struct {
	// Assign[i] is the cluster of point i, in [0, K).
	Assign []int
	// Centroids holds K unit vectors; Assign is relative to these.
	Centroids [][]float32
	// Dist[i] is the cosine distance 1 − cos(point i, its centroid).
	Dist []float64
	// Inertia is Σ Dist.
	Inertia float64
	// Iterations is the number of Lloyd iterations (assignment steps) of the
	// winning restart, including those of the refinement moves kept, or its
	// number of mini-batches.
	Iterations int
}

// Errors returned for invalid input.
var (
	ErrEmpty   = errors.New("cluster: no points")
	ErrDim     = errors.New("cluster: points differ in dimension or have dimension 0")
	ErrNotUnit = errors.New("cluster: points must be finite and L2-normalised")
	ErrBadK    = errors.New("cluster: k must be between 1 and the number of points")
)

// unitNormSlop is how far from 1 a point's norm may be.
const unitNormSlop = 1e-3

// checkData validates that data is a non-empty set of finite unit vectors of
// one dimension and returns that dimension.
func checkData(data [][]float32, requireUnit bool) (int, error) {
	if len(data) == 0 {
		return 0, ErrEmpty
	}
	d := len(data[0])
	if d == 0 {
		return 0, ErrDim
	}
	for i, x := range data {
		if len(x) != d {
			return 0, ErrDim
		}
		var s float64
		for _, v := range x {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, fmt.Errorf("%w: point %d has %v", ErrNotUnit, i, v)
			}
			s += f * f
		}
		if requireUnit && math.Abs(math.Sqrt(s)-1) > unitNormSlop {
			return 0, fmt.Errorf("%w: point %d has norm %.6g", ErrNotUnit, i, math.Sqrt(s))
		}
	}
	return d, nil
}

// km holds the per-call state shared by the restarts.
type km struct {
	data       [][]float32
	n, d, k    int
	kp         int // k padded to a multiple of 4 (rows of a centroid matrix)
	workers    int
	opt        Options
	chunkIn    []float64 // per-chunk inertia
	chunkMoved []int     // per-chunk number of changed assignments
}

// newKM returns the state for clustering data (of dimension d) with the
// options opt, defaults filled in.
func newKM(data [][]float32, d int, opt Options) *km {
	return &km{
		data: data, n: len(data), d: d, k: opt.K, kp: padK(opt.K),
		workers:    resolveWorkers(opt.Workers),
		opt:        opt,
		chunkIn:    make([]float64, numChunks(len(data))),
		chunkMoved: make([]int, numChunks(len(data))),
	}
}

// KMeans clusters L2-normalised points into opt.K clusters with spherical
// k-means++ (see the package documentation; seeding is greedy k-means++, see
// seed). Without MiniBatch the winning restart is then refined by swap moves
// (see refine). Deterministic for a given opt.Seed, independent of
// opt.Workers.
func KMeans(data [][]float32, opt Options) (*Result, error) {
	d, err := checkData(data, true)
	if err != nil {
		return nil, err
	}
	if opt.K < 1 || opt.K > len(data) {
		return nil, fmt.Errorf("%w (k=%d, n=%d)", ErrBadK, opt.K, len(data))
	}
	if opt.Restarts <= 0 {
		opt.Restarts = 3
	}
	if opt.MaxIter <= 0 {
		opt.MaxIter = 100
		if opt.MiniBatch {
			opt.MaxIter = 300
		}
	}
	if opt.Tol == 0 {
		opt.Tol = 1e-6
	} else if opt.Tol < 0 {
		opt.Tol = 0
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1024
	}
	m := newKM(data, d, opt)
	var best *Result
	var bestCent []float32
	assign := make([]int, m.n)
	dist := make([]float64, m.n)
	for r := range opt.Restarts {
		rng := rand.New(rand.NewPCG(opt.Seed, uint64(r)))
		var cent []float32
		var iters int
		var inertia float64
		if opt.MiniBatch {
			cent, iters = m.miniBatch(rng)
			inertia = m.finish(cent, assign, dist)
		} else {
			cent, iters, inertia = m.lloyd(rng, assign, dist)
		}
		if best == nil || inertia < best.Inertia {
			if best == nil {
				best = &Result{}
			}
			best.Inertia = inertia
			best.Iterations = iters
			best.Assign, assign = assign, best.Assign
			best.Dist, dist = dist, best.Dist
			bestCent = cent
			if assign == nil {
				assign = make([]int, m.n)
				dist = make([]float64, m.n)
			}
		}
	}
	if !opt.MiniBatch {
		var iters int
		best.Inertia, iters = m.refine(bestCent, best.Assign, best.Dist, best.Inertia)
		best.Iterations += iters
	}
	best.Centroids = make([][]float32, m.k)
	for c := range best.Centroids {
		best.Centroids[c] = bestCent[c*d : (c+1)*d : (c+1)*d]
	}
	return best, nil
}

func cosDist(s float32) float64 { return max(0, 1-float64(s)) }

// assignAll assigns every point to its nearest centroid (cent has m.kp rows,
// the padding zero), filling assign and dist (and, if not nil, second with the
// dot product with the second-nearest centroid), and returns the inertia and
// the number of changed assignments.
func (m *km) assignAll(cent []float32, assign []int, dist []float64, second []float32) (float64, int) {
	forChunks(m.n, m.workers, func(c, lo, hi int) {
		s := getScratch(hi-lo, m.kp)
		var sec []float32
		if second != nil {
			sec = second[lo:hi]
		}
		nearestRows(m.data[lo:hi], cent, m.k, m.kp, m.d, s.buf, s.best, s.score, sec)
		var in float64
		moved := 0
		for i := lo; i < hi; i++ {
			j := s.best[i-lo]
			if assign[i] != j {
				moved++
				assign[i] = j
			}
			dist[i] = cosDist(s.score[i-lo])
			in += dist[i]
		}
		putScratch(s)
		m.chunkIn[c] = in
		m.chunkMoved[c] = moved
	})
	var in float64
	moved := 0
	for c := range m.chunkIn {
		in += m.chunkIn[c]
		moved += m.chunkMoved[c]
	}
	return in, moved
}

// seed returns k centroids (in a matrix of m.kp zero-padded rows) chosen by
// greedy k-means++ from the points idx (all points when idx is nil): the first
// centre is a uniformly drawn point; for every further centre, several
// candidates are drawn with probability proportional to the current
// D(x)² ∝ 1 − max cos, and the one that leaves the smallest potential Σ D(x)²
// is kept (lowest draw on ties). This is the seeding of scikit-learn's KMeans
// (Arthur & Vassilvitskii, section 6), except for the number of candidates:
// scikit-learn's 2 + ⌊ln k⌋ rounded up to a multiple of 4, since the kernel
// scores candidates in groups of four anyway (8 rather than 5 for k = 50).
// Each step is one pass over the points.
func (m *km) seed(rng *rand.Rand, idx []int) []float32 {
	pts := m.data
	if idx != nil {
		pts = make([][]float32, len(idx))
		for s, i := range idx {
			pts[s] = m.data[i]
		}
	}
	ns, d, k := len(pts), m.d, m.k
	trials := padK(2 + int(math.Log(float64(k))))
	cent := make([]float32, m.kp*d)
	cand := make([]float32, trials*d) // candidate centres
	candDot := make([]float32, ns*trials)
	minD := make([]float64, ns)
	cum := make([]float64, ns)
	nc := numChunks(ns)
	chunkPot := make([]float64, nc*trials)
	picks := make([]int, trials)

	// score computes candDot (for the first nt candidates) and, per chunk,
	// the potential Σ min(minD, 1 − cos) each candidate would leave.
	score := func(nt int) {
		forChunks(ns, m.workers, func(c, lo, hi int) {
			s := getScratch(0, trials)
			pot := chunkPot[c*trials : c*trials+nt]
			clear(pot)
			dotsRows(pts[lo:hi], cand, trials, d, s.buf, func(i, r int, out []float32) {
				p := lo + i
				for l := range nt {
					v := out[(3*(l/4)+r)*4+l%4]
					candDot[p*trials+l] = v
					pot[l] += min(minD[p], cosDist(v))
				}
			})
			putScratch(s)
		})
	}

	copy(cand[:d], pts[rng.IntN(ns)])
	copy(cent[:d], cand[:d])
	for s := range minD {
		minD[s] = math.Inf(1)
	}
	score(1)
	for s := range minD {
		minD[s] = cosDist(candDot[s*trials])
	}
	for j := 1; j < k; j++ {
		var total float64
		for s, w := range minD {
			total += w
			cum[s] = total
		}
		nt := trials
		if total > 0 {
			for l := range picks {
				r := rng.Float64() * total
				p, _ := slices.BinarySearchFunc(cum, r, func(c, r float64) int {
					if c > r {
						return 1
					}
					return -1
				})
				// p is the first point with cum > r, which has positive
				// weight; rounding can leave none: take the last
				// positive-weight point.
				if p == ns {
					p = ns - 1
					for minD[p] <= 0 {
						p--
					}
				}
				picks[l] = p
			}
		} else {
			// Every point coincides with a centre: fewer distinct points
			// than k. Any choice duplicates a centre.
			nt = 1
			picks[0] = rng.IntN(ns)
		}
		for l := range nt {
			copy(cand[l*d:(l+1)*d], pts[picks[l]])
		}
		score(nt)
		best, bestPot := 0, math.Inf(1)
		for l := range nt {
			var pot float64
			for c := range nc {
				pot += chunkPot[c*trials+l]
			}
			if pot < bestPot {
				best, bestPot = l, pot
			}
		}
		copy(cent[j*d:(j+1)*d], cand[best*d:(best+1)*d])
		forChunks(ns, m.workers, func(_, lo, hi int) {
			for s := lo; s < hi; s++ {
				minD[s] = min(minD[s], cosDist(candDot[s*trials+best]))
			}
		})
	}
	return cent
}

// lloyd runs one seeded restart of spherical Lloyd iterations.
func (m *km) lloyd(rng *rand.Rand, assign []int, dist []float64) ([]float32, int, float64) {
	cent := m.seed(rng, nil)
	for i := range assign {
		assign[i] = -1
	}
	iters, inertia := m.iterate(cent, assign, dist, m.opt.MaxIter)
	return cent, iters, inertia
}

// iterate runs Lloyd iterations from the centroids cent until no assignment
// changes, the relative drop in inertia is at most Tol, or maxIter
// assignment steps. It returns the number of assignment steps and the
// inertia; assign and dist are those of cent on return.
func (m *km) iterate(cent []float32, assign []int, dist []float64, maxIter int) (int, float64) {
	sums := make([]float64, m.k*m.d)
	counts := make([]int, m.k)
	prev := math.Inf(1)
	for it := 1; ; it++ {
		inertia, moved := m.assignAll(cent, assign, dist, nil)
		if moved == 0 || it >= maxIter || (it > 1 && prev-inertia <= m.opt.Tol*prev) {
			return it, inertia
		}
		prev = inertia
		m.update(cent, assign, dist, sums, counts)
	}
}

// updateBlock is the number of coordinates per unit of parallel work in
// update: one contiguous block of every row per worker (a multiple of 8
// coordinates), so that each worker streams through its part of the rows
// instead of striding through all of them many times. Every coordinate is
// summed over the points in index order however the rows are blocked, so the
// result does not depend on the block size.
func updateBlock(d, workers int) int { return max(8, ((d+workers-1)/workers+7)&^7) }

// update sets each centroid to the renormalised mean of its points and
// re-seeds empty clusters from the points farthest from their centroids.
// Sums run over points in index order for every coordinate, so the result
// does not depend on the worker count.
func (m *km) update(cent []float32, assign []int, dist []float64, sums []float64, counts []int) {
	d, k := m.d, m.k
	clear(counts)
	for _, c := range assign {
		counts[c]++
	}
	forBlocks(d, updateBlock(d, m.workers), m.workers, func(_, t0, t1 int) {
		for c := range k {
			clear(sums[c*d+t0 : c*d+t1])
		}
		for i, x := range m.data {
			addF32ToF64(sums[assign[i]*d+t0:assign[i]*d+t1], x[t0:t1])
		}
	})
	var empty []int
	for c := range k {
		if counts[c] == 0 || !vec.UnitInto(cent[c*d:(c+1)*d], sums[c*d:(c+1)*d]) {
			empty = append(empty, c)
		}
	}
	m.reseed(cent, empty, dist)
}

// reseed moves each empty centroid onto the point farthest from its own
// centroid (lowest index on ties), using each point at most once. It
// overwrites the used points' dist entries.
func (m *km) reseed(cent []float32, empty []int, dist []float64) {
	for _, c := range empty {
		far := 0
		for i, v := range dist {
			if v > dist[far] {
				far = i
			}
		}
		copy(cent[c*m.d:(c+1)*m.d], m.data[far])
		dist[far] = -1
	}
}

// finish assigns all points to cent, re-seeding clusters left empty, and
// returns the inertia.
func (m *km) finish(cent []float32, assign []int, dist []float64) float64 {
	counts := make([]int, m.k)
	for range m.k + 1 {
		for i := range assign {
			assign[i] = -1
		}
		inertia, _ := m.assignAll(cent, assign, dist, nil)
		clear(counts)
		for _, c := range assign {
			counts[c]++
		}
		var empty []int
		for c, v := range counts {
			if v == 0 {
				empty = append(empty, c)
			}
		}
		if len(empty) == 0 {
			return inertia
		}
		m.reseed(cent, empty, dist)
	}
	// Only reachable with duplicate points; keep the last assignment.
	inertia, _ := m.assignAll(cent, assign, dist, nil)
	return inertia
}

// miniBatch runs one seeded restart of Sculley's mini-batch k-means and
// returns the centroids and the number of batches.
func (m *km) miniBatch(rng *rand.Rand) ([]float32, int) {
	d, k := m.d, m.k
	B := min(m.opt.BatchSize, m.n)
	initN := min(m.n, max(3*B, 3*k))
	var idx []int
	if initN < m.n {
		idx = rng.Perm(m.n)[:initN]
		slices.Sort(idx)
	}
	cent := m.seed(rng, idx)
	mean := make([]float64, k*d)
	for i, v := range cent[:k*d] {
		mean[i] = float64(v)
	}
	counts := make([]float64, k)
	batch := make([]int, B)
	bRows := make([][]float32, B)
	bAssign := make([]int, B)
	bDist := make([]float64, B)
	touched := make([]bool, k)
	alpha := min(1, 2*float64(B)/float64(m.n+1))
	ewa, best := math.NaN(), math.Inf(1)
	noImprove := 0
	it := 0
	for it < m.opt.MaxIter {
		it++
		for b := range batch {
			batch[b] = rng.IntN(m.n)
			bRows[b] = m.data[batch[b]]
		}
		forChunks(B, m.workers, func(_, lo, hi int) {
			s := getScratch(hi-lo, m.kp)
			nearestRows(bRows[lo:hi], cent, k, m.kp, d, s.buf, s.best, s.score, nil)
			for b := lo; b < hi; b++ {
				bAssign[b] = s.best[b-lo]
				bDist[b] = cosDist(s.score[b-lo])
			}
			putScratch(s)
		})
		var bi float64
		for _, v := range bDist {
			bi += v
		}
		bi /= float64(B)
		clear(touched)
		for b, c := range bAssign {
			counts[c]++
			eta := 1 / counts[c]
			x := m.data[batch[b]]
			row := mean[c*d : (c+1)*d]
			for t := range row {
				row[t] += eta * (float64(x[t]) - row[t])
			}
			touched[c] = true
		}
		for c, ok := range touched {
			if ok {
				vec.UnitInto(cent[c*d:(c+1)*d], mean[c*d:(c+1)*d])
			}
		}
		if math.IsNaN(ewa) {
			ewa = bi
		} else {
			ewa = ewa*(1-alpha) + bi*alpha
		}
		if ewa < best-m.opt.Tol*best {
			best = ewa
			noImprove = 0
		} else if noImprove++; noImprove >= 10 {
			break
		}
	}
	return cent, it
}
