package schema

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite schemas/*.md from the structs")

// TestDocsMatchStructs keeps schemas/*.md and the Go structs in sync.
func TestDocsMatchStructs(t *testing.T) {
	files := map[string]string{"README.md": IndexMarkdown()}
	for _, tab := range All {
		files[tab.Name+".md"] = tab.Markdown()
	}
	dir := filepath.Join("..", "..", "schemas")
	for name, want := range files {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/schema -update)", err)
		}
		if string(got) != want {
			t.Errorf("%s differs from the structs in internal/schema; run go test ./internal/schema -update", path)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("%s documents no table; remove it", filepath.Join(dir, e.Name()))
		}
	}
}

func TestParseTable(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		version int
		ok      bool
	}{
		{"generations/v1", "generations", 1, true},
		{"prompts/v12", "prompts", 12, true},
		{"generations", "", 0, false},
		{"generations/v", "", 0, false},
		{"generations/v1x", "", 0, false},
		{"/v1", "", 0, false},
		{"generations/v01", "", 0, false},
	}
	for _, tt := range tests {
		name, v, err := ParseTable(tt.in)
		if (err == nil) != tt.ok || name != tt.name || v != tt.version {
			t.Errorf("ParseTable(%q) = %q, %d, %v; want %q, %d, ok=%v", tt.in, name, v, err, tt.name, tt.version, tt.ok)
		}
	}
}

func TestEveryTableRegistered(t *testing.T) {
	seen := map[string]bool{}
	for _, tab := range All {
		if seen[tab.Name] {
			t.Errorf("table %s registered twice", tab.Name)
		}
		seen[tab.Name] = true
		if Lookup(tab.Name) != tab {
			t.Errorf("Lookup(%q) does not return the table", tab.Name)
		}
		cols := map[string]bool{}
		for _, c := range tab.Columns() {
			if cols[c.Name] {
				t.Errorf("%s: column %s twice", tab.Name, c.Name)
			}
			cols[c.Name] = true
		}
	}
	if Lookup("nope") != nil {
		t.Error("Lookup of an unknown table must return nil")
	}
}
