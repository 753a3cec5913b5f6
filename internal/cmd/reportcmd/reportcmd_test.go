package reportcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// runFolder writes a run folder that holds only a hypotheses table.
func runFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	clitest.Write(t, filepath.Join(dir, "hypotheses.parquet"), tabletest.Rows[schema.Hypothesis](3, 1)...)
	return dir
}

func TestValidate(t *testing.T) {
	dir := runFolder(t)
	hyp := clitest.Link(t, dir, "hypotheses.parquet", "link.html")
	// Two files of a run folder that link to one file are not "given twice".
	linked := runFolder(t)
	clitest.Link(t, linked, "hypotheses.parquet", "gens-a.parquet")
	clitest.Link(t, linked, "hypotheses.parquet", "gens-b.parquet")
	valid := func() Options { return Options{Examples: 3, TopTokens: 5, MaxPoints: 4000, Dirs: []string{dir}} }
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "linked inputs", Edit: func(o *Options) { o.Dirs = []string{linked} }},
		{Name: "-o", Edit: func(o *Options) { o.Output = t.TempDir() }},
		{Name: "--json -", Edit: func(o *Options) { o.JSON = "-" }},
		{Name: "--html - and --md", Edit: func(o *Options) { o.HTML, o.Markdown = "-", filepath.Join(dir, "r.md") }},
		{Name: "least counts", Edit: func(o *Options) { o.Examples, o.TopTokens, o.MaxPoints = 0, 0, 1 }},
		{Name: "no DIR", Edit: func(o *Options) { o.Dirs = nil }, Want: "want one run folder DIR, got 0 arguments"},
		{Name: "two DIRs", Edit: func(o *Options) { o.Dirs = []string{dir, dir} }, Want: "want one run folder DIR, got 2 arguments"},
		{Name: "--examples -1", Edit: func(o *Options) { o.Examples = -1 }, Want: "--examples -1: want at least 0"},
		{Name: "--top-tokens -2", Edit: func(o *Options) { o.TopTokens = -2 }, Want: "--top-tokens -2: want at least 0"},
		{Name: "--max-points 0", Edit: func(o *Options) { o.MaxPoints = 0 }, Want: "--max-points 0: want at least 1"},
		{Name: "--max-points -5", Edit: func(o *Options) { o.MaxPoints = -5 }, Want: "--max-points -5"},
		{Name: "-o with --md", Edit: func(o *Options) { o.Output, o.Markdown = "x", "y" }, Want: "give either -o DIR or --html/--md/--json paths, not both"},
		{Name: "two stdouts", Edit: func(o *Options) { o.JSON, o.Markdown = "-", "-" }, Want: "only one of --html, --md and --json can be - (stdout)"},
		{Name: "--html onto an input", Edit: func(o *Options) { o.HTML = hyp }, Want: "--html " + hyp + " is also an input (hypotheses.parquet)"},
		{Name: "--json onto an absent input", Edit: func(o *Options) { o.JSON = filepath.Join(dir, "run.json") }, Want: "is also an input (run.json)"},
		{Name: "--md onto the trials log", Edit: func(o *Options) { o.Markdown = filepath.Join(dir, "validations.parquet.trials.jsonl") }, Want: "is also an input (validations.parquet.trials.jsonl)"},
		{Name: "--html onto a link to an input", Edit: func(o *Options) { o.HTML = filepath.Join(dir, "link.html") }, Want: "link.html is also an input (hypotheses.parquet)"},
		{Name: "--html and --md the same file", Edit: func(o *Options) { o.HTML, o.Markdown = "r.out", "./r.out" }, Want: "--md ./r.out is also the output of --html"},
	})
}

func TestRun(t *testing.T) {
	dir := runFolder(t)
	out := filepath.Join(t.TempDir(), "site")
	stdout := clitest.OK(t, Main, "", "-o", out, dir)
	if !strings.Contains(stdout, "0 of 3 hypotheses validated") || !strings.Contains(stdout, "wrote "+filepath.Join(out, "report.json")) {
		t.Errorf("summary:\n%s", stdout)
	}
	for _, name := range []string{"report.html", "report.md", "report.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	rc, stdout, stderr := clitest.Run(t, Main, "", "--json", "-", dir)
	if rc != 0 || !strings.HasPrefix(stdout, "{") || strings.Contains(stdout, "wrote") {
		t.Errorf("--json -: exit %d, stdout %.40q, stderr %s", rc, stdout, stderr)
	}

	before, _ := os.ReadFile(filepath.Join(dir, "hypotheses.parquet"))
	clitest.Refuses(t, Main, "", nil, nil, []clitest.Refusal{
		{Args: []string{"--html", filepath.Join(dir, "hypotheses.parquet"), dir}, Want: "mbd-report: --html " + filepath.Join(dir, "hypotheses.parquet") + " is also an input (hypotheses.parquet): write the output elsewhere\n"},
		{Args: []string{"--max-points", "0", dir}, Want: "mbd-report: --max-points 0: want at least 1\n"},
		{Args: []string{}, Want: "mbd-report: want one run folder DIR, got 0 arguments\n"},
		{Args: []string{filepath.Join(dir, "nope")}, Want: "mbd-report: " + filepath.Join(dir, "nope") + ": cannot read the run folder: no such file or directory\n"},
	})
	if after, _ := os.ReadFile(filepath.Join(dir, "hypotheses.parquet")); !bytes.Equal(before, after) {
		t.Error("a refused run changed hypotheses.parquet")
	}
}
