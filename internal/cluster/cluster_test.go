package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

func normalize(x []float64) []float32 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	s = math.Sqrt(s)
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v / s)
	}
	return out
}

// blobs returns k Gaussian blobs of per points each on the unit sphere in
// dim dimensions: random unit centres plus N(0, sigma²) noise per
// coordinate, renormalised. Points are shuffled.
func blobs(seed uint64, k, per, dim int, sigma float64) ([][]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	centres := make([][]float64, k)
	for c := range centres {
		v := make([]float64, dim)
		for t := range v {
			v[t] = rng.NormFloat64()
		}
		u := normalize(v)
		for t := range v {
			v[t] = float64(u[t])
		}
		centres[c] = v
	}
	var data [][]float32
	var labels []int
	x := make([]float64, dim)
	for c := range k {
		for range per {
			for t := range x {
				x[t] = centres[c][t] + sigma*rng.NormFloat64()
			}
			data = append(data, normalize(x))
			labels = append(labels, c)
		}
	}
	rng.Shuffle(len(data), func(i, j int) {
		data[i], data[j] = data[j], data[i]
		labels[i], labels[j] = labels[j], labels[i]
	})
	return data, labels
}

// checkARI logs the adjusted Rand index of got against want with detail, and fails the test when it
// is under least.
func checkARI(t *testing.T, what string, want, got []int, least float64, detail string) {
	t.Helper()
	ari := AdjustedRand(want, got)
	t.Logf("%s ARI %.4f, %s", what, ari, detail)
	if ari < least {
		t.Fatalf("%s ARI %.4f < %v", what, ari, least)
	}
}

