package atomicfile

import (
	"os"
	"path/filepath"
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
