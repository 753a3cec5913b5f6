package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// DefaultSilhouetteSample is the sample size used when none is given.
const DefaultSilhouetteSample = 2000

// silhouetteSample is a seeded sample of points with their pairwise cosine
// distances, reusable across labellings.
type silhouetteSample struct {
	idx  []int     // sampled point indices, ascending
	dist []float32 // len(idx)² cosine distances, row-major
}

func newSilhouetteSample(data [][]float32, maxN int, seed uint64, workers int) *silhouetteSample {
	n := len(data)
	if maxN <= 0 {
		maxN = DefaultSilhouetteSample
	}
	var idx []int
	if n <= maxN {
		idx = make([]int, n)
		for i := range idx {
			idx[i] = i
		}
	} else {
		rng := rand.New(rand.NewPCG(seed, 0x5111))
		idx = rng.Perm(n)[:maxN]
		slices.Sort(idx)
	}
	s := len(idx)
	dist := make([]float32, s*s)
	forBlocks(s, 16, resolveWorkers(workers), func(_, lo, hi int) {
		for a := lo; a < hi; a++ {
			x := data[idx[a]]
			for b := range s {
				if b != a {
					dist[a*s+b] = float32(cosDist(dot(x, data[idx[b]])))
				}
			}
		}
	})
	return &silhouetteSample{idx: idx, dist: dist}
}

// mean returns the mean silhouette of the sample under labels (labels of all
// points, values in [0, k)). A point alone in its cluster (within the sample)
// scores 0, following Rousseeuw; with fewer than two clusters present in the
// sample the mean is 0.
func (ss *silhouetteSample) mean(labels []int, k int) float64 {
	s := len(ss.idx)
	lab := make([]int, s)
	size := make([]int, k)
	for a, i := range ss.idx {
		lab[a] = labels[i]
		size[lab[a]]++
	}
	present := 0
	for _, v := range size {
		if v > 0 {
			present++
		}
	}
	if present < 2 {
		return 0
	}
	sum := make([]float64, k)
	var total float64
	for a := range s {
		clear(sum)
		row := ss.dist[a*s : (a+1)*s]
		for b, v := range row {
			sum[lab[b]] += float64(v) // row[a] is 0
		}
		own := lab[a]
		if size[own] < 2 {
			continue
		}
		ai := sum[own] / float64(size[own]-1)
		bi := -1.0
		for c, v := range sum {
			if c == own || size[c] == 0 {
				continue
			}
			if m := v / float64(size[c]); bi < 0 || m < bi {
				bi = m
			}
		}
		if den := max(ai, bi); den > 0 {
			total += (bi - ai) / den
		}
	}
	return total / float64(s)
}

// Silhouette returns the mean cosine silhouette of the labelling assign
// (values in [0, k)) over a sample of at most sampleN points (0 means
// DefaultSilhouetteSample) drawn with seed.
func Silhouette(data [][]float32, assign []int, k, sampleN int, seed uint64, workers int) (float64, error) {
	if _, err := checkData(data, true); err != nil {
		return 0, err
	}
	if len(assign) != len(data) {
		return 0, fmt.Errorf("cluster: %d labels for %d points", len(assign), len(data))
	}
	for _, c := range assign {
		if c < 0 || c >= k {
			return 0, fmt.Errorf("cluster: label %d outside [0, %d)", c, k)
		}
	}
	return newSilhouetteSample(data, sampleN, seed, workers).mean(assign, k), nil
}

// KScore is the quality of one candidate k.
type KScore struct {
	K          int
	Silhouette float64 // mean cosine silhouette on the sample
	Inertia    float64 // k-means inertia on all points
}

// ChooseK runs KMeans (with opt, opt.K ignored) for every k in [kMin, kMax]
// and picks the k with the highest mean cosine silhouette, computed on one
// seeded sample of at most sampleN points (0: DefaultSilhouetteSample) that
// is shared by all k. Ties go to the smaller k. The silhouette is undefined
// for k = 1, so kMin must be at least 2. It returns the winning clustering,
// its k, and the scores of every k in ascending order.
func ChooseK(data [][]float32, kMin, kMax int, opt Options, sampleN int) (*Result, int, []KScore, error) {
	if kMin < 2 || kMax < kMin {
		return nil, 0, nil, fmt.Errorf("cluster: bad k range [%d, %d] (need 2 ≤ kMin ≤ kMax)", kMin, kMax)
	}
	if _, err := checkData(data, true); err != nil {
		return nil, 0, nil, err
	}
	if kMax > len(data) {
		return nil, 0, nil, fmt.Errorf("%w (kMax=%d, n=%d)", ErrBadK, kMax, len(data))
	}
	ss := newSilhouetteSample(data, sampleN, opt.Seed, opt.Workers)
	var best *Result
	bestK := 0
	scores := make([]KScore, 0, kMax-kMin+1)
	for k := kMin; k <= kMax; k++ {
		o := opt
		o.K = k
		r, err := KMeans(data, o)
		if err != nil {
			return nil, 0, nil, err
		}
		sc := KScore{K: k, Silhouette: ss.mean(r.Assign, k), Inertia: r.Inertia}
		scores = append(scores, sc)
		if best == nil || sc.Silhouette > scores[bestK-kMin].Silhouette {
			best, bestK = r, k
		}
	}
	return best, bestK, scores, nil
}
