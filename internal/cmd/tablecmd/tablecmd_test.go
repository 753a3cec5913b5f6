package tablecmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	in := clitest.Link(t, dir, "in.parquet", "link.parquet")
	one := Input{Files: []string{in}}
	clitest.Validate(t, func() SummaryOptions { return SummaryOptions{Input: one} }, []clitest.Case[SummaryOptions]{
		{Name: "stdin as prompts, as JSON", Edit: func(o *SummaryOptions) { o.Input, o.JSON = Input{Files: []string{"-"}, Table: "prompts"}, true }},
		{Name: "without FILE", Edit: func(o *SummaryOptions) { o.Files = nil }, Want: "want one FILE (or - for stdin), got 0 arguments"},
		{Name: "with two FILEs", Edit: func(o *SummaryOptions) { o.Files = []string{in, in} }, Want: "got 2 arguments"},
		{Name: "of an unknown table", Edit: func(o *SummaryOptions) { o.Table = "bogus" }, Want: `--table "bogus": want one of prompts, generations`},
	})
	clitest.Validate(t, func() HeadOptions { return HeadOptions{Input: one, N: 10} }, []clitest.Case[HeadOptions]{
		{Name: "-n 0", Edit: func(o *HeadOptions) { o.N = 0 }},
		{Name: "-n -1", Edit: func(o *HeadOptions) { o.N = -1 }, Want: "-n -1: want at least 0"},
		{Name: "without FILE", Edit: func(o *HeadOptions) { o.Files = nil }, Want: "want one FILE"},
	})
	clitest.Validate(t, func() CatOptions { return CatOptions{Input: one, Format: "jsonl"} }, []clitest.Case[CatOptions]{
		{Name: "--format csv", Edit: func(o *CatOptions) { o.Format = "csv" }},
		{Name: "--columns", Edit: func(o *CatOptions) { o.Columns = "prompt, completion" }},
		{Name: "--columns with an empty name", Edit: func(o *CatOptions) { o.Columns = "prompt,,completion" }, Want: `--columns "prompt,,completion": a column name is empty`},
		{Name: "--format xml", Edit: func(o *CatOptions) { o.Format = "xml" }, Want: `--format "xml": want jsonl or csv`},
		{Name: "--format empty", Edit: func(o *CatOptions) { o.Format = "" }, Want: `--format "": want jsonl or csv`},
		{Name: "--table", Edit: func(o *CatOptions) { o.Table = "Prompts" }, Want: `--table "Prompts"`},
	})
	clitest.Validate(t, func() ConvertOptions { return ConvertOptions{Input: one, Output: filepath.Join(dir, "out.parquet")} }, []clitest.Case[ConvertOptions]{
		{Name: "stdin to stdout", Edit: func(o *ConvertOptions) { o.Files, o.Output = []string{"-"}, "-" }},
		{Name: "to the null device", Edit: func(o *ConvertOptions) { o.Output = os.DevNull }},
		{Name: "without -o", Edit: func(o *ConvertOptions) { o.Output = "" }, Want: "no output: give -o PATH (or -o - for stdout)"},
		{Name: "without FILE", Edit: func(o *ConvertOptions) { o.Files = nil }, Want: "want one FILE"},
		{Name: "onto its input", Edit: func(o *ConvertOptions) { o.Output = in }, Want: "-o " + in + " is also an input (FILE)"},
		{Name: "onto its input, another spelling", Edit: func(o *ConvertOptions) { o.Output = dir + "/./in.parquet" }, Want: "is also an input (FILE)"},
		{Name: "onto a link to its input", Edit: func(o *ConvertOptions) { o.Output = filepath.Join(dir, "link.parquet") }, Want: "link.parquet is also an input (FILE)"},
		{Name: "--table", Edit: func(o *ConvertOptions) { o.Table = "nope" }, Want: `--table "nope"`},
	})
	clitest.Validate(t, func() SchemaOptions { return SchemaOptions{Args: []string{"generations"}} }, []clitest.Case[SchemaOptions]{
		{Name: "without argument", Edit: func(o *SchemaOptions) { o.Args = nil }, Want: "want one TABLE name"},
		{Name: "with two arguments", Edit: func(o *SchemaOptions) { o.Args = []string{"a", "b"} }, Want: "want one TABLE name"},
	})
}

// fixture writes a small prompts table and returns its path.
func fixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.parquet")
	clitest.Write(t, path, tabletest.Rows[schema.Prompt](20, 1)...)
	return path
}

func TestExitCodes(t *testing.T) {
	in := fixture(t)
	before, _ := os.ReadFile(in)
	clitest.Refuses(t, Main, "", nil, nil, []clitest.Refusal{
		{Args: []string{"head", "-n", "-1", in}, Want: "mbd-table: -n -1: want at least 0\n"},
		{Args: []string{"convert", in, "-o", in}, Want: "mbd-table: -o " + in + " is also an input (FILE): write the output elsewhere\n"},
		{Args: []string{"summary", filepath.Join(filepath.Dir(in), "nope.parquet")}, Want: "nope.parquet: no such file\n"},
		{Args: []string{"cat", "--format", "xml", in}, Want: `mbd-table: --format "xml": want jsonl or csv` + "\n"},
		{Args: []string{"cat", "--columns", "text,answer", in}, Want: "mbd-table: " + in + `: prompts has no column "answer" (columns: id, text, source, category, split)` + "\n"},
	})
	if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
		t.Error("a refused run changed its input")
	}
}

// TestConvertManifest checks that the output manifest records the input with its SHA-256.
func TestConvertManifest(t *testing.T) {
	in := fixture(t)
	out := filepath.Join(filepath.Dir(in), "out.parquet")
	clitest.OK(t, Main, "", "convert", in, "-o", out)
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
	clitest.OK(t, Main, "", "convert", in, "-o", null)
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
	clitest.OK(t, Main, "", "convert", in, "-o", fifo)
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
