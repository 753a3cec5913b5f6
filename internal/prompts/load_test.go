package prompts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
)

func TestSelect(t *testing.T) {
	var all []schema.Prompt
	for i, text := range []string{"a", "b", "c", "a", "d", "e", "b"} {
		cat := "x"
		if i%2 == 1 {
			cat = "y"
		}
		all = append(all, schema.Prompt{ID: ID(text), Text: text, Category: cat})
	}
	for _, tc := range []struct {
		name  string
		s     Selection
		texts []string
		dups  int
	}{
		{"all, repeats dropped", Selection{ValidationFraction: 0.5}, []string{"a", "b", "c", "d", "e"}, 2},
		{"one category", Selection{Categories: []string{"y"}}, []string{"b", "e"}, 2},
		{"two categories", Selection{Categories: []string{"x", "y"}}, []string{"a", "b", "c", "d", "e"}, 2},
		{"unknown category", Selection{Categories: []string{"z"}}, nil, 2},
		{"limit", Selection{Limit: 3, Seed: 4}, nil, 2},
		{"limit above the count", Selection{Limit: 10}, []string{"a", "b", "c", "d", "e"}, 2},
	} {
		kept, dups := Select(all, tc.s)
		var texts []string
		for _, p := range kept {
			texts = append(texts, p.Text)
			if p.Split != SplitOf(p.ID, tc.s.Seed, tc.s.ValidationFraction) {
				t.Errorf("%s: %q has split %q", tc.name, p.Text, p.Split)
			}
		}
		if dups != tc.dups {
			t.Errorf("%s: %d duplicates, want %d", tc.name, dups, tc.dups)
		}
		if tc.s.Limit == 3 {
			// The subsample is the 3 lowest ranks, whatever the input order.
			rev := slices.Clone(all)
			slices.Reverse(rev)
			again, _ := Select(rev, tc.s)
			if len(kept) != 3 || len(again) != 3 || !sameIDs(kept, again) {
				t.Errorf("%s: %v, and %v from the reversed input", tc.name, texts, again)
			}
			continue
		}
		if !slices.Equal(texts, tc.texts) {
			t.Errorf("%s: %v, want %v", tc.name, texts, tc.texts)
		}
	}
	// Fraction 0 and 1 put every prompt in one split.
	for frac, want := range map[float64]string{0: Discovery, 1: Validation} {
		kept, _ := Select(all, Selection{ValidationFraction: frac})
		for _, p := range kept {
			if p.Split != want {
				t.Errorf("fraction %v: %q in %s", frac, p.Text, p.Split)
			}
		}
	}
}

func sameIDs(a, b []schema.Prompt) bool {
	ids := func(ps []schema.Prompt) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(a), ids(b))
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o644)
		return path
	}
	for _, tc := range []struct {
		name, file, content string
		texts, cats         []string
		want                string // error
	}{
		{"txt", "p.txt", "Why?\n\n  How?  \n", []string{"Why?", "How?"}, []string{"", ""}, ""},
		{"jsonl", "p.jsonl", `{"text": "Hi.", "category": "greet"}` + "\n", []string{"Hi."}, []string{"greet"}, ""},
		{"csv", "p.csv", "text,category\nWhat is a monad?,code\n", []string{"What is a monad?"}, []string{"code"}, ""},
		{"missing field", "q.jsonl", `{"prompt": "x"}` + "\n", nil, nil, `column "text": missing`},
		{"empty prompt", "e.jsonl", `{"text": "  "}` + "\n", nil, nil, `e.jsonl:1: column "text": empty prompt`},
		{"unknown extension", "notes.md", "hello\n", nil, nil, "unknown extension"},
	} {
		ps, _, err := Load(write(tc.file, tc.content), "text", "category", records.Refuse)
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil || len(ps) != len(tc.texts) {
			t.Errorf("%s: %d prompts, %v", tc.name, len(ps), err)
			continue
		}
		for i, p := range ps {
			if p.Text != tc.texts[i] || p.Category != tc.cats[i] || p.ID != ID(p.Text) || p.Source != tc.file || p.Split != "" {
				t.Errorf("%s: prompt %d: %+v", tc.name, i, p)
			}
		}
	}
	if _, _, err := Load(filepath.Join(dir, "missing.txt"), "text", "category", records.Refuse); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
