package embed

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// countingEmbedder makes a deterministic vector from each text and counts what it embeds.
type countingEmbedder struct {
	id     string
	calls  int
	texts  []string
	corpus bool
}

func (c *countingEmbedder) ID() string { return c.id }

func (c *countingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	c.calls++
	c.texts = append(c.texts, texts...)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		h := sha256.Sum256([]byte(c.id + "|" + t))
		v := make([]float32, 8)
		for j := range v {
			v[j] = float32(h[j]) - 127.5
		}
		normalise(v)
		out[i] = v
	}
	return out, nil
}

type corpusEmbedder struct{ countingEmbedder }

func (c *corpusEmbedder) CorpusDependent() bool { return true }

func embedAll(t *testing.T, e Embedder, texts []string) [][]float32 {
	t.Helper()
	vs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vs), len(texts))
	}
	return vs
}

func TestCacheRerun(t *testing.T) {
	dir := t.TempDir()
	texts := []string{"alpha", "beta", "gamma", "beta"}
	inner := &countingEmbedder{id: "fake:a"}
	c := Cached(inner, dir)
	first := embedAll(t, c, texts)
	if inner.calls != 1 || !slices.Equal(inner.texts, []string{"alpha", "beta", "gamma"}) {
		t.Fatalf("first run: %d calls with %q", inner.calls, inner.texts)
	}
	if !slices.Equal(first[1], first[3]) {
		t.Fatal("duplicate text got a different vector")
	}
	// Same process: all hits.
	embedAll(t, c, texts)
	if inner.calls != 1 {
		t.Fatalf("rerun in the same process embedded again")
	}
	c.Close()

	// New process (new wrapper): zero calls, identical vectors.
	inner2 := &countingEmbedder{id: "fake:a"}
	c2 := Cached(inner2, dir)
	defer c2.Close()
	second := embedAll(t, c2, texts)
	if inner2.calls != 0 {
		t.Fatalf("second run made %d calls", inner2.calls)
	}
	for i := range first {
		if !slices.Equal(first[i], second[i]) {
			t.Fatalf("text %d: cached vector differs", i)
		}
	}
	// Partial rerun: only the new text is embedded.
	embedAll(t, c2, []string{"gamma", "delta", "alpha"})
	if !slices.Equal(inner2.texts, []string{"delta"}) {
		t.Fatalf("partial rerun embedded %q", inner2.texts)
	}
	if h, m := c2.Stats(); h != 6 || m != 1 {
		t.Fatalf("stats %d hits %d misses", h, m)
	}
}

func TestCacheTornRecord(t *testing.T) {
	dir := t.TempDir()
	inner := &countingEmbedder{id: "fake:a"}
	c := Cached(inner, dir)
	want := embedAll(t, c, []string{"one", "two", "three"})
	c.Close()
	segs, _ := filepath.Glob(filepath.Join(c.Dir(), "seg-*.bin"))
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	// Tear the last record.
	st, _ := os.Stat(segs[0])
	if err := os.Truncate(segs[0], st.Size()-5); err != nil {
		t.Fatal(err)
	}
	// And leave a segment of garbage and an empty one, as crashes could.
	os.WriteFile(filepath.Join(c.Dir(), "seg-0-0-garbage.bin"), []byte("mbdemb1\n\x01\x02\x03"), 0o644)
	os.WriteFile(filepath.Join(c.Dir(), "seg-0-1-empty.bin"), nil, 0o644)

	inner2 := &countingEmbedder{id: "fake:a"}
	c2 := Cached(inner2, dir)
	got := embedAll(t, c2, []string{"one", "two", "three"})
	if !slices.Equal(inner2.texts, []string{"three"}) {
		t.Fatalf("after a torn record, embedded %q; want only the torn one", inner2.texts)
	}
	for i := range want {
		if !slices.Equal(want[i], got[i]) {
			t.Fatalf("text %d differs", i)
		}
	}
	c2.Close()
	// The recomputed record went to a new segment and is found next time.
	inner3 := &countingEmbedder{id: "fake:a"}
	c3 := Cached(inner3, dir)
	defer c3.Close()
	embedAll(t, c3, []string{"one", "two", "three"})
	if inner3.calls != 0 {
		t.Fatalf("third run embedded %q", inner3.texts)
	}
}

func TestCacheIDsDoNotCollide(t *testing.T) {
	dir := t.TempDir()
	a, b := &countingEmbedder{id: "fake:a"}, &countingEmbedder{id: "fake:b"}
	ca, cb := Cached(a, dir), Cached(b, dir)
	defer ca.Close()
	defer cb.Close()
	va := embedAll(t, ca, []string{"x", "y"})
	vb := embedAll(t, cb, []string{"x", "y"})
	if b.calls != 1 {
		t.Fatal("embedder b was served a's vectors")
	}
	if slices.Equal(va[0], vb[0]) {
		t.Fatal("test embedders should differ")
	}
	if ca.Dir() == cb.Dir() {
		t.Fatal("same directory for different IDs")
	}
	// Keys differ even within one directory.
	if cacheKey("fake:a", "x") == cacheKey("fake:b", "x") {
		t.Fatal("key collision")
	}
}

func TestCacheCorpusDependent(t *testing.T) {
	dir := t.TempDir()
	inner := &corpusEmbedder{countingEmbedder{id: "fake:lsa"}}
	c := Cached(inner, dir)
	defer c.Close()
	embedAll(t, c, []string{"a", "b", "c"})
	embedAll(t, c, []string{"a", "b", "c"})
	if inner.calls != 1 {
		t.Fatalf("same corpus: %d calls", inner.calls)
	}
	// A different corpus refits on all of it, even for texts seen before.
	embedAll(t, c, []string{"a", "b", "d"})
	if inner.calls != 2 || !slices.Equal(inner.texts[3:], []string{"a", "b", "d"}) {
		t.Fatalf("new corpus: %d calls, texts %q", inner.calls, inner.texts)
	}

	// The real thing.
	l, _ := NewLSA(LSAOptions{Dim: 4, NGram: 1, MinDF: 2, MaxDF: 1, Seed: 1})
	cl := Cached(l, t.TempDir())
	defer cl.Close()
	texts := append(slices.Clone(cooking), sailing...)
	v1 := embedAll(t, cl, texts)
	v2 := embedAll(t, cl, texts)
	if h, m := cl.Stats(); h != len(texts) || m != len(texts) {
		t.Fatalf("lsa stats: %d hits, %d misses", h, m)
	}
	for i := range v1 {
		if !slices.Equal(v1[i], v2[i]) {
			t.Fatal("cached LSA vector differs")
		}
	}
}
