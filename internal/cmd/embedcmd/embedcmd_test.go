package embedcmd

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
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

// fixture writes generations of A and B about three topics.
func fixture(t *testing.T) (dir string) {
	topics := []string{"rice and beans", "bikes and tyres", "cats and dogs"}
	return clitest.Generations(t, 12, func(g *schema.Generation, i int) {
		g.Prompt, g.Completion = "Tell me about "+topics[i%3], fmt.Sprintf("Here is a note about %s, number %d.", topics[i%3], i)
	})
}

// TestManifestInputs checks that the output manifest records every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	clitest.OK(t, Main, dir, "--no-cache", "a.parquet", "b.parquet", "-o", "emb.parquet")
	for i, in := range clitest.Inputs(t, "emb.parquet.json", dir, "a.parquet", "b.parquet") {
		if in.Rows != 12 || in.Table != schema.Generations.ID() {
			t.Errorf("input %d: %+v, want 12 rows of %s", i, in, schema.Generations.ID())
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
	clitest.Refuses(t, Main, dir, []string{"--no-cache", "-o", "x.parquet"}, []string{"x.parquet"}, []clitest.Refusal{
		{Args: []string{"a.parquet", "a.parquet"}, Want: "mbd-embed: GENERATIONS a.parquet is given twice (as GENERATIONS too): each input is read once"},
		{Args: []string{"a.parquet", "copy.parquet"}, Want: `mbd-embed: copy.parquet: column "id": generation A0 is also in a.parquet: give each generation once`},
		{Args: []string{"--embedder", "builtin:magic", "a.parquet"}, Want: "mbd-embed: "},
		{Args: []string{"--shard", "1/2", "a.parquet"}, Want: "mbd-embed: --shard: builtin:lsa"},
	})
}
