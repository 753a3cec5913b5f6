package embedcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func valid() Options {
	return Options{Output: "emb.parquet", Embedder: "builtin:lsa", Text: "completion", Generations: []string{"a.parquet", "b.parquet"}}
}

func TestValidate(t *testing.T) {
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "no generations", Edit: func(o *Options) { o.Generations = nil }, Want: "want one or more GENERATIONS tables"},
		{Name: "text", Edit: func(o *Options) { o.Text = "everything" }, Want: `--text "everything": want completion or prompt+completion`},
		{Name: "no embedder", Edit: func(o *Options) { o.Embedder = "" }, Want: "--embedder"},
		{Name: "shard 3/2", Edit: func(o *Options) { o.Shard = "3/2" }, Want: `--shard "3/2": want i/N`},
		{Name: "shard 0/2", Edit: func(o *Options) { o.Shard = "0/2" }, Want: `--shard "0/2": want i/N`},
		{Name: "generations twice", Edit: func(o *Options) { o.Generations = []string{"a.parquet", "b.parquet", "a.parquet"} }, Want: "GENERATIONS a.parquet is given twice"},
		{Name: "stdin twice", Edit: func(o *Options) { o.Generations = []string{"-", "-"} }, Want: "GENERATIONS - is given twice"},
		{Name: "output is an input", Edit: func(o *Options) { o.Output = "./b.parquet" }, Want: "-o ./b.parquet is also an input (GENERATIONS)"},
		{Name: "output is the embedder's model", Edit: func(o *Options) { o.Embedder, o.Output = "gguf:e.gguf?prefix=query:&chunk=8", "e.gguf" }, Want: "-o e.gguf is also an input (--embedder)"},
	})
}

func fixture(t *testing.T) (dir string) {
	dir = t.TempDir()
	topics := []string{"rice and beans", "bikes and tyres", "cats and dogs"}
	for _, m := range []string{"A", "B"} {
		var gs []schema.Generation
		for i := range 12 {
			gs = append(gs, schema.Generation{ID: fmt.Sprint(m, i), Model: m, PromptID: fmt.Sprint("p", i), Split: schema.SplitDiscovery,
				Prompt: "Tell me about " + topics[i%3], Completion: fmt.Sprintf("Here is a note about %s, number %d.", topics[i%3], i)})
		}
		clitest.Write(t, filepath.Join(dir, strings.ToLower(m)+".parquet"), gs...)
	}
	return dir
}

// TestManifestInputs checks that the output manifest records every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	if rc, _, stderr := clitest.Run(t, Main, dir, "--no-cache", "a.parquet", "b.parquet", "-o", "emb.parquet"); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	m, err := manifest.Read(filepath.Join(dir, "emb.parquet.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.parquet", "b.parquet"}
	if len(m.Inputs) != len(want) {
		t.Fatalf("inputs %+v, want %v", m.Inputs, want)
	}
	for i, in := range m.Inputs {
		hash, err := table.HashFile(filepath.Join(dir, want[i]))
		if err != nil {
			t.Fatal(err)
		}
		if in.Path != want[i] || in.SHA256 != hash || in.Rows != 12 || in.Table != schema.Generations.ID() {
			t.Errorf("input %d: %+v, want %s with 12 rows and sha256 %s", i, in, want[i], hash)
		}
	}
	rows, err := table.ReadAll[schema.Embedding](filepath.Join(dir, "emb.parquet"), nil)
	if err != nil || len(rows) != 24 {
		t.Fatalf("%d rows, %v", len(rows), err)
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
		{[]string{"a.parquet", "a.parquet"}, "mbd-embed: GENERATIONS a.parquet is given twice (as GENERATIONS too): each input is read once"},
		{[]string{"a.parquet", "copy.parquet"}, `mbd-embed: copy.parquet: column "id": generation A0 is also in a.parquet: give each generation once`},
		{[]string{"--embedder", "builtin:magic", "a.parquet"}, "mbd-embed: "},
		{[]string{"--shard", "1/2", "a.parquet"}, "mbd-embed: --shard: builtin:lsa"},
	} {
		args := append([]string{"--no-cache", "-o", "x.parquet"}, tc.args...)
		rc, _, stderr := clitest.Run(t, Main, dir, args...)
		clitest.UsageError(t, tc.args, rc, stderr, tc.want)
		if !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: stderr %q, want it to start with %q", tc.args, stderr, tc.want)
		}
		clitest.Absent(t, tc.args, dir, "x.parquet")
	}
}
