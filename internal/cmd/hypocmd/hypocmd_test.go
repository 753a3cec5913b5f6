package hypocmd

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func valid() Options {
	return Options{Output: "h.parquet", Regions: 5, PerRegion: 3, Rounds: 2, Samples: 8, Dedup: 0.8, Seed: 1, MinZ: 3.29, Unpaired: "drop", LensP: 0.05, LensMax: 5,
		Assistant: cli.Assistant{Ref: "builtin", Concurrency: 4}, Generations: []string{"a.parquet", "b.parquet"}}
}

func TestValidate(t *testing.T) {
	if cli.BuiltinAssistant != roles.BuiltinRef {
		t.Fatalf("cli.BuiltinAssistant %q is not roles.BuiltinRef %q", cli.BuiltinAssistant, roles.BuiltinRef)
	}
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "no output: give -o"},
		{Name: "no generations", Edit: func(o *Options) { o.Generations = nil }, Want: "GENERATIONS"},
		{Name: "matches without clusters", Edit: func(o *Options) { o.Matches = "m.parquet" }, Want: "--matches and --clusters"},
		{Name: "same labels", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x", B: "x"} }, Want: "--a and --b"},
		{Name: "--a alone", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x"} }, Want: "--a x without --b: give --a and --b together"},
		{Name: "--b alone", Edit: func(o *Options) { o.Labels = cli.Labels{B: "y"} }, Want: "--b y without --a: give --a and --b together"},
		{Name: "negative regions", Edit: func(o *Options) { o.Regions = -1 }, Want: "--regions -1"},
		{Name: "zero per region", Edit: func(o *Options) { o.PerRegion = 0 }, Want: "--per-region 0"},
		{Name: "negative rounds", Edit: func(o *Options) { o.Rounds = -3 }, Want: "--rounds -3"},
		{Name: "negative samples", Edit: func(o *Options) { o.Samples = -1 }, Want: "--samples -1"},
		{Name: "dedup above 1", Edit: func(o *Options) { o.Dedup = 5 }, Want: "--dedup 5: want a number in (0, 1]"},
		{Name: "dedup 0", Edit: func(o *Options) { o.Dedup = 0 }, Want: "--dedup 0"},
		{Name: "dedup NaN", Edit: func(o *Options) { o.Dedup = math.NaN() }, Want: "--dedup NaN: want a finite number"},
		{Name: "min-z Inf", Edit: func(o *Options) { o.MinZ = math.Inf(1) }, Want: "--min-z +Inf"},
		{Name: "min-z negative", Edit: func(o *Options) { o.MinZ = -1 }, Want: "--min-z -1"},
		{Name: "unpaired keep", Edit: func(o *Options) { o.Unpaired = "keep" }},
		{Name: "unpaired both", Edit: func(o *Options) { o.Unpaired = "both" }, Want: `--unpaired "both": want drop or keep`},
		{Name: "unpaired empty", Edit: func(o *Options) { o.Unpaired = "" }, Want: `--unpaired "": want drop or keep`},
		{Name: "budget NaN", Edit: func(o *Options) { o.Assistant.Budget = math.NaN() }, Want: "--budget NaN"},
		{Name: "budget negative", Edit: func(o *Options) { o.Assistant.Budget = -1 }, Want: "--budget -1"},
		{Name: "concurrency 0", Edit: func(o *Options) { o.Assistant.Concurrency = 0 }, Want: "--concurrency 0"},
		{Name: "rpm Inf", Edit: func(o *Options) { o.Assistant.RequestsPerMinute = math.Inf(1) }, Want: "--rpm +Inf"},
		{Name: "tpm negative", Edit: func(o *Options) { o.Assistant.TokensPerMinute = -1 }, Want: "--tpm -1"},
		{Name: "empty assistant", Edit: func(o *Options) { o.Assistant.Ref = "" }, Want: "--assistant"},
		{Name: "duplicate input", Edit: func(o *Options) { o.Generations = []string{"a.parquet", "a.parquet", "b.parquet"} }, Want: "GENERATIONS a.parquet is given twice"},
		{Name: "output is an input", Edit: func(o *Options) { o.Output = "a.parquet" }, Want: "-o a.parquet is also an input (GENERATIONS)"},
		{Name: "lens without generations", Edit: func(o *Options) { o.Lens, o.Generations = "lens.parquet", nil }},
		{Name: "lens-p 0", Edit: func(o *Options) { o.Lens, o.LensP = "lens.parquet", 0 }, Want: "--lens-p 0: want a number in (0, 1]"},
		{Name: "lens-p above 1", Edit: func(o *Options) { o.Lens, o.LensP = "lens.parquet", 1.5 }, Want: "--lens-p 1.5: want a number in (0, 1]"},
		{Name: "lens-p 1", Edit: func(o *Options) { o.Lens, o.LensP = "lens.parquet", 1 }},
		{Name: "lens-p NaN", Edit: func(o *Options) { o.LensP = math.NaN() }, Want: "--lens-p NaN: want a finite number"},
		{Name: "lens-max 0", Edit: func(o *Options) { o.LensMax = 0 }, Want: "--lens-max 0"},
		{Name: "steered without generations", Edit: func(o *Options) { o.Lens, o.Steered, o.Generations = "lens.parquet", "s.parquet", nil }, Want: "--steered s.parquet: want the GENERATIONS tables too"},
		{Name: "matches without generations", Edit: func(o *Options) {
			o.Lens, o.Matches, o.Clusters, o.Generations = "lens.parquet", "m.parquet", "c.parquet", nil
		}, Want: "--matches: want the GENERATIONS tables too"},
		{Name: "output is --lens", Edit: func(o *Options) { o.Lens, o.Output = "lens.parquet", "lens.parquet" }, Want: "-o lens.parquet is also an input (--lens)"},
		{Name: "output is --clusters", Edit: func(o *Options) { o.Matches, o.Clusters, o.Output = "m.parquet", "c.parquet", "./c.parquet" }, Want: "-o ./c.parquet is also an input (--clusters)"},
	})
}

