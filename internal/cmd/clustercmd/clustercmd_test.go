package clustercmd

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
)

func valid() Options {
	return Options{Embeddings: "emb.parquet", Output: "c.parquet", Centroids: "cent.parquet", Mode: "pooled", Method: "kmeans", Center: "none",
		K: "auto", KMin: 2, KMax: 20, Seed: 1, Restarts: 5, Neighbours: 15, Resolution: 1, Unpaired: "drop", Generations: []string{"a.parquet", "b.parquet"}}
}

func TestValidate(t *testing.T) {
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "give -o CLUSTERS and --centroids CENTROIDS"},
		{Name: "no centroids", Edit: func(o *Options) { o.Centroids = "" }, Want: "give -o CLUSTERS and --centroids CENTROIDS"},
		{Name: "centroids to stdout", Edit: func(o *Options) { o.Centroids = "-" }, Want: "--centroids -: the centroids table needs a PATH"},
		{Name: "no embeddings", Edit: func(o *Options) { o.Embeddings = "" }, Want: "no embeddings: give --embeddings TABLE"},
		{Name: "no generations", Edit: func(o *Options) { o.Generations = nil }, Want: "GENERATIONS"},
		{Name: "mode", Edit: func(o *Options) { o.Mode = "each" }, Want: `--mode "each": want pooled, per-model or by-prompt`},
		{Name: "method", Edit: func(o *Options) { o.Method = "dbscan" }, Want: `--method "dbscan": want kmeans or louvain`},
		{Name: "center", Edit: func(o *Options) { o.Center = "topic" }, Want: `--center "topic": want none or prompt`},
		{Name: "unpaired keep", Edit: func(o *Options) { o.Unpaired = "keep" }},
		{Name: "unpaired both", Edit: func(o *Options) { o.Unpaired = "both" }, Want: `--unpaired "both": want drop or keep`},
		{Name: "k zero", Edit: func(o *Options) { o.K = "0" }, Want: `--k "0": want a whole number >= 1 or auto`},
		{Name: "k negative", Edit: func(o *Options) { o.K = "-4" }, Want: `--k "-4": want a whole number >= 1 or auto`},
		{Name: "k word", Edit: func(o *Options) { o.K = "zero" }, Want: `--k "zero": want a whole number >= 1 or auto`},
		{Name: "k-min 1", Edit: func(o *Options) { o.KMin = 1 }, Want: "--k-min 1: want at least 2"},
		{Name: "k-max below k-min", Edit: func(o *Options) { o.KMin, o.KMax = 5, 4 }, Want: "--k-max 4: want at least 5"},
		{Name: "restarts -3", Edit: func(o *Options) { o.Restarts = -3 }, Want: "--restarts -3: want at least 1"},
		{Name: "restarts 0", Edit: func(o *Options) { o.Restarts = 0 }, Want: "--restarts 0: want at least 1"},
		{Name: "neighbours -2", Edit: func(o *Options) { o.Neighbours = -2 }, Want: "--neighbours -2: want at least 1"},
		{Name: "resolution NaN", Edit: func(o *Options) { o.Resolution = math.NaN() }, Want: "--resolution NaN: want a finite number"},
		{Name: "resolution Inf", Edit: func(o *Options) { o.Resolution = math.Inf(1) }, Want: "--resolution +Inf: want a finite number"},
		{Name: "resolution 0", Edit: func(o *Options) { o.Resolution = 0 }, Want: "--resolution 0: want more than 0"},
		{Name: "resolution negative", Edit: func(o *Options) { o.Resolution = -1 }, Want: "--resolution -1: want more than 0"},
		{Name: "generations twice", Edit: func(o *Options) { o.Generations = []string{"a.parquet", "b.parquet", "a.parquet"} }, Want: "GENERATIONS a.parquet is given twice"},
		{Name: "embeddings as generations", Edit: func(o *Options) { o.Generations = []string{"emb.parquet"} }, Want: "GENERATIONS emb.parquet is given twice (as --embeddings too)"},
		{Name: "output is centroids", Edit: func(o *Options) { o.Output, o.Centroids = "x.parquet", "x.parquet" }, Want: "--centroids x.parquet is also the output of -o"},
		{Name: "output is embeddings", Edit: func(o *Options) { o.Output = "emb.parquet" }, Want: "-o emb.parquet is also an input (--embeddings)"},
		{Name: "centroids is generations", Edit: func(o *Options) { o.Centroids = "./a.parquet" }, Want: "--centroids ./a.parquet is also an input (GENERATIONS)"},
	})
}

// fixture writes generations of A and B (two per prompt) and their embeddings: two groups of
// texts around two axes.
func fixture(t *testing.T) (dir string) {
	var emb []schema.Embedding
	dir = clitest.Generations(t, 12, func(g *schema.Generation, i int) {
		s, c := math.Sincos(float64(i%2)*math.Pi/2 + float64(i)/100)
		emb = append(emb, schema.Embedding{GenerationID: g.ID, Embedder: "test", Vector: []float32{float32(c), float32(s)}})
	})
	clitest.Write(t, filepath.Join(dir, "emb.parquet"), emb...)
	return dir
}

// TestManifestInputs checks that both output manifests record every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	clitest.OK(t, Main, dir, "--k", "2", "--embeddings", "emb.parquet", "a.parquet", "b.parquet", "-o", "c.parquet", "--centroids", "cent.parquet")
	for _, out := range []string{"c.parquet", "cent.parquet"} {
		clitest.TableInputs(t, out+".json", dir, "emb.parquet", "a.parquet", "b.parquet")
	}
}

// TestExitCodes checks that bad input ends with status 2, one line naming the problem, and no
// output.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	clitest.Refuses(t, Main, dir, []string{"--embeddings", "emb.parquet", "-o", "x.parquet", "--centroids", "y.parquet"}, []string{"x.parquet", "y.parquet"}, []clitest.Refusal{
		{Args: []string{"--method", "louvain", "--resolution", "NaN", "a.parquet", "b.parquet"}, Want: "mbd-cluster: --resolution NaN: want a finite number"},
		{Args: []string{"a.parquet", "copy.parquet", "b.parquet"}, Want: `mbd-cluster: copy.parquet: column "id": generation A0 is also in a.parquet: give each generation once`},
		{Args: []string{"--k", "30", "a.parquet", "b.parquet"}, Want: "mbd-cluster: emb.parquet: cannot cluster: cluster: k must be between 1 and the number of points (k=30, n=24)"},
	})
}
