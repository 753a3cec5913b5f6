// Package clitest holds the checks the command packages' tests share: running a tool's Main with
// buffers, reading the inputs its output manifest records, and the usage-error contract (exit 2,
// one stderr line naming the problem).
package clitest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Run runs main with args and an empty stdin, in dir unless dir is "" (t.Chdir: the rest of the
// test runs there too), and returns its exit status, stdout and stderr.
func Run(t testing.TB, main func(context.Context, []string, cli.IO) int, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out, errb bytes.Buffer
	code = main(context.Background(), args, cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// OK is Run for a run that must succeed: it stops the test unless the exit status is 0, and
// returns stdout.
func OK(t testing.TB, main func(context.Context, []string, cli.IO) int, dir string, args ...string) (stdout string) {
	t.Helper()
	code, stdout, stderr := Run(t, main, dir, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	return stdout
}

// Refusal is a command line that a tool must refuse as a usage error naming Want.
type Refusal struct {
	Args []string
	Want string
}

// Refuses runs main in dir (as Run does) with common and then each refusal's Args, and checks that
// each run is a usage error (UsageError), prints nothing on stdout and leaves none of outputs in dir
// (Absent).
func Refuses(t testing.TB, main func(context.Context, []string, cli.IO) int, dir string, common, outputs []string, refusals []Refusal) {
	t.Helper()
	for _, r := range refusals {
		args := append(append([]string{}, common...), r.Args...)
		code, stdout, stderr := Run(t, main, dir, args...)
		UsageError(t, args, code, stderr, r.Want)
		if stdout != "" {
			t.Errorf("%v: stdout %q, want nothing", args, stdout)
		}
		Absent(t, args, dir, outputs...)
	}
}

// in resolves a relative path against dir.
func in(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// Inputs checks that the manifest at manifestPath lists exactly the files want, in that order,
// each with the file's SHA-256, and returns its inputs. Relative paths are taken in dir.
func Inputs(t testing.TB, manifestPath, dir string, want ...string) []manifest.File {
	t.Helper()
	m, err := manifest.Read(in(dir, manifestPath))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Inputs) != len(want) {
		t.Fatalf("%s: inputs %+v, want %v", manifestPath, m.Inputs, want)
	}
	for i, got := range m.Inputs {
		hash, err := table.HashFile(in(dir, want[i]))
		if err != nil {
			t.Fatal(err)
		}
		if got.Path != want[i] || got.SHA256 != hash {
			t.Errorf("%s: input %d: %+v, want %s with sha256 %s", manifestPath, i, got, want[i], hash)
		}
	}
	return m.Inputs
}

// TableInputs is Inputs for input tables: each must also record its rows (> 0) and table.
func TableInputs(t testing.TB, manifestPath, dir string, want ...string) {
	t.Helper()
	for i, got := range Inputs(t, manifestPath, dir, want...) {
		if got.Rows == 0 || got.Table == "" {
			t.Errorf("%s: input %d: %+v, want its rows and table", manifestPath, i, got)
		}
	}
}

// UsageError checks that a run of args ended with exit status 2 and exactly one non-empty stderr
// line containing want.
func UsageError(t testing.TB, args []string, code int, stderr, want string) {
	t.Helper()
	if code != cli.ExitUsage || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("%v: exit %d, stderr %q; want 2 and %q", args, code, stderr, want)
	}
}

// Absent checks that none of the named files exists in dir, removing any that does so that the
// next case starts clean.
func Absent(t testing.TB, args []string, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%v: wrote %s", args, name)
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// CheckErr checks a Validate error of the case name: none if want is "", else one containing want.
func CheckErr(t testing.TB, name string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v, want no error", name, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: %v, want an error containing %q", name, err, want)
	}
}

// Write writes rows to a new table at path.
func Write[T schema.Row](t testing.TB, path string, rows ...T) {
	t.Helper()
	w, err := table.Create[T](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Generations writes n discovery-split generations of each of the models A and B to a.parquet and
// b.parquet in a new temporary folder, and a copy of a.parquet to copy.parquet (the same
// generations under another name), and returns the folder. The rows are made in the order A0, B0,
// A1, B1, ... (their ids), with prompt ids p0, p1, ...; fill, when not nil, completes each (its i
// is the row's prompt index).
func Generations(t testing.TB, n int, fill func(g *schema.Generation, i int)) (dir string) {
	t.Helper()
	dir = t.TempDir()
	gens := map[string][]schema.Generation{}
	for i := range n {
		for _, m := range []string{"A", "B"} {
			g := schema.Generation{ID: fmt.Sprint(m, i), Model: m, PromptID: fmt.Sprint("p", i), Split: schema.SplitDiscovery}
			if fill != nil {
				fill(&g, i)
			}
			gens[m] = append(gens[m], g)
		}
	}
	Write(t, filepath.Join(dir, "a.parquet"), gens["A"]...)
	Write(t, filepath.Join(dir, "b.parquet"), gens["B"]...)
	data, err := os.ReadFile(filepath.Join(dir, "a.parquet"))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "copy.parquet"), data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Link makes link, in dir, a symbolic link to target, in dir, which it creates empty when it does not
// exist, and returns target's path.
func Link(t testing.TB, dir, target, link string) string {
	t.Helper()
	path := filepath.Join(dir, target)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Symlink(path, filepath.Join(dir, link))
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Case is one bad edit of a baseline set of options O: Validate must refuse the edited options
// with an error containing Want (or accept them if Want is "").
type Case[O any] struct {
	Name string
	Edit func(*O)
	Want string
}

// Validate checks that valid() validates and then runs each case as a subtest: the case's Edit is
// applied to a fresh valid() and the result of Validate is checked with CheckErr.
func Validate[O cli.Validator](t *testing.T, valid func() O, cases []Case[O]) {
	t.Helper()
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			o := valid()
			c.Edit(&o)
			CheckErr(t, c.Name, o.Validate(), c.Want)
		})
	}
}
