package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")

	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("final file exists before commit: %v", err)
	}
	f.Abort()
	assertOnly(t, dir)

	if err := WriteFile(path, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "whole" {
		t.Fatalf("read back %q, %v", got, err)
	}
	assertOnly(t, dir, "out.parquet")

	// A failed rewrite keeps the old file.
	f, err = Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new but aborted")
	f.Abort()
	got, _ = os.ReadFile(path)
	if string(got) != "whole" {
		t.Fatalf("aborted rewrite changed the file to %q", got)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("folder holds %v, want %v", got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("folder holds %v, want %v", got, names)
		}
	}
}

func TestWriteThroughDevicesAndFIFOs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	if err := WriteFile(null, []byte("data")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(null)
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", null, st.Mode(), err)
	}
	if !Special(null) {
		t.Errorf("Special(%s) = false", null)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left %d entries in %s, want the device alone", len(entries), dir)
	}
}

func TestWriteThroughFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if err := WriteFile(fifo, []byte("through")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "through" {
		t.Errorf("read %q from the FIFO", b)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("%s is no longer a FIFO", fifo)
	}
}

func TestRegularFilesStillAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("final name exists before Commit")
	}
	if Special(filepath.Dir(path)) {
		t.Error("a folder is special")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "x" {
		t.Errorf("read %q", b)
	}
	if _, err := Create(filepath.Dir(path)); err == nil {
		t.Error("Create on a folder succeeded")
	}
}
