package tablecmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// validationCase is one bad value of one set of options.
type validationCase struct {
	name string
	opts cli.Validator
	want string // substring of the error, naming the flag or argument
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(in, filepath.Join(dir, "link.parquet")); err != nil {
		t.Fatal(err)
	}
	one := []string{in}
	for _, ok := range []cli.Validator{
		SummaryOptions{Files: one}, SummaryOptions{Files: []string{"-"}, Table: "prompts", JSON: true},
		HeadOptions{Files: one, N: 10}, HeadOptions{Files: one, N: 0},
		CatOptions{Files: one, Format: "jsonl"}, CatOptions{Files: one, Format: "csv"},
		ConvertOptions{Files: one, Output: filepath.Join(dir, "out.parquet")}, ConvertOptions{Files: []string{"-"}, Output: "-"},
		ConvertOptions{Files: one, Output: os.DevNull}, SchemaOptions{Args: []string{"generations"}},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, tc := range []validationCase{
		{"summary without FILE", SummaryOptions{}, "want one FILE (or - for stdin), got 0 arguments"},
		{"summary with two FILEs", SummaryOptions{Files: []string{in, in}}, "got 2 arguments"},
		{"summary of an unknown table", SummaryOptions{Files: one, Table: "bogus"}, `--table "bogus": want one of prompts, generations`},
		{"head -n -1", HeadOptions{Files: one, N: -1}, "-n -1: want at least 0"},
		{"head without FILE", HeadOptions{N: 3}, "want one FILE"},
		{"cat --format xml", CatOptions{Files: one, Format: "xml"}, `--format "xml": want jsonl or csv`},
		{"cat --format empty", CatOptions{Files: one}, `--format "": want jsonl or csv`},
		{"cat --table", CatOptions{Files: one, Format: "csv", Table: "Prompts"}, `--table "Prompts"`},
		{"convert without -o", ConvertOptions{Files: one}, "no output: give -o PATH (or -o - for stdout)"},
		{"convert without FILE", ConvertOptions{Output: "x.parquet"}, "want one FILE"},
		{"convert onto its input", ConvertOptions{Files: one, Output: in}, "-o " + in + " is also an input (FILE)"},
		{"convert onto its input, another spelling", ConvertOptions{Files: one, Output: dir + "/./in.parquet"}, "is also an input (FILE)"},
		{"convert onto a link to its input", ConvertOptions{Files: one, Output: filepath.Join(dir, "link.parquet")}, "link.parquet is also an input (FILE)"},
		{"convert --table", ConvertOptions{Files: one, Output: "x.parquet", Table: "nope"}, `--table "nope"`},
		{"schema without argument", SchemaOptions{}, "want one TABLE name"},
		{"schema with two arguments", SchemaOptions{Args: []string{"a", "b"}}, "want one TABLE name"},
	} {
		err := tc.opts.Validate()
		clitest.CheckErr(t, tc.name, err, tc.want)
	}
}

// fixture writes a small prompts table and returns its path.
func fixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.parquet")
	w, err := table.Create[schema.Prompt](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Write(tabletest.Rows[schema.Prompt](20, 1)...); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExitCodes(t *testing.T) {
	in := fixture(t)
	for _, tc := range []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"head", "-n", "-1", in}, 2, "mbd-table: -n -1: want at least 0\n"},
		{[]string{"convert", in, "-o", in}, 2, "mbd-table: -o " + in + " is also an input (FILE): write the output elsewhere\n"},
		{[]string{"summary", filepath.Join(filepath.Dir(in), "nope.parquet")}, 2, "nope.parquet: no such file\n"},
		{[]string{"cat", "--format", "xml", in}, 2, `mbd-table: --format "xml": want jsonl or csv` + "\n"},
	} {
		before, _ := os.ReadFile(in)
		rc, stdout, stderr := clitest.Run(t, Main, "", tc.args...)
		if rc != tc.rc || !strings.HasSuffix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and one line ending %q", tc.args, rc, stdout, stderr, tc.rc, tc.want)
		}
		if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
			t.Errorf("%v changed its input", tc.args)
		}
	}
}

// TestConvertManifest checks that the output manifest records the input with its SHA-256.
func TestConvertManifest(t *testing.T) {
	in := fixture(t)
	out := filepath.Join(filepath.Dir(in), "out.parquet")
	if rc, _, stderr := clitest.Run(t, Main, "", "convert", in, "-o", out); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	if in := clitest.Inputs(t, out+".json", "", in)[0]; in.Rows != 20 || in.Table != schema.Prompts.ID() {
		t.Errorf("manifest input %+v, want 20 rows of %s", in, schema.Prompts.ID())
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		t.Errorf("convert of a Parquet file to Parquet changed its bytes")
	}
}

// onlyFiles fails unless dir holds exactly the given names: no temporary file, no manifest.
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// TestConvertToDevice writes to a character device of its own (a copy of /dev/null made with
// mknod, never the real one): it is written through and stays a device, with no manifest beside it.
func TestConvertToDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	in := fixture(t)
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	if f, err := os.OpenFile(null, os.O_WRONLY, 0); err != nil {
		t.Skipf("the temporary folder does not allow devices: %v", err)
	} else {
		f.Close()
	}
	rc, _, stderr := clitest.Run(t, Main, "", "convert", in, "-o", null)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	st, err := os.Lstat(null)
	if err != nil || st.Mode()&os.ModeCharDevice == 0 || st.Mode()&os.ModeDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", null, st.Mode(), err)
	}
	if rdev := st.Sys().(*syscall.Stat_t).Rdev; rdev != 1<<8|3 {
		t.Errorf("device number %#x, want 1,3", rdev)
	}
	onlyFiles(t, dir, "null")
}

// TestConvertToFIFO writes to a named pipe: its reader gets the whole table, and the pipe stays a pipe.
func TestConvertToFIFO(t *testing.T) {
	in := fixture(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo) // blocks until the writer opens it
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	rc, _, stderr := clitest.Run(t, Main, "", "convert", in, "-o", fifo)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	want, _ := os.ReadFile(in)
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("the pipe's reader got %d bytes, want the %d of the input", len(b), len(want))
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%s is no longer a FIFO: %v", fifo, err)
	}
	onlyFiles(t, dir, "fifo")
}

// TestConvertToProcLink writes through a symbolic link to /proc/self/fd/N, as -o /dev/stdout does,
// where N is a pipe: the link stays, and the pipe's reader gets the table.
func TestConvertToProcLink(t *testing.T) {
	in := fixture(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	target := fmt.Sprintf("/proc/self/fd/%d", w.Fd())
	if _, err := os.Stat(target); err != nil {
		w.Close()
		t.Skipf("no /proc: %v", err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "stdout")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	rc, _, stderr := clitest.Run(t, Main, "", "convert", in, "-o", link)
	w.Close()
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	want, _ := os.ReadFile(in)
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("the pipe's reader got %d bytes, want the %d of the input", len(b), len(want))
	}
	if l, err := os.Readlink(link); err != nil || l != target {
		t.Errorf("%s is no longer the link to %s: %q, %v", link, target, l, err)
	}
	onlyFiles(t, dir, "stdout")
}
