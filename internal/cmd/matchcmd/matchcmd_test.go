package matchcmd

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
)

func valid() Options {
	return Options{Clusters: "c.parquet", Centroids: "cent.parquet", Output: "m.parquet", Alpha: 0.05, MinSimilarity: 0.5, Samples: 20, Nearest: 3,
		Generations: []string{"a.parquet", "b.parquet"}}
}

func TestValidate(t *testing.T) {
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "no output: give -o"},
		{Name: "no clusters", Edit: func(o *Options) { o.Clusters = "" }, Want: "give --clusters and --centroids"},
		{Name: "no centroids", Edit: func(o *Options) { o.Centroids = "" }, Want: "give --clusters and --centroids"},
		{Name: "no generations", Edit: func(o *Options) { o.Generations = nil }, Want: "GENERATIONS"},
		{Name: "same labels", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x", B: "x"} }, Want: "--a and --b are both"},
		{Name: "--a alone", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x"} }, Want: "--a x without --b: give --a and --b together"},
		{Name: "--b alone", Edit: func(o *Options) { o.Labels = cli.Labels{B: "y"} }, Want: "--b y without --a: give --a and --b together"},
		{Name: "alpha 2", Edit: func(o *Options) { o.Alpha = 2 }, Want: "--alpha 2: want a number in (0, 1)"},
		{Name: "alpha 0", Edit: func(o *Options) { o.Alpha = 0 }, Want: "--alpha 0: want a number in (0, 1)"},
		{Name: "alpha 1", Edit: func(o *Options) { o.Alpha = 1 }, Want: "--alpha 1: want a number in (0, 1)"},
		{Name: "alpha NaN", Edit: func(o *Options) { o.Alpha = math.NaN() }, Want: "--alpha NaN: want a finite number"},
		{Name: "min-similarity 2", Edit: func(o *Options) { o.MinSimilarity = 2 }, Want: "--min-similarity 2: want a number in [-1, 1]"},
		{Name: "min-similarity -1.5", Edit: func(o *Options) { o.MinSimilarity = -1.5 }, Want: "--min-similarity -1.5: want a number in [-1, 1]"},
		{Name: "min-similarity NaN", Edit: func(o *Options) { o.MinSimilarity = math.NaN() }, Want: "--min-similarity NaN: want a finite number"},
		{Name: "min-similarity -Inf", Edit: func(o *Options) { o.MinSimilarity = math.Inf(-1) }, Want: "--min-similarity -Inf: want a finite number"},
		{Name: "samples -1", Edit: func(o *Options) { o.Samples = -1 }, Want: "--samples -1: want at least 0"},
		{Name: "nearest -2", Edit: func(o *Options) { o.Nearest = -2 }, Want: "--nearest -2: want at least 0"},
		{Name: "generations twice", Edit: func(o *Options) { o.Generations = []string{"a.parquet", "a.parquet", "b.parquet"} }, Want: "GENERATIONS a.parquet is given twice"},
		{Name: "clusters as generations", Edit: func(o *Options) { o.Generations = []string{"c.parquet"} }, Want: "GENERATIONS c.parquet is given twice (as --clusters too)"},
		{Name: "output is clusters", Edit: func(o *Options) { o.Output = "./c.parquet" }, Want: "-o ./c.parquet is also an input (--clusters)"},
		{Name: "output is centroids", Edit: func(o *Options) { o.Output = "cent.parquet" }, Want: "-o cent.parquet is also an input (--centroids)"},
		{Name: "output is generations", Edit: func(o *Options) { o.Output = "b.parquet" }, Want: "-o b.parquet is also an input (GENERATIONS)"},
	})
}

// fixture writes generations of A and B and a pooled clustering of them into two clusters, B's
// texts mostly in cluster 1.
func fixture(t *testing.T) (dir string) {
	var cl []schema.Cluster
	dir = clitest.Generations(t, 20, func(g *schema.Generation, i int) {
		every := map[string]int{"A": 10, "B": 4}[g.Model] // cluster 0 holds A's every 10th text, B's every 4th
		cl = append(cl, schema.Cluster{GenerationID: g.ID, Model: g.Model, Clustering: "pooled:kmeans-k2", Cluster: int32(min(i%every, 1))})
	})
	clitest.Write(t, filepath.Join(dir, "c.parquet"), cl...)
	clitest.Write(t, filepath.Join(dir, "cent.parquet"),
		schema.Centroid{Clustering: "pooled:kmeans-k2", Cluster: 0, Size: 7, Vector: []float32{1, 0}},
		schema.Centroid{Clustering: "pooled:kmeans-k2", Cluster: 1, Size: 33, Vector: []float32{0, 1}})
	return dir
}

// TestManifestInputs checks that the output manifest records every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	clitest.OK(t, Main, dir, "--clusters", "c.parquet", "--centroids", "cent.parquet", "a.parquet", "b.parquet", "-o", "m.parquet")
	clitest.TableInputs(t, "m.parquet.json", dir, "c.parquet", "cent.parquet", "a.parquet", "b.parquet")
}

// TestDuplicates checks that the same generations given twice are refused, and that the counts
// with each table once are the real ones.
func TestDuplicates(t *testing.T) {
	dir := fixture(t)
	clitest.Refuses(t, Main, dir, []string{"--clusters", "c.parquet", "--centroids", "cent.parquet", "-o", "x.parquet"}, []string{"x.parquet"}, []clitest.Refusal{
		{Args: []string{"a.parquet", "a.parquet", "b.parquet"}, Want: "mbd-match: GENERATIONS a.parquet is given twice (as GENERATIONS too): each input is read once"},
		{Args: []string{"a.parquet", "copy.parquet", "b.parquet"}, Want: `mbd-match: copy.parquet: column "id": generation A0 is also in a.parquet: give each generation once`},
		{Args: []string{"--alpha", "2", "a.parquet", "b.parquet"}, Want: "mbd-match: --alpha 2: want a number in (0, 1)"},
	})
	stdout := clitest.OK(t, Main, dir, "--clusters", "c.parquet", "--centroids", "cent.parquet", "-o", "m.parquet", "a.parquet", "b.parquet")
	if !strings.Contains(stdout, "A 2/20  B 5/20") {
		t.Errorf("stdout %q; want A's and B's counts of cluster 0 out of 20", stdout)
	}
}
