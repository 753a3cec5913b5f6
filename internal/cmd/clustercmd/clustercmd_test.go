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
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no output", func(o *Options) { o.Output = "" }, "give -o CLUSTERS and --centroids CENTROIDS"},
		{"no centroids", func(o *Options) { o.Centroids = "" }, "give -o CLUSTERS and --centroids CENTROIDS"},
		{"centroids to stdout", func(o *Options) { o.Centroids = "-" }, "--centroids -: the centroids table needs a PATH"},
		{"no embeddings", func(o *Options) { o.Embeddings = "" }, "no embeddings: give --embeddings TABLE"},
		{"no generations", func(o *Options) { o.Generations = nil }, "GENERATIONS"},
		{"mode", func(o *Options) { o.Mode = "each" }, `--mode "each": want pooled, per-model or by-prompt`},
		{"method", func(o *Options) { o.Method = "dbscan" }, `--method "dbscan": want kmeans or louvain`},
		{"center", func(o *Options) { o.Center = "topic" }, `--center "topic": want none or prompt`},
		{"k zero", func(o *Options) { o.K = "0" }, `--k "0": want a whole number >= 1 or auto`},
		{"k negative", func(o *Options) { o.K = "-4" }, `--k "-4": want a whole number >= 1 or auto`},
		{"k word", func(o *Options) { o.K = "zero" }, `--k "zero": want a whole number >= 1 or auto`},
		{"k-min 1", func(o *Options) { o.KMin = 1 }, "--k-min 1: want at least 2"},
		{"k-max below k-min", func(o *Options) { o.KMin, o.KMax = 5, 4 }, "--k-max 4: want at least 5"},
		{"restarts -3", func(o *Options) { o.Restarts = -3 }, "--restarts -3: want at least 1"},
		{"restarts 0", func(o *Options) { o.Restarts = 0 }, "--restarts 0: want at least 1"},
		{"neighbours -2", func(o *Options) { o.Neighbours = -2 }, "--neighbours -2: want at least 1"},
		{"resolution NaN", func(o *Options) { o.Resolution = math.NaN() }, "--resolution NaN: want a finite number"},
		{"resolution Inf", func(o *Options) { o.Resolution = math.Inf(1) }, "--resolution +Inf: want a finite number"},
		{"resolution 0", func(o *Options) { o.Resolution = 0 }, "--resolution 0: want more than 0"},
		{"resolution negative", func(o *Options) { o.Resolution = -1 }, "--resolution -1: want more than 0"},
		{"generations twice", func(o *Options) { o.Generations = []string{"a.parquet", "b.parquet", "a.parquet"} }, "GENERATIONS a.parquet is given twice"},
		{"embeddings as generations", func(o *Options) { o.Generations = []string{"emb.parquet"} }, "GENERATIONS emb.parquet is given twice (as --embeddings too)"},
		{"output is centroids", func(o *Options) { o.Output, o.Centroids = "x.parquet", "x.parquet" }, "--centroids x.parquet is also the output of -o"},
		{"output is embeddings", func(o *Options) { o.Output = "emb.parquet" }, "-o emb.parquet is also an input (--embeddings)"},
		{"centroids is generations", func(o *Options) { o.Centroids = "./a.parquet" }, "--centroids ./a.parquet is also an input (GENERATIONS)"},
	} {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
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
