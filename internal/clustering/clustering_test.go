package clustering

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/vec"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestGroups(t *testing.T) {
	pts := []Point{{Model: "B"}, {Model: "A"}, {Model: "B"}}
	for _, tc := range []struct {
		mode  string
		names []string
		want  map[string][]int
	}{
		{ModePooled, []string{"pooled"}, map[string][]int{"pooled": {0, 1, 2}}},
		{ModeByPrompt, []string{"pooled"}, map[string][]int{"pooled": {0, 1, 2}}},
		{ModePerModel, []string{"per-model:A", "per-model:B"}, map[string][]int{"per-model:A": {1}, "per-model:B": {0, 2}}},
	} {
		names, groups := Groups(pts, tc.mode)
		if !slices.Equal(names, tc.names) || !maps.EqualFunc(groups, tc.want, slices.Equal) {
			t.Errorf("%s: %v %v, want %v %v", tc.mode, names, groups, tc.names, tc.want)
		}
	}
}

func TestByPrompt(t *testing.T) {
	pts := []Point{{PromptID: "q"}, {PromptID: "p"}, {PromptID: "q"}, {PromptID: "r"}, {PromptID: "p"}}
	for _, tc := range []struct {
		idx  []int
		want []int
	}{
		{[]int{0, 1, 2, 3, 4}, []int{0, 1, 0, 2, 1}},
		{[]int{1, 3, 4}, []int{0, 1, 0}},
		{nil, []int{}},
	} {
		if got := ByPrompt(pts, tc.idx); !slices.Equal(got, tc.want) {
			t.Errorf("ByPrompt(%v) = %v, want %v", tc.idx, got, tc.want)
		}
	}
}

func TestCentroids(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   [][]float32
		assign []int
		want   [][]float32
		sizes  []int64
	}{
		{"two clusters", [][]float32{{1, 0}, {0, 1}, {1, 0}}, []int{0, 0, 1}, [][]float32{{math.Sqrt2 / 2, math.Sqrt2 / 2}, {1, 0}}, []int64{2, 1}},
		{"opposite points: zero mean", [][]float32{{1, 0}, {-1, 0}}, []int{0, 0}, [][]float32{{0, 0}}, []int64{2}},
		{"empty cluster", [][]float32{{0, 2}}, []int{1}, [][]float32{{0, 0}, {0, 1}}, []int64{0, 1}},
	} {
		got, sizes := Centroids(tc.data, tc.assign)
		if !slices.Equal(sizes, tc.sizes) || len(got) != len(tc.want) {
			t.Fatalf("%s: %v %v, want %v %v", tc.name, got, sizes, tc.want, tc.sizes)
		}
		for c := range got {
			for d := range got[c] {
				if math.Abs(float64(got[c][d]-tc.want[c][d])) > 1e-6 {
					t.Errorf("%s: centroid %d = %v, want %v", tc.name, c, got[c], tc.want[c])
				}
			}
		}
	}
}

func TestCenterByPrompt(t *testing.T) {
	for _, tc := range []struct {
		name string
		pts  []Point
		want [][]float32
		err  string
	}{
		{"two answers to one prompt", []Point{{ID: "a", PromptID: "p", Vec: []float32{1, 0}}, {ID: "b", PromptID: "p", Vec: []float32{0, 1}}},
			[][]float32{{math.Sqrt2 / 2, -math.Sqrt2 / 2}, {-math.Sqrt2 / 2, math.Sqrt2 / 2}}, ""},
		{"identical answers: zero", []Point{{ID: "a", PromptID: "p", Vec: []float32{1, 0}}, {ID: "b", PromptID: "p", Vec: []float32{1, 0}}},
			[][]float32{{0, 0}, {0, 0}}, ""},
		{"one answer", []Point{{ID: "a", PromptID: "p", Vec: []float32{1, 0}}, {ID: "b", PromptID: "p", Vec: []float32{0, 1}}, {ID: "c", PromptID: "q", Vec: []float32{1, 0}}},
			nil, "prompt q has only one text (generation c)"},
	} {
		err := CenterByPrompt(tc.pts)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, p := range tc.pts {
			for d := range p.Vec {
				if math.Abs(float64(p.Vec[d]-tc.want[i][d])) > 1e-6 {
					t.Errorf("%s: point %d = %v, want %v", tc.name, i, p.Vec, tc.want[i])
				}
			}
		}
	}
}

// blobs returns n points per blob of two models around the unit axes of dim dimensions, the model
// alternating and two points per prompt.
func blobs(blobs, n, dim int) []Point {
	rng := rand.New(rand.NewPCG(1, 2))
	var pts []Point
	for b := range blobs {
		for i := range n {
			v := make([]float64, dim)
			v[b] = 1
			for d := range v {
				v[d] += 0.05 * rng.NormFloat64()
			}
			pts = append(pts, Point{ID: fmt.Sprintf("g%d-%d", b, i), Model: []string{"A", "B"}[i%2], PromptID: fmt.Sprintf("p%d-%d", b, i/2), Vec: vec.Unit(v)})
		}
	}
	return pts
}

