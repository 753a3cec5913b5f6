package cluster

import (
	"math"
	"slices"
	"testing"
)

// TestRefineFixesSharedCentroid starts Lloyd from a local optimum that Lloyd
// cannot leave (two centroids in blob 0, one centroid between blobs 1 and 2)
// and checks that refine finds the planted partition, lowers the inertia,
// keeps Dist and Inertia consistent, and does the same for every worker
// count.
func TestRefineFixesSharedCentroid(t *testing.T) {
	const k, dim = 6, 32
	data, labels := blobs(21, k, 200, dim, 0.1)
	var ref []int
	for _, w := range []int{1, 3} {
		m := newKM(data, dim, Options{K: k, Workers: w, MaxIter: 100, Tol: 1e-6})
		cent := make([]float32, m.kp*dim)
		means := make([][]float64, k)
		for c := range means {
			means[c] = make([]float64, dim)
		}
		var first []int // two points of blob 0
		for i, x := range data {
			for t, v := range x {
				means[labels[i]][t] += float64(v)
			}
			if labels[i] == 0 && len(first) < 2 {
				first = append(first, i)
			}
		}
		for t := range dim {
			means[1][t] += means[2][t]
		}
		copy(cent[0:dim], data[first[0]])
		copy(cent[dim:2*dim], data[first[1]])
		copy(cent[2*dim:3*dim], normalize(means[1]))
		for c := 3; c < k; c++ {
			copy(cent[c*dim:(c+1)*dim], normalize(means[c]))
		}
		assign := make([]int, m.n)
		for i := range assign {
			assign[i] = -1
		}
		dist := make([]float64, m.n)
		_, before := m.iterate(cent, assign, dist, 100)
		if ari := AdjustedRand(labels, assign); ari > 0.95 {
			t.Fatalf("set-up: Lloyd left the local optimum (ARI %.4f)", ari)
		}
		after, iters := m.refine(cent, assign, dist, before)
		ari := AdjustedRand(labels, assign)
		t.Logf("workers %d: inertia %.3f -> %.3f in %d steps, ARI %.4f", w, before, after, iters, ari)
		if ari != 1 || !(after < before) {
			t.Fatalf("refine: ARI %.4f, inertia %.3f -> %.3f", ari, before, after)
		}
		var sum float64
		for i, x := range data {
			want := cosDist(dot(x, cent[assign[i]*dim:(assign[i]+1)*dim]))
			if math.Abs(dist[i]-want) > 1e-6 {
				t.Fatalf("dist[%d] = %v, want %v", i, dist[i], want)
			}
			sum += dist[i]
		}
		if math.Abs(sum-after) > 1e-9*sum {
			t.Fatalf("inertia %v, sum of dist %v", after, sum)
		}
		if ref == nil {
			ref = slices.Clone(assign)
		} else if !slices.Equal(ref, assign) {
			t.Fatal("refine depends on the worker count")
		}
	}
}

// TestRefineKeepsOptimum checks that refine leaves the planted partition of
// well-separated blobs alone.
func TestRefineKeepsOptimum(t *testing.T) {
	data, labels := blobs(22, 4, 100, 16, 0.05)
	r, err := KMeans(data, Options{K: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ari := AdjustedRand(labels, r.Assign); ari != 1 {
		t.Fatalf("ARI %.4f", ari)
	}
}
