package match

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// pooled returns a pooled clustering: counts[c] = {A's texts, B's texts} in cluster c. Every text
// is discovery-split; within a cluster the distances grow with the text's index.
func pooled(counts ...[2]int) Input {
	in := Input{Splits: map[string]string{}, ClustersPath: "c.parquet", CentroidsPath: "cent.parquet"}
	for c, n := range counts {
		for m, model := range []string{"A", "B"} {
			for i := range n[m] {
				id := fmt.Sprintf("%s-%d-%d", model, c, i)
				in.Clusters = append(in.Clusters, schema.Cluster{GenerationID: id, Model: model, Clustering: "pooled:kmeans-k2", Cluster: int32(c), Distance: float32(i) / 100})
				in.Splits[id] = schema.SplitDiscovery
			}
		}
	}
	return in
}

func params() Params {
	return Params{A: "A", B: "B", Alpha: 0.05, MinSimilarity: 0.5, Samples: 3, Nearest: 2}
}

func TestRegionsPooled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     Input
		p      func(*Params)
		want   []string // categories in rank order
		counts [][2]int64
	}{
		{"equal shares", pooled([2]int{20, 20}, [2]int{20, 20}), nil, []string{schema.CategorySame, schema.CategorySame}, [][2]int64{{20, 20}, {20, 20}}},
		{"B moved into cluster 1", pooled([2]int{38, 2}, [2]int{2, 38}), nil, []string{schema.CategoryShifted, schema.CategoryShifted}, [][2]int64{{38, 2}, {2, 38}}},
		{"only B in cluster 2", pooled([2]int{30, 10}, [2]int{30, 10}, [2]int{0, 40}), nil, []string{schema.CategoryOnlyInB, schema.CategoryShifted, schema.CategoryShifted}, [][2]int64{{0, 40}, {30, 10}, {30, 10}}},
		{"alpha near 0: nothing differs", pooled([2]int{38, 2}, [2]int{2, 38}), func(p *Params) { p.Alpha = 1e-300 }, []string{schema.CategorySame, schema.CategorySame}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := params()
			if tc.p != nil {
				tc.p(&p)
			}
			res, err := Regions(tc.in, p)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Pooled {
				t.Error("not pooled")
			}
			var cats []string
			for i, r := range res.Regions {
				cats = append(cats, r.Category)
				if r.Rank != int32(i+1) {
					t.Errorf("region %d has rank %d", i, r.Rank)
				}
				if i > 0 && r.Q < res.Regions[i-1].Q {
					t.Errorf("ranks not by q: %v after %v", r.Q, res.Regions[i-1].Q)
				}
				if r.Test != TestFisher || r.TotalA+r.TotalB != int64(len(tc.in.Clusters)) || len(r.SampleIDs) != min(p.Samples, int(r.CountA+r.CountB)) {
					t.Errorf("region %+v", r)
				}
				if d := float64(r.CountB)/float64(r.TotalB) - float64(r.CountA)/float64(r.TotalA); math.Abs(d-r.ShareDiff) > 1e-12 {
					t.Errorf("share_diff %v, want %v", r.ShareDiff, d)
				}
				if tc.counts != nil && (r.CountA != tc.counts[i][0] || r.CountB != tc.counts[i][1]) {
					t.Errorf("region %d counts %d/%d, want %v", i, r.CountA, r.CountB, tc.counts[i])
				}
			}
			if !slices.Equal(cats, tc.want) {
				t.Errorf("categories %v, want %v", cats, tc.want)
			}
			if n := Differing(res.Regions); n != len(tc.want)-count2(tc.want, schema.CategorySame) {
				t.Errorf("Differing = %d", n)
			}
		})
	}
}

