package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// readmeExamples returns the commands the README shows: the example column of its tools table and
// the lines of its ```sh blocks that run a tool or make diff, in the order they appear.
func readmeExamples(readme string) []string {
	var out []string
	code := regexp.MustCompile("`([^`]+)`")
	inSh := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = line == "```sh" && !inSh
		case inSh:
			cmd, _, _ := strings.Cut(line, "  #")
			cmd = strings.TrimSpace(cmd)
			if strings.HasPrefix(cmd, "mbd-") || strings.HasPrefix(cmd, "make diff ") {
				out = append(out, cmd)
			}
		case strings.HasPrefix(line, "| `mbd-"):
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			for _, m := range code.FindAllStringSubmatch(cells[len(cells)-1], -1) {
				if strings.HasPrefix(m[1], "mbd-") {
					out = append(out, m[1])
				}
			}
		}
	}
	return out
}

func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every README example")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeExamples(string(readme))
	if len(cmds) < 15 {
		t.Fatalf("found %d examples in README.md, want at least 15 (one per tool): %q", len(cmds), cmds)
	}
	// One script, run in a folder that holds the repository's testdata/ like a fresh clone: each
	// example must succeed, in README order (later ones may read what earlier ones wrote).
	var script strings.Builder
	script.WriteString("env HOME=$WORK/home\nsymlink testdata -> $MBD_ROOT/testdata\n")
	for _, c := range cmds {
		if rest, ok := strings.CutPrefix(c, "make diff "); ok {
			c = "make -s -f $MBD_ROOT/mk/pipeline.mk diff " + rest
		}
		// In testscript, '' inside single quotes is a literal quote.
		script.WriteString("# " + c + "\nexec sh -c '" + strings.ReplaceAll(c, "'", "''") + "'\n")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Setenv("MBD_ROOT", root)
			return nil
		},
	})
}

func TestReadmeExamplesFound(t *testing.T) {
	got := readmeExamples("text `mbd-x` in prose\n" +
		"| tool | what | example |\n|---|---|---|\n" +
		"| `mbd-a` | does a | `mbd-a -o x.parquet` and `mbd-a --json` |\n" +
		"```sh\nmbd-b x.parquet   # a comment\nmake demo  # not run\nmake diff A=a B=b RUN=r\n```\n" +
		"```\nmbd-c not a sh block\n```\n")
	want := []string{"mbd-a -o x.parquet", "mbd-a --json", "mbd-b x.parquet", "make diff A=a B=b RUN=r"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("readmeExamples = %q, want %q", got, want)
	}
}
