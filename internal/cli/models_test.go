package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestPathsShared(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(p *Paths)
		want string // "" for no error
	}{
		{"output is the GGUF file", func(p *Paths) { p.Shared("--model", "m.gguf"); p.Out("-o", "./m.gguf") }, "-o ./m.gguf is also an input (--model)"},
		{"output is the adapter", func(p *Paths) { p.Shared("--model-b", "m.gguf", "a.gguf"); p.Out("--answers", "a.gguf") }, "--answers a.gguf is also an input (--model-b)"},
		{"a model shared by two references", func(p *Paths) {
			p.Shared("--model-a", "m.gguf")
			p.Shared("--model-b", "m.gguf", "s.txt")
			p.Shared("--assistant", "m.gguf")
			p.Out("-o", "out.parquet")
		}, ""},
		{"no files", func(p *Paths) { p.Shared("--model"); p.Out("-o", "x") }, ""},
	} {
		var p Paths
		tc.add(&p)
		err := p.Err()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBadRef(t *testing.T) {
	if BadRef("--model", nil) != nil {
		t.Error("BadRef of nil is not nil")
	}
	cause := errors.New(`model reference "x": unknown scheme`)
	err := BadRef("--model", cause)
	var u *UsageError
	if !errors.As(err, &u) || !errors.Is(err, cause) || err.Error() != `--model: model reference "x": unknown scheme` {
		t.Errorf("BadRef = %v (%T), want a usage error wrapping the cause", err, err)
	}
}

func TestSampling(t *testing.T) {
	for _, tc := range []struct {
		temperature float64
		maxTokens   int
		want        string
	}{
		{0, 1, ""},
		{1.5, MaxTokens, ""},
		{-1, 10, "--temperature -1: want at least 0"},
		{1, 0, "--max-tokens 0: want an integer in [1, 1048576]"},
		{1, MaxTokens + 1, "--max-tokens 1048577: want an integer in [1, 1048576]"},
	} {
		var c Check
		c.Sampling(tc.temperature, tc.maxTokens)
		err := c.Err()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("Sampling(%v, %d) = %v, want %q", tc.temperature, tc.maxTokens, err, tc.want)
		}
	}
}