func TestCluster(t *testing.T) {
	pts := blobs(3, 20, 8)
	for _, tc := range []struct {
		name        string
		p           Params
		clusterings []string
		centroids   int
		scores      int
	}{
		{"pooled k auto", Params{Mode: ModePooled, Method: MethodKMeans, KMin: 2, KMax: 6, Seed: 1, Restarts: 2}, []string{"pooled:kmeans-k3"}, 3, 1},
		{"pooled k 4", Params{Mode: ModePooled, Method: MethodKMeans, K: 4, Seed: 1, Restarts: 2}, []string{"pooled:kmeans-k4"}, 4, 0},
		{"per-model k 3", Params{Mode: ModePerModel, Method: MethodKMeans, K: 3, Seed: 1, Restarts: 2}, []string{"per-model:A:kmeans-k3", "per-model:B:kmeans-k3"}, 6, 0},
		{"per-model k auto", Params{Mode: ModePerModel, Method: MethodKMeans, KMin: 2, KMax: 5, Seed: 1, Restarts: 2}, []string{"per-model:A:kmeans-k3", "per-model:B:kmeans-k3"}, 6, 2},
		{"louvain", Params{Mode: ModePooled, Method: MethodLouvain, Neighbours: 5, Resolution: 1, Seed: 1}, []string{"pooled:louvain-n5"}, 3, 0},
		{"by prompt", Params{Mode: ModeByPrompt, Method: MethodKMeans}, []string{"pooled:by-prompt"}, 30, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Cluster(pts, tc.p, quiet)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Clusters) != len(pts) || len(res.Centroids) != tc.centroids || len(res.Scores) != tc.scores {
				t.Fatalf("%d rows, %d centroids, %d scores", len(res.Clusters), len(res.Centroids), len(res.Scores))
			}
			seen := map[string]bool{}
			for i, c := range res.Clusters {
				seen[c.Clustering] = true
				if c.GenerationID != pts[i].ID || c.Model != pts[i].Model || c.Distance < 0 || c.Distance > 0.1 && tc.p.Mode != ModeByPrompt {
					t.Errorf("row %d: %+v", i, c)
				}
			}
			if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, tc.clusterings) {
				t.Errorf("clusterings %v, want %v", got, tc.clusterings)
			}
			var size int64
			for _, c := range res.Centroids {
				size += c.Size
				if n := math.Sqrt(vec.Dot(c.Vector, c.Vector)); math.Abs(n-1) > 1e-5 {
					t.Errorf("centroid %s/%d has norm %v", c.Clustering, c.Cluster, n)
				}
			}
			if size != int64(len(pts)) {
				t.Errorf("centroid sizes sum to %d", size)
			}
			if err := Place(pts, res, 1); err != nil {
				t.Fatal(err)
			}
			if res.Clusters[0].X == 0 && res.Clusters[0].Y == 0 {
				t.Error("no map position")
			}
		})
	}
}

// Texts with the zero vector (no known term) form a cluster of their own, after the others, with
// the zero centroid; the map still places them.
func TestClusterZeroVectors(t *testing.T) {
	pts := blobs(2, 20, 8)
	for _, i := range []int{3, 17, 30} {
		pts[i].Vec = make([]float32, 8)
	}
	for _, p := range []Params{
		{Mode: ModePooled, Method: MethodKMeans, K: 2, Seed: 1, Restarts: 2},
		{Mode: ModePooled, Method: MethodKMeans, KMin: 2, KMax: 4, Seed: 1, Restarts: 2},
		{Mode: ModePooled, Method: MethodLouvain, Neighbours: 5, Resolution: 1, Seed: 1},
	} {
		res, err := Cluster(pts, p, quiet)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		empty := int32(len(res.Centroids) - 1)
		for i, c := range res.Clusters {
			if zero := i == 3 || i == 17 || i == 30; zero != (c.Cluster == empty) || zero && c.Distance != 1 {
				t.Errorf("%+v: row %d: %+v", p, i, c)
			}
		}
		if last := res.Centroids[empty]; last.Size != 3 || slices.ContainsFunc(last.Vector, func(x float32) bool { return x != 0 }) {
			t.Errorf("%+v: the empty cluster's centroid %+v", p, last)
		}
		if err := Place(pts, res, 1); err != nil {
			t.Errorf("%+v: Place: %v", p, err)
		}
	}
}

func TestClusterErrors(t *testing.T) {
	pts := blobs(2, 3, 4)
	for _, tc := range []struct {
		name string
		p    Params
		want string
	}{
		{"unknown mode", Params{Mode: "each"}, `unknown mode "each"`},
		{"unknown method", Params{Mode: ModePooled, Method: "dbscan"}, `unknown method "dbscan"`},
		{"k above n", Params{Mode: ModePooled, Method: MethodKMeans, K: 7}, "k must be between 1 and the number of points"},
		{"resolution NaN", Params{Mode: ModePooled, Method: MethodLouvain, Neighbours: 2, Resolution: math.NaN()}, "resolution NaN"},
	} {
		if _, err := Cluster(pts, tc.p, quiet); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPlaceSamplesLargeInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("fits a PCA on PCASample points")
	}
	pts := blobs(2, PCASample/2+5, 4)
	res, err := Cluster(pts, Params{Mode: ModeByPrompt}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := Place(pts, res, 1); err != nil {
		t.Fatal(err)
	}
	last := res.Clusters[len(pts)-1]
	if last.X == 0 && last.Y == 0 {
		t.Error("the last point was not projected")
	}
}
