package cluster

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
	// Iterations is the number of Lloyd iterations (assignment steps) or
	// mini-batches of the winning restart.
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
	workers    int
	opt        Options
	chunkIn    []float64 // per-chunk inertia
	chunkMoved []int     // per-chunk number of changed assignments
}

// KMeans clusters L2-normalised points into opt.K clusters with spherical
// k-means++ (see the package documentation). Deterministic for a given
// opt.Seed, independent of opt.Workers.
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
	m := &km{
		data: data, n: len(data), d: d, k: opt.K,
		workers:    resolveWorkers(opt.Workers),
		opt:        opt,
		chunkIn:    make([]float64, numChunks(len(data))),
		chunkMoved: make([]int, numChunks(len(data))),
	}
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
	best.Centroids = make([][]float32, m.k)
	for c := range best.Centroids {
		best.Centroids[c] = bestCent[c*d : (c+1)*d : (c+1)*d]
	}
	return best, nil
}

// nearest returns the index of the centroid with the largest dot product
// with x (lowest index on ties) and that dot product.
func nearest(x, cent []float32, k, d int) (int, float32) {
	best, bs := 0, dot(x, cent[:d])
	for j := 1; j < k; j++ {
		if s := dot(x, cent[j*d:(j+1)*d]); s > bs {
			best, bs = j, s
		}
	}
	return best, bs
}

func cosDist(s float32) float64 { return max(0, 1-float64(s)) }

// assignAll assigns every point to its nearest centroid, filling assign and
// dist, and returns the inertia and the number of changed assignments.
func (m *km) assignAll(cent []float32, assign []int, dist []float64) (float64, int) {
	forChunks(m.n, m.workers, func(c, lo, hi int) {
		var in float64
		moved := 0
		for i := lo; i < hi; i++ {
			j, s := nearest(m.data[i], cent, m.k, m.d)
			if assign[i] != j {
				moved++
				assign[i] = j
			}
			dist[i] = cosDist(s)
			in += dist[i]
		}
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

// seed returns k centroids chosen by k-means++ from the points idx (all
// points when idx is nil).
func (m *km) seed(rng *rand.Rand, idx []int) []float32 {
	ns := m.n
	point := func(s int) []float32 { return m.data[s] }
	if idx != nil {
		ns = len(idx)
		point = func(s int) []float32 { return m.data[idx[s]] }
	}
	d := m.d
	cent := make([]float32, m.k*d)
	minD := make([]float64, ns)
	copy(cent[:d], point(rng.IntN(ns)))
	forChunks(ns, m.workers, func(_, lo, hi int) {
		for s := lo; s < hi; s++ {
			minD[s] = cosDist(dot(point(s), cent[:d]))
		}
	})
	for j := 1; j < m.k; j++ {
		var total float64
		for _, w := range minD {
			total += w
		}
		pick := -1
		if total > 0 {
			r := rng.Float64() * total
			var acc float64
			for s, w := range minD {
				if w <= 0 {
					continue
				}
				pick = s // last positive-weight point guards against rounding
				acc += w
				if acc > r {
					break
				}
			}
		} else {
			// Every point coincides with a centre: fewer distinct points
			// than k. Any choice duplicates a centre.
			pick = rng.IntN(ns)
		}
		cj := cent[j*d : (j+1)*d]
		copy(cj, point(pick))
		forChunks(ns, m.workers, func(_, lo, hi int) {
			for s := lo; s < hi; s++ {
				minD[s] = min(minD[s], cosDist(dot(point(s), cj)))
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
	sums := make([]float64, m.k*m.d)
	counts := make([]int, m.k)
	prev := math.Inf(1)
	for it := 1; ; it++ {
		inertia, moved := m.assignAll(cent, assign, dist)
		if moved == 0 || it >= m.opt.MaxIter || (it > 1 && prev-inertia <= m.opt.Tol*prev) {
			return cent, it, inertia
		}
		prev = inertia
		m.update(cent, assign, dist, sums, counts)
	}
}

// dimBlock is the number of coordinates per unit of parallel work in update.
const dimBlock = 32

// update sets each centroid to the renormalised mean of its points and
// re-seeds empty clusters from the points farthest from their centroids.
// Sums run over points in index order within each coordinate block, so the
// result does not depend on the worker count.
func (m *km) update(cent []float32, assign []int, dist []float64, sums []float64, counts []int) {
	d, k := m.d, m.k
	clear(counts)
	for _, c := range assign {
		counts[c]++
	}
	forBlocks(d, dimBlock, m.workers, func(_, t0, t1 int) {
		for c := range k {
			clear(sums[c*d+t0 : c*d+t1])
		}
		for i, x := range m.data {
			row := sums[assign[i]*d:]
			for t := t0; t < t1; t++ {
				row[t] += float64(x[t])
			}
		}
	})
	var empty []int
	for c := range k {
		row := sums[c*d : (c+1)*d]
		var s float64
		for _, v := range row {
			s += v * v
		}
		if counts[c] == 0 || s == 0 {
			empty = append(empty, c)
			continue
		}
		inv := 1 / math.Sqrt(s)
		for t, v := range row {
			cent[c*d+t] = float32(v * inv)
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
		inertia, _ := m.assignAll(cent, assign, dist)
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
	inertia, _ := m.assignAll(cent, assign, dist)
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
	for i, v := range cent {
		mean[i] = float64(v)
	}
	counts := make([]float64, k)
	batch := make([]int, B)
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
		}
		forChunks(B, m.workers, func(_, lo, hi int) {
			for b := lo; b < hi; b++ {
				j, s := nearest(m.data[batch[b]], cent, k, d)
				bAssign[b] = j
				bDist[b] = cosDist(s)
			}
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
			if !ok {
				continue
			}
			row := mean[c*d : (c+1)*d]
			var s float64
			for _, v := range row {
				s += v * v
			}
			if s == 0 {
				continue
			}
			inv := 1 / math.Sqrt(s)
			for t, v := range row {
				cent[c*d+t] = float32(v * inv)
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
