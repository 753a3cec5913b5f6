package reportcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// runFolder writes a run folder that holds only a hypotheses table.
func runFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w, err := table.Create[schema.Hypothesis](filepath.Join(dir, "hypotheses.parquet"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Write(tabletest.Rows[schema.Hypothesis](3, 1)...); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestValidate(t *testing.T) {
	dir := runFolder(t)
	hyp := filepath.Join(dir, "hypotheses.parquet")
	if err := os.Symlink(hyp, filepath.Join(dir, "link.html")); err != nil {
		t.Fatal(err)
	}
	// Two files of a run folder that link to one file are not "given twice".
	linked := runFolder(t)
	for _, name := range []string{"gens-a.parquet", "gens-b.parquet"} {
		if err := os.Symlink(filepath.Join(linked, "hypotheses.parquet"), filepath.Join(linked, name)); err != nil {
			t.Fatal(err)
		}
	}
	valid := Options{Examples: 3, TopTokens: 5, MaxPoints: 4000, Dirs: []string{dir}}
	edit := func(f func(*Options)) Options { o := valid; f(&o); return o }
	for _, ok := range []Options{valid,
		edit(func(o *Options) { o.Dirs = []string{linked} }),
		edit(func(o *Options) { o.Output = t.TempDir() }),
		edit(func(o *Options) { o.JSON = "-" }),
		edit(func(o *Options) { o.HTML, o.Markdown = "-", filepath.Join(dir, "r.md") }),
		edit(func(o *Options) { o.Examples, o.TopTokens, o.MaxPoints = 0, 0, 1 }),
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no DIR", edit(func(o *Options) { o.Dirs = nil }), "want one run folder DIR, got 0 arguments"},
		{"two DIRs", edit(func(o *Options) { o.Dirs = []string{dir, dir} }), "want one run folder DIR, got 2 arguments"},
		{"--examples -1", edit(func(o *Options) { o.Examples = -1 }), "--examples -1: want at least 0"},
		{"--top-tokens -2", edit(func(o *Options) { o.TopTokens = -2 }), "--top-tokens -2: want at least 0"},
		{"--max-points 0", edit(func(o *Options) { o.MaxPoints = 0 }), "--max-points 0: want at least 1"},
		{"--max-points -5", edit(func(o *Options) { o.MaxPoints = -5 }), "--max-points -5"},
		{"-o with --md", edit(func(o *Options) { o.Output, o.Markdown = "x", "y" }), "give either -o DIR or --html/--md/--json paths, not both"},
		{"two stdouts", edit(func(o *Options) { o.JSON, o.Markdown = "-", "-" }), "only one of --html, --md and --json can be - (stdout)"},
		{"--html onto an input", edit(func(o *Options) { o.HTML = hyp }), "--html " + hyp + " is also an input (hypotheses.parquet)"},
		{"--json onto an absent input", edit(func(o *Options) { o.JSON = filepath.Join(dir, "run.json") }), "is also an input (run.json)"},
		{"--md onto the trials log", edit(func(o *Options) { o.Markdown = filepath.Join(dir, "validations.parquet.trials.jsonl") }), "is also an input (validations.parquet.trials.jsonl)"},
		{"--html onto a link to an input", edit(func(o *Options) { o.HTML = filepath.Join(dir, "link.html") }), "link.html is also an input (hypotheses.parquet)"},
		{"--html and --md the same file", edit(func(o *Options) { o.HTML, o.Markdown = "r.out", "./r.out" }), "--md ./r.out is also the output of --html"},
	} {
		err := tc.opts.Validate()
		clitest.CheckErr(t, tc.name, err, tc.want)
	}
}

func TestRun(t *testing.T) {
	dir := runFolder(t)
	out := filepath.Join(t.TempDir(), "site")
	rc, stdout, stderr := clitest.Run(t, Main, "", "-o", out, dir)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	if !strings.Contains(stdout, "0 of 3 hypotheses validated") || !strings.Contains(stdout, "wrote "+filepath.Join(out, "report.json")) {
		t.Errorf("summary:\n%s", stdout)
	}
	for _, name := range []string{"report.html", "report.md", "report.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	rc, stdout, stderr = clitest.Run(t, Main, "", "--json", "-", dir)
	if rc != 0 || !strings.HasPrefix(stdout, "{") || strings.Contains(stdout, "wrote") {
		t.Errorf("--json -: exit %d, stdout %.40q, stderr %s", rc, stdout, stderr)
	}

	before, _ := os.ReadFile(filepath.Join(dir, "hypotheses.parquet"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--html", filepath.Join(dir, "hypotheses.parquet"), dir}, "mbd-report: --html " + filepath.Join(dir, "hypotheses.parquet") + " is also an input (hypotheses.parquet): write the output elsewhere\n"},
		{[]string{"--max-points", "0", dir}, "mbd-report: --max-points 0: want at least 1\n"},
		{[]string{}, "mbd-report: want one run folder DIR, got 0 arguments\n"},
		{[]string{filepath.Join(dir, "nope")}, "mbd-report: " + filepath.Join(dir, "nope") + ": cannot read the run folder: no such file or directory\n"},
	} {
		rc, stdout, stderr := clitest.Run(t, Main, "", tc.args...)
		if rc != 2 || stderr != tc.want || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, rc, stdout, stderr, tc.want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "hypotheses.parquet")); !bytes.Equal(before, after) {
		t.Error("a refused run changed hypotheses.parquet")
	}
}