func TestAdjustedRandKnownValues(t *testing.T) {
	for _, tc := range []struct {
		a, b []int
		want float64
	}{
		{[]int{0, 0, 1, 1}, []int{0, 0, 1, 1}, 1},
		{[]int{0, 0, 1, 1}, []int{5, 5, 3, 3}, 1},                               // relabelled
		{[]int{0, 0, 1, 1}, []int{0, 0, 1, 2}, 4.0 / 7},                         // (1−1/3)/(3/2−1/3)
		{[]int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},                            // (0−2/3)/(2−2/3)
		{[]int{0, 0, 0, 0}, []int{0, 1, 2, 3}, 0},                               // index 0, expected 0, max 3
		{[]int{0, 0, 0, 1, 1, 1}, []int{0, 0, 1, 1, 2, 2}, 0.24242424242424243}, // sklearn
		{[]int{0, 0, 0}, []int{1, 1, 1}, 1},                                     // both trivial
	} {
		if got := AdjustedRand(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ARI(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := AdjustedRand(tc.b, tc.a); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ARI not symmetric for %v, %v", tc.a, tc.b)
		}
	}
}

func TestKMeansRecoversBlobs(t *testing.T) {
	data, labels := blobs(1, 5, 200, 32, 0.1)
	r, err := KMeans(data, Options{K: 5, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	checkARI(t, "k-means", labels, r.Assign, 0.95, fmt.Sprintf("inertia %.3f, iterations %d", r.Inertia, r.Iterations))
	// Consistency of the result fields.
	var in float64
	for i, x := range data {
		c := r.Assign[i]
		want := 1 - float64(dot(x, r.Centroids[c]))
		if math.Abs(r.Dist[i]-max(0, want)) > 1e-6 {
			t.Fatalf("Dist[%d] = %v, want %v", i, r.Dist[i], want)
		}
		for j, cj := range r.Centroids {
			if dot(x, cj) > dot(x, r.Centroids[c])+1e-6 {
				t.Fatalf("point %d closer to %d than to its centroid %d", i, j, c)
			}
		}
		in += r.Dist[i]
	}
	if math.Abs(in-r.Inertia) > 1e-9*max(1, in) {
		t.Fatalf("Inertia %v, sum of Dist %v", r.Inertia, in)
	}
	for c, v := range r.Centroids {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("centroid %d has squared norm %v", c, s)
		}
	}
}

func sameResult(t *testing.T, what string, a, b *Result) {
	t.Helper()
	if !slices.Equal(a.Assign, b.Assign) || !slices.Equal(a.Dist, b.Dist) ||
		a.Inertia != b.Inertia || a.Iterations != b.Iterations {
		t.Fatalf("%s: results differ (inertia %v vs %v, iterations %d vs %d)",
			what, a.Inertia, b.Inertia, a.Iterations, b.Iterations)
	}
	for c := range a.Centroids {
		if !slices.Equal(a.Centroids[c], b.Centroids[c]) {
			t.Fatalf("%s: centroid %d differs", what, c)
		}
	}
}

func TestKMeansDeterministicAcrossWorkers(t *testing.T) {
	data, _ := blobs(2, 6, 500, 24, 0.3) // 3000 points: several chunks
	for _, mini := range []bool{false, true} {
		opt := Options{K: 6, Seed: 11, MiniBatch: mini, BatchSize: 256, Workers: 1}
		ref, err := KMeans(data, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{2, 3, 8} {
			opt.Workers = w
			r, _ := KMeans(data, opt)
			sameResult(t, "workers", ref, r)
		}
		prev := runtime.GOMAXPROCS(1)
		opt.Workers = 0
		r1, _ := KMeans(data, opt)
		runtime.GOMAXPROCS(max(4, prev))
		r4, _ := KMeans(data, opt)
		runtime.GOMAXPROCS(prev)
		sameResult(t, "GOMAXPROCS=1 vs workers=1", ref, r1)
		sameResult(t, "GOMAXPROCS=4 vs workers=1", ref, r4)
		again, _ := KMeans(data, Options{K: 6, Seed: 11, MiniBatch: mini, BatchSize: 256})
		sameResult(t, "same seed", ref, again)
	}
}

func TestMiniBatchCloseToFull(t *testing.T) {
	data, labels := blobs(3, 5, 400, 32, 0.1)
	full, err := KMeans(data, Options{K: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := KMeans(data, Options{K: 5, Seed: 1, MiniBatch: true, BatchSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	checkARI(t, "mini-batch vs full", full.Assign, mb.Assign, 0.9, fmt.Sprintf("vs truth %.4f, inertia %.3f vs %.3f, batches %d",
		AdjustedRand(labels, mb.Assign), mb.Inertia, full.Inertia, mb.Iterations))
}

func TestKMeansEdgeCases(t *testing.T) {
	data, _ := blobs(4, 3, 5, 8, 0.2)
	// k = n: every point its own cluster.
	r, err := KMeans(data, Options{K: len(data), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Inertia > 1e-5 {
		t.Fatalf("k = n: inertia %v", r.Inertia)
	}
	// Fewer distinct points than k: must not fail.
	dup := [][]float32{data[0], data[0], data[0], data[1], data[1]}
	if _, err := KMeans(dup, Options{K: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := KMeans(dup, Options{K: 3, Seed: 1, MiniBatch: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := KMeans(data, Options{K: 0}); err == nil {
		t.Fatal("k = 0 accepted")
	}
	if _, err := KMeans(data, Options{K: len(data) + 1}); err == nil {
		t.Fatal("k > n accepted")
	}
	if _, err := KMeans([][]float32{{1, 1}}, Options{K: 1}); err == nil {
		t.Fatal("non-unit vector accepted")
	}
	if _, err := KMeans([][]float32{{1, 0}, {1}}, Options{K: 1}); err == nil {
		t.Fatal("ragged input accepted")
	}
	if _, err := KMeans([][]float32{{float32(math.NaN()), 0}}, Options{K: 1}); err == nil {
		t.Fatal("NaN accepted")
	}
}

func TestEmptyClusterReseed(t *testing.T) {
	data, _ := blobs(5, 2, 10, 8, 0.3)
	m := &km{data: data, n: len(data), d: 8, k: 2, workers: 1}
	assign := make([]int, m.n) // everything in cluster 0
	dist := make([]float64, m.n)
	cent := make([]float32, 2*8)
	copy(cent, data[0])
	far := 0
	for i, x := range data {
		dist[i] = cosDist(dot(x, data[0]))
		if dist[i] > dist[far] {
			far = i
		}
	}
	m.update(cent, assign, dist, make([]float64, 16), make([]int, 2))
	if !slices.Equal(cent[8:], data[far]) {
		t.Fatalf("empty cluster not re-seeded from the farthest point %d", far)
	}
}

func TestChooseKPicksPlantedK(t *testing.T) {
	data, _ := blobs(6, 5, 150, 32, 0.12)
	r, k, scores, err := ChooseK(data, 2, 8, Options{Seed: 3, Restarts: 2}, 400)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scores {
		t.Logf("k=%d silhouette %.4f inertia %.3f", s.K, s.Silhouette, s.Inertia)
	}
	if k != 5 || len(r.Centroids) != 5 || len(scores) != 7 {
		t.Fatalf("picked k = %d, want 5", k)
	}
	// The sampled silhouette is close to the full one.
	full, err := Silhouette(data, r.Assign, 5, len(data), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(full-scores[3].Silhouette) > 0.05 {
		t.Fatalf("sampled silhouette %v vs full %v", scores[3].Silhouette, full)
	}
}

func TestSilhouetteHandComputed(t *testing.T) {
	// Four points on the unit circle: two tight pairs at 0°/10° and
	// 90°/100°.
	deg := func(a float64) []float32 {
		r := a * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	data := [][]float32{deg(0), deg(10), deg(90), deg(100)}
	labels := []int{0, 0, 1, 1}
	d := func(a float64) float64 { return 1 - math.Cos(a*math.Pi/180) }
	// Point 0: a = d(10), b = mean(d(90), d(100)); symmetric for the rest
	// except the mirrored distances, which are the same by symmetry.
	a, b := d(10), (d(90)+d(100))/2
	b1 := (d(80) + d(90)) / 2
	want := ((b-a)/b + (b1-a)/b1 + (b1-a)/b1 + (b-a)/b) / 4
	got, err := Silhouette(data, labels, 2, 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-6 {
		t.Fatalf("silhouette %v, want %v", got, want)
	}
}

func TestLouvainRecoversBlobs(t *testing.T) {
	data, labels := blobs(7, 5, 100, 32, 0.05)
	opt := GraphOptions{Neighbours: 10, Seed: 5}
	r, err := Louvain(data, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkARI(t, "Louvain", labels, r.Assign, 0.9, fmt.Sprintf("%d communities, Q %.4f", r.Communities, r.Modularity))
	for range 3 {
		again, _ := Louvain(data, opt)
		if !slices.Equal(again.Assign, r.Assign) || again.Modularity != r.Modularity {
			t.Fatal("Louvain not deterministic for a seed")
		}
	}
	opt.Workers = 1
	one, _ := Louvain(data, opt)
	if !slices.Equal(one.Assign, r.Assign) {
		t.Fatal("Louvain depends on the worker count")
	}
}

func TestLouvainRefusesBadResolution(t *testing.T) {
	data := [][]float32{{1, 0}, {0, 1}, {0.6, 0.8}}
	for _, res := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1} {
		if _, err := Louvain(data, GraphOptions{Neighbours: 2, Resolution: res}); err == nil {
			t.Errorf("resolution %v: no error", res)
		}
	}
}

func TestLouvainNonConvex(t *testing.T) {
	// Two concentric rings (a non-convex shape k-means splits badly),
	// lifted onto the sphere: (x, y, h) normalised with h = 1.
	rng := rand.New(rand.NewPCG(8, 8))
	var data [][]float32
	var labels []int
	for ring, rad := range []float64{0.3, 1.0} {
		for range 200 {
			a := rng.Float64() * 2 * math.Pi
			r := rad + 0.01*rng.NormFloat64()
			data = append(data, normalize([]float64{r * math.Cos(a), r * math.Sin(a), 1}))
			labels = append(labels, ring)
		}
	}
	r, err := Louvain(data, GraphOptions{Neighbours: 8, Seed: 1, Resolution: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	km, _ := KMeans(data, Options{K: 2, Seed: 1})
	t.Logf("rings: Louvain ARI %.3f (%d communities), k-means ARI %.3f",
		AdjustedRand(labels, r.Assign), r.Communities, AdjustedRand(labels, km.Assign))
	// Louvain may split a ring into arcs, but never mixes the rings.
	for c := range r.Communities {
		seen := map[int]bool{}
		for i, v := range r.Assign {
			if v == c {
				seen[labels[i]] = true
			}
		}
		if len(seen) > 1 {
			t.Fatalf("community %d mixes both rings", c)
		}
	}
}

func TestPCAReproducesPlanarDistances(t *testing.T) {
	const dim = 32
	rng := rand.New(rand.NewPCG(9, 9))
	// Orthonormal u, v by Gram–Schmidt, plus an offset.
	u := make([]float64, dim)
	v := make([]float64, dim)
	o := make([]float64, dim)
	for t := range u {
		u[t], v[t], o[t] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
	}
	unit := func(x []float64) {
		var s float64
		for _, a := range x {
			s += a * a
		}
		for t := range x {
			x[t] /= math.Sqrt(s)
		}
	}
	unit(u)
	var uv float64
	for t := range u {
		uv += u[t] * v[t]
	}
	for t := range v {
		v[t] -= uv * u[t]
	}
	unit(v)
	data := make([][]float32, 200)
	for i := range data {
		a, b := 3*rng.NormFloat64(), rng.NormFloat64()
		x := make([]float32, dim)
		for t := range x {
			x[t] = float32(o[t] + a*u[t] + b*v[t])
		}
		data[i] = x
	}
	cents := data[:3]
	xy, cxy, err := PCA2(data, cents)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range data {
		for j := range i {
			var s float64
			for t := range dim {
				d := float64(data[i][t]) - float64(data[j][t])
				s += d * d
			}
			got := math.Hypot(xy[i][0]-xy[j][0], xy[i][1]-xy[j][1])
			worst = max(worst, math.Abs(got-math.Sqrt(s)))
		}
	}
	if worst > 1e-4 {
		t.Fatalf("pairwise distances off by up to %v", worst)
	}
	for c := range cents {
		if cxy[c] != xy[c] {
			t.Fatalf("centroid %d projected to %v, same point as text %v", c, cxy[c], xy[c])
		}
	}
	// Deterministic sign: fitting on reversed rows gives the same axes.
	p1, _ := FitPCA(data)
	rev := slices.Clone(data)
	slices.Reverse(rev)
	p2, _ := FitPCA(rev)
	for c := range 2 {
		for j := range dim {
			if math.Abs(p1.Axes[c][j]-p2.Axes[c][j]) > 1e-9 {
				t.Fatalf("axis %d differs after reordering rows", c)
			}
		}
	}
	if p1.Variance[0] < p1.Variance[1] {
		t.Fatalf("variances not descending: %v", p1.Variance)
	}
}
