package clustercmd

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
)

func valid() Options {
	return Options{Embeddings: "emb.parquet", Output: "c.parquet", Centroids: "cent.parquet", Mode: "pooled", Method: "kmeans", Center: "none",
		K: "auto", KMin: 2, KMax: 20, Seed: 1, Restarts: 5, Neighbours: 15, Resolution: 1, Generations: []string{"a.parquet", "b.parquet"}}
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
	dir = t.TempDir()
	var a, b []schema.Generation
	var emb []schema.Embedding
	for i := range 12 {
		for _, m := range []string{"A", "B"} {
			id := fmt.Sprint(m, i)
			g := schema.Generation{ID: id, Model: m, PromptID: fmt.Sprint("p", i), Split: schema.SplitDiscovery, Completion: "x"}
			if m == "A" {
				a = append(a, g)
			} else {
				b = append(b, g)
			}
			s, c := math.Sincos(float64(i%2)*math.Pi/2 + float64(i)/100)
			emb = append(emb, schema.Embedding{GenerationID: id, Embedder: "test", Vector: []float32{float32(c), float32(s)}})
		}
	}
	clitest.Write(t, filepath.Join(dir, "a.parquet"), a...)
	clitest.Write(t, filepath.Join(dir, "b.parquet"), b...)
	clitest.Write(t, filepath.Join(dir, "emb.parquet"), emb...)
	return dir
}

// TestManifestInputs checks that both output manifests record every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	if rc, _, stderr := clitest.Run(t, Main, dir, "--k", "2", "--embeddings", "emb.parquet", "a.parquet", "b.parquet", "-o", "c.parquet", "--centroids", "cent.parquet"); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	for _, out := range []string{"c.parquet", "cent.parquet"} {
		clitest.TableInputs(t, out+".json", dir, "emb.parquet", "a.parquet", "b.parquet")
	}
}

// TestExitCodes checks that bad input ends with status 2, one line naming the problem, and no
// output.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	data, err := os.ReadFile(filepath.Join(dir, "a.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "copy.parquet"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "louvain", "--resolution", "NaN", "a.parquet", "b.parquet"}, "mbd-cluster: --resolution NaN: want a finite number"},
		{[]string{"a.parquet", "copy.parquet", "b.parquet"}, `mbd-cluster: copy.parquet: column "id": generation A0 is also in a.parquet: give each generation once`},
		{[]string{"--k", "30", "a.parquet", "b.parquet"}, "mbd-cluster: emb.parquet: cannot cluster: cluster: k must be between 1 and the number of points (k=30, n=24)"},
	} {
		args := append([]string{"--embeddings", "emb.parquet", "-o", "x.parquet", "--centroids", "y.parquet"}, tc.args...)
		rc, _, stderr := clitest.Run(t, Main, dir, args...)
		clitest.UsageError(t, tc.args, rc, stderr, tc.want)
		if strings.TrimSpace(stderr) != tc.want {
			t.Errorf("%v: stderr %q, want exactly %q", tc.args, stderr, tc.want)
		}
		clitest.Absent(t, tc.args, dir, "x.parquet", "y.parquet")
	}
}