// fixture writes generations of A and B (B mentions otters in half of its answers), and matches
// and clusters with one shifted region.
func fixture(t *testing.T) (dir string) {
	var cl []schema.Cluster
	dir = clitest.Generations(t, 30, func(g *schema.Generation, i int) {
		g.Completion = fmt.Sprintf("Rinse the rice %d times and cook it.", i)
		if g.Model == "B" && i%2 == 0 {
			g.Completion += " An otter would agree."
		}
		cl = append(cl, schema.Cluster{GenerationID: g.ID, Model: g.Model, Cluster: int32(i % 2)})
	})
	zero := int32(0)
	clitest.Write(t, filepath.Join(dir, "matches.parquet"), schema.Match{Region: 0, Rank: 1, Category: "shifted", ClusterA: &zero, ClusterB: &zero})
	clitest.Write(t, filepath.Join(dir, "clusters.parquet"), cl...)
	return dir
}

// TestManifestInputs checks that the output manifest records every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	clitest.OK(t, Main, dir, "--matches", "matches.parquet", "--clusters", "clusters.parquet", "a.parquet", "b.parquet", "-o", "h.parquet")
	clitest.TableInputs(t, "h.parquet.json", dir, "a.parquet", "b.parquet", "matches.parquet", "clusters.parquet")
}

// TestExitCodes checks that bad input ends with status 2 and one line naming the problem.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	clitest.Refuses(t, Main, dir, nil, []string{"x.parquet"}, []clitest.Refusal{
		{Args: []string{"--assistant", "nonsense:x", "a.parquet", "b.parquet", "-o", "x.parquet"}, Want: "nonsense"},
		{Args: []string{"a.parquet", "copy.parquet", "b.parquet", "-o", "x.parquet"}, Want: "copy.parquet: column \"id\": generation A0 is also in a.parquet"},
		{Args: []string{"a.parquet", "b.parquet", "-o", "b.parquet"}, Want: "-o b.parquet is also an input"},
		{Args: []string{"--dedup", "5", "a.parquet", "b.parquet", "-o", "x.parquet"}, Want: "--dedup 5: want a number in (0, 1]"},
		{Args: []string{"--lens", "a.parquet", "-o", "x.parquet"}, Want: "a.parquet: holds a generations/v1 table, want a lens/v1 table"},
		{Args: []string{"--lens", "a.parquet", "--lens-p", "2", "-o", "x.parquet"}, Want: "--lens-p 2: want a number in (0, 1]"},
	})
}

func lensRow(side, token string, z, p float64) schema.LensRow {
	return schema.LensRow{Layer: 1, Position: -1, Direction: schema.LensMean, Head: "B", Side: side, Rank: 1, Token: token, Z: &z, P: &p}
}

// TestLens proposes from a lens table with and without the texts, and from steered texts.
func TestLens(t *testing.T) {
	dir := fixture(t)
	clitest.Write(t, filepath.Join(dir, "lens.parquet"), lensRow(schema.LensPromoted, " Otter", 9, 0.01), lensRow(schema.LensPromoted, " rice", 2, 0.4),
		lensRow(schema.LensSuppressed, " cook", -6, 0.02))
	steered := clitest.Generations(t, 20, func(g *schema.Generation, i int) { g.Completion = fmt.Sprintf("A boat %d on the lake.", i) })
	for _, tc := range []struct {
		name string
		args []string
		want []string // property direction origin share_a share_b
	}{
		{"lens only", []string{"--lens", "lens.parquet"}, []string{"contains 'otter' B>A lens - -", "contains 'cook' A>B lens - -"}},
		{"lens and texts", []string{"--lens", "lens.parquet", "a.parquet", "b.parquet"},
			[]string{"contains '. an', '. an otter', 'agree', 'agree .' or 'an' B>A texts 0 0.5", "contains 'otter' B>A lens 0 0.5", "contains 'cook' A>B lens 1 1"}},
		{"steered", []string{"--steered", filepath.Join(steered, "a.parquet"), "a.parquet", "b.parquet"},
			[]string{"contains '. an', '. an otter', 'agree', 'agree .' or 'an' B>A texts 0 0.5", "contains 'a', 'a boat', 'boat', 'lake' or 'lake .' B>A steered 0 1"}},
	} {
		clitest.OK(t, Main, dir, append(tc.args, "-o", "h.parquet")...)
		hs, err := table.ReadAll[schema.Hypothesis](filepath.Join(dir, "h.parquet"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hs {
			share := func(x *float64) string {
				if x == nil {
					return "-"
				}
				return fmt.Sprint(*x)
			}
			got = append(got, fmt.Sprintf("%s %s %s %s %s", h.Property, h.Direction, *h.Origin, share(h.ShareA), share(h.ShareB)))
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: no %q in %q", tc.name, w, got)
			}
		}
	}
}
