package embed

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
)

func TestText(t *testing.T) {
	g := schema.Generation{Prompt: "Why?", Completion: "Because."}
	for _, tc := range []struct{ what, want string }{
		{TextCompletion, "Because."},
		{TextPromptCompletion, "Why?\n\nBecause."},
	} {
		if got := Text(g, tc.what); got != tc.want {
			t.Errorf("Text(%s) = %q, want %q", tc.what, got, tc.want)
		}
	}
}

func TestAll(t *testing.T) {
	texts := make([]string, 2*ModelChunk+3)
	for i := range texts {
		texts[i] = fmt.Sprint("text ", i)
	}
	for _, tc := range []struct {
		name  string
		e     func() (Embedder, *countingEmbedder)
		texts []string
		calls int
	}{
		{"model embedder in chunks", func() (Embedder, *countingEmbedder) { c := &countingEmbedder{id: "m"}; return c, c }, texts, 3},
		{"corpus-dependent all at once", func() (Embedder, *countingEmbedder) {
			c := &corpusEmbedder{countingEmbedder{id: "c"}}
			return c, &c.countingEmbedder
		}, texts, 1},
		{"cached corpus-dependent all at once", func() (Embedder, *countingEmbedder) {
			c := &corpusEmbedder{countingEmbedder{id: "c"}}
			return Cached(c, t.TempDir()), &c.countingEmbedder
		}, texts, 1},
		{"one text", func() (Embedder, *countingEmbedder) { c := &countingEmbedder{id: "m"}; return c, c }, texts[:1], 1},
		{"no texts", func() (Embedder, *countingEmbedder) { c := &countingEmbedder{id: "m"}; return c, c }, nil, 0},
	} {
		e, inner := tc.e()
		done := 0
		vecs, err := All(context.Background(), e, tc.texts, func(n int) { done += n })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c, ok := e.(*CachedEmbedder); ok {
			c.Close()
		}
		if len(vecs) != len(tc.texts) || done != len(tc.texts) || inner.calls != tc.calls {
			t.Errorf("%s: %d vectors, %d done, %d calls; want %d, %d, %d", tc.name, len(vecs), done, inner.calls, len(tc.texts), len(tc.texts), tc.calls)
		}
	}
}

// shortEmbedder returns one vector fewer than asked for.
type shortEmbedder struct{}

func (shortEmbedder) ID() string { return "short" }
func (shortEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	return make([][]float32, len(texts)-1), nil
}

func TestAllCountsVectors(t *testing.T) {
	if _, err := All(context.Background(), shortEmbedder{}, []string{"a", "b"}, nil); err == nil {
		t.Error("no error for a missing vector")
	}
}

func TestRows(t *testing.T) {
	rows := Rows([]string{"g1", "g2"}, []string{"hello", "hello"}, [][]float32{{1, 0}, {0, 1}}, "builtin:lsa")
	// The first 8 bytes of SHA-256("hello").
	if len(rows) != 2 || rows[0].TextHash != "2cf24dba5fb0a30e" || rows[1].TextHash != rows[0].TextHash ||
		rows[1].GenerationID != "g2" || rows[1].Embedder != "builtin:lsa" || rows[1].Vector[1] != 1 {
		t.Errorf("rows %+v", rows)
	}
}

func TestNormalise(t *testing.T) {
	for _, tc := range []struct {
		in   []float32
		ok   bool
		want []float32
	}{
		{[]float32{3, 4}, true, []float32{0.6, 0.8}},
		{[]float32{0, 0}, false, []float32{0, 0}},
		{[]float32{float32(math.NaN()), 1}, false, nil},
		{[]float32{float32(math.Inf(1)), 1}, false, nil},
	} {
		v := append([]float32(nil), tc.in...)
		if ok := normalise(v); ok != tc.ok {
			t.Errorf("normalise(%v) = %v", tc.in, ok)
		}
		for i := range tc.want {
			if math.Abs(float64(v[i]-tc.want[i])) > 1e-7 {
				t.Errorf("normalise(%v) → %v, want %v", tc.in, v, tc.want)
			}
		}
	}
}