func count2(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// perModel returns per-model clusterings: A's clusters have centroids ca, B's cb, and each cluster
// holds n texts.
func perModel(ca, cb [][]float32, n int) Input {
	in := Input{Splits: map[string]string{}, ClustersPath: "c.parquet", CentroidsPath: "cent.parquet"}
	for _, side := range []struct {
		model string
		cents [][]float32
	}{{"A", ca}, {"B", cb}} {
		clustering := "per-model:" + side.model + ":kmeans-k" + fmt.Sprint(len(side.cents))
		for c, v := range side.cents {
			in.Centroids = append(in.Centroids, schema.Centroid{Clustering: clustering, Cluster: int32(c), Size: int64(n), Vector: v})
			for i := range n {
				id := fmt.Sprintf("%s-%d-%d", side.model, c, i)
				in.Clusters = append(in.Clusters, schema.Cluster{GenerationID: id, Model: side.model, Clustering: clustering, Cluster: int32(c)})
				in.Splits[id] = schema.SplitValidation
			}
		}
	}
	return in
}

func TestRegionsPerModel(t *testing.T) {
	x, y, z := []float32{1, 0, 0}, []float32{0, 1, 0}, []float32{0, 0, 1}
	xy := []float32{0.8, 0.6, 0}
	type pair struct {
		a, b *int32
	}
	i32 := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		name   string
		ca, cb [][]float32
		minSim float64
		want   []pair // in region order before ranking: A's clusters, then B's unmatched
	}{
		{"swapped order", [][]float32{x, y}, [][]float32{y, x}, 0.5, []pair{{i32(0), i32(1)}, {i32(1), i32(0)}}},
		{"one unmatched each", [][]float32{x, y}, [][]float32{xy, z}, 0.5, []pair{{i32(0), i32(0)}, {i32(1), nil}, {nil, i32(1)}}},
		{"min-similarity above every pair", [][]float32{x}, [][]float32{xy}, 0.9, []pair{{i32(0), nil}, {nil, i32(0)}}},
		{"min-similarity -1 matches orthogonal", [][]float32{x}, [][]float32{y}, -1, []pair{{i32(0), i32(0)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := params()
			p.MinSimilarity = tc.minSim
			res, err := Regions(perModel(tc.ca, tc.cb, 10), p)
			if err != nil {
				t.Fatal(err)
			}
			if res.Pooled {
				t.Fatal("pooled")
			}
			got := make([]schema.Match, len(res.Regions))
			for _, r := range res.Regions {
				got[r.Region] = r
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d regions, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				r := got[i]
				if !eq(r.ClusterA, w.a) || !eq(r.ClusterB, w.b) {
					t.Errorf("region %d: clusters %v/%v, want %v/%v", i, str(r.ClusterA), str(r.ClusterB), str(w.a), str(w.b))
				}
				if (r.Similarity != nil) != (w.a != nil && w.b != nil) {
					t.Errorf("region %d: similarity %v", i, r.Similarity)
				}
				switch {
				case w.b == nil && r.Category != schema.CategoryOnlyInA, w.a == nil && r.Category != schema.CategoryOnlyInB:
					t.Errorf("region %d: category %s", i, r.Category)
				}
				if len(r.Nearest) != min(p.Nearest, len(tc.cb)) && w.a != nil || len(r.Nearest) != len(r.NearestSim) {
					t.Errorf("region %d: nearest %v %v", i, r.Nearest, r.NearestSim)
				}
				if len(r.SampleIDs) != 0 {
					t.Errorf("region %d: samples %v of validation-split texts", i, r.SampleIDs)
				}
			}
		})
	}
}

func eq(a, b *int32) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func str(a *int32) string {
	if a == nil {
		return "nil"
	}
	return fmt.Sprint(*a)
}

func TestRegionsErrors(t *testing.T) {
	missing := pooled([2]int{2, 2})
	delete(missing.Splits, "A-0-1")
	noCentroids := perModel([][]float32{{1, 0}}, [][]float32{{0, 1}}, 2)
	noCentroids.Centroids = noCentroids.Centroids[:1]
	for _, tc := range []struct {
		name string
		in   Input
		p    Params
		path string
		want string
	}{
		{"generation without split", missing, params(), "c.parquet", "c.parquet: generation A-0-1 is in none of the GENERATIONS tables"},
		{"label without texts", pooled([2]int{2, 2}), Params{A: "A", B: "C", Alpha: 0.05}, "c.parquet", `c.parquet: column "model": has no texts of model "A" or "C"`},
		{"no centroids of B", noCentroids, params(), "cent.parquet", `cent.parquet: has no per-model centroids of "A" and "B"`},
	} {
		_, err := Regions(tc.in, tc.p)
		var ie *table.InputError
		if !errors.As(err, &ie) || ie.Path != tc.path || err.Error() != tc.want {
			t.Errorf("%s: %v, want an InputError %q", tc.name, err, tc.want)
		}
	}
}

func TestCategory(t *testing.T) {
	c := int32(0)
	for _, tc := range []struct {
		r    schema.Match
		want string
	}{
		{schema.Match{ClusterA: &c, ClusterB: &c, CountA: 5, CountB: 5, Q: 0.5}, schema.CategorySame},
		{schema.Match{ClusterA: &c, ClusterB: &c, CountA: 5, CountB: 50, Q: 0.01}, schema.CategoryShifted},
		{schema.Match{ClusterA: &c, ClusterB: &c, CountA: 5, CountB: 0, Q: 0.01}, schema.CategoryOnlyInA},
		{schema.Match{ClusterA: &c, ClusterB: &c, CountA: 5, CountB: 0, Q: 0.5}, schema.CategorySame},
		{schema.Match{ClusterA: &c, ClusterB: &c, CountA: 0, CountB: 5, Q: 0.05}, schema.CategoryOnlyInB},
		{schema.Match{ClusterA: &c, CountA: 5, Q: 1}, schema.CategoryOnlyInA},
		{schema.Match{ClusterB: &c, CountB: 5, Q: 1}, schema.CategoryOnlyInB},
	} {
		if got := Category(tc.r, 0.05); got != tc.want {
			t.Errorf("Category(%+v) = %s, want %s", tc.r, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	other := []schema.Centroid{{Cluster: 7, Vector: []float32{0, 1}}, {Cluster: 8, Vector: []float32{1, 0}}, {Cluster: 9, Vector: []float32{1, 1}}}
	c := schema.Centroid{Vector: []float32{2, 0}}
	for _, tc := range []struct {
		k    int
		want []int32
	}{{0, nil}, {1, []int32{8}}, {2, []int32{8, 9}}, {5, []int32{8, 9, 7}}, {-1, nil}} {
		ids, sims := Nearest(c, other, tc.k)
		if !slices.Equal(ids, tc.want) || len(sims) != len(ids) {
			t.Errorf("k=%d: %v %v, want %v", tc.k, ids, sims, tc.want)
		}
		if len(sims) > 1 && (math.Abs(sims[0]-1) > 1e-12 || math.Abs(sims[1]-math.Sqrt2/2) > 1e-7) {
			t.Errorf("k=%d: similarities %v", tc.k, sims)
		}
	}
}

func TestSamples(t *testing.T) {
	ms := []member{{id: "c", dist: 0.2, disc: true}, {id: "a", dist: 0.1, disc: false}, {id: "b", dist: 0.2, disc: true}, {id: "d", dist: 0.05, disc: true}}
	for _, tc := range []struct {
		n    int
		want []string
	}{{0, nil}, {1, []string{"d"}}, {2, []string{"d", "b"}}, {10, []string{"d", "b", "c"}}} {
		if got := samples(ms, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("samples(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestRank(t *testing.T) {
	regions := []schema.Match{{Region: 0, Q: 0.5, CohensH: 0.1}, {Region: 1, Q: 0.01, CohensH: -0.2}, {Region: 2, Q: 0.5, CohensH: -0.4}, {Region: 3, Q: 0.01, CohensH: 0.3}}
	var got []int32
	for _, r := range rank(regions) {
		got = append(got, r.Region)
	}
	if want := []int32{3, 1, 2, 0}; !slices.Equal(got, want) {
		t.Errorf("rank order %v, want %v", got, want)
	}
	if regions[3].Rank != 1 || regions[0].Rank != 4 {
		t.Errorf("ranks %+v", regions)
	}
}

func TestPaired(t *testing.T) {
	for _, tc := range []struct {
		name  string
		texts []Text
		want  []string // kept ids, sorted
		drop  Dropped
	}{
		{name: "empty"},
		{name: "all paired",
			texts: []Text{{"a1", "A", "p1"}, {"b1", "B", "p1"}, {"a2", "A", "p2"}, {"b2", "B", "p2"}},
			want:  []string{"a1", "a2", "b1", "b2"}},
		{name: "a prompt only B answered",
			texts: []Text{{"a1", "A", "p1"}, {"b1", "B", "p1"}, {"b2", "B", "p2"}, {"b3", "B", "p2"}},
			want:  []string{"a1", "b1"}, drop: Dropped{B: 2}},
		{name: "unpaired on both sides",
			texts: []Text{{"a1", "A", "p1"}, {"b2", "B", "p2"}, {"a3", "A", "p3"}, {"b3", "B", "p3"}},
			want:  []string{"a3", "b3"}, drop: Dropped{A: 1, B: 1}},
		{name: "several samples of a prompt answered by both",
			texts: []Text{{"a1", "A", "p1"}, {"a2", "A", "p1"}, {"b1", "B", "p1"}},
			want:  []string{"a1", "a2", "b1"}},
		{name: "another model is kept and pairs nothing",
			texts: []Text{{"a1", "A", "p1"}, {"c1", "C", "p1"}, {"c2", "C", "p2"}, {"b2", "B", "p2"}},
			want:  []string{"c1", "c2"}, drop: Dropped{A: 1, B: 1}},
		{name: "one model only",
			texts: []Text{{"a1", "A", "p1"}, {"a2", "A", "p2"}},
			drop:  Dropped{A: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, drop := Paired(tc.texts, "A", "B")
			got := slices.Sorted(maps.Keys(keep))
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			if drop != tc.drop {
				t.Errorf("dropped %+v, want %+v", drop, tc.drop)
			}
		})
	}
}
