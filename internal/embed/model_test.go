package embed

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
)

// fakeModel embeds a text as (len, count of 'a', 1) unnormalised and records its batches.
type fakeModel struct {
	batches [][]string
	closed  bool
	zero    bool
}

func (m *fakeModel) Generate(context.Context, []llm.GenRequest, llm.Sampling, func(llm.GenResult) error) error {
	return errors.New("no")
}
func (m *fakeModel) Score(context.Context, []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	return nil, llm.ErrCannotScore
}
func (m *fakeModel) Info() llm.Info { return llm.Info{Ref: "fake"} }
func (m *fakeModel) Close() error   { m.closed = true; return nil }
func (m *fakeModel) Embed(_ context.Context, texts []string) ([][]float32, error) {
	m.batches = append(m.batches, slices.Clone(texts))
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if m.zero {
			out[i] = make([]float32, 3)
			continue
		}
		out[i] = []float32{float32(len(t)), float32(strings.Count(t, "a")), 1}
	}
	return out, nil
}

func TestModelEmbedder(t *testing.T) {
	m := &fakeModel{}
	e := NewModel(m, "gguf:/m/e5.gguf", "query: ", 2)
	if e.ID() != "gguf:/m/e5.gguf?prefix=query%3A+" {
		t.Fatalf("ID = %q", e.ID())
	}
	vs, err := e.Embed(context.Background(), []string{"aa", "b", "ccc", "a", "dd"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.batches) != 3 || len(m.batches[0]) != 2 || len(m.batches[2]) != 1 {
		t.Fatalf("batches %q", m.batches)
	}
	if m.batches[0][0] != "query: aa" {
		t.Fatalf("prefix not applied: %q", m.batches[0][0])
	}
	for i, v := range vs {
		if n := cos(v, v); math.Abs(n-1) > 1e-6 {
			t.Fatalf("vector %d: squared norm %g", i, n)
		}
	}
	if err := Close(e); err != nil || !m.closed {
		t.Fatal("Close did not close the model")
	}
	if _, err := NewModel(&fakeModel{zero: true}, "x:y", "", 0).Embed(context.Background(), []string{"a"}); err == nil {
		t.Fatal("zero vector: want an error")
	}
}

func TestParse(t *testing.T) {
	var opened []string
	models := func(ref string) (llm.Model, error) {
		opened = append(opened, ref)
		return &fakeModel{}, nil
	}
	e, err := Parse("builtin:lsa?dim=32&ngram=1&min_df=3&max_df=0.9&seed=5", models)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "builtin:lsa?dim=32&ngram=1&min_df=3&max_df=0.9&seed=5" {
		t.Fatalf("ID %q", e.ID())
	}
	if e, _ := Parse("builtin:lsa", nil); e.ID() != "builtin:lsa?dim=64&ngram=2&min_df=2&max_df=1&seed=1" {
		t.Fatalf("default ID %q", e.ID())
	}
	e, err = Parse("gguf:/m/x.gguf?ctx=512&prefix=Represent+this+sentence:+&chunk=8&gpu-layers=0", models)
	if err != nil {
		t.Fatal(err)
	}
	me := e.(*ModelEmbedder)
	if opened[0] != "gguf:/m/x.gguf?ctx=512&gpu-layers=0" || me.Prefix != "Represent this sentence: " || me.Batch != 8 {
		t.Fatalf("opened %q prefix %q batch %d", opened, me.Prefix, me.Batch)
	}
	if me.ID() != "gguf:/m/x.gguf?ctx=512&gpu-layers=0&prefix=Represent+this+sentence%3A+" {
		t.Fatalf("ID %q", me.ID())
	}
	e, err = Parse("openai-compat:http://h:8000/v1?x#bge?prefix=query:%20", models)
	_ = e
	if err != nil {
		t.Fatal(err)
	}
	if opened[1] != "openai-compat:http://h:8000/v1?x#bge" {
		t.Fatalf("opened %q", opened[1])
	}
	if e, _ := Parse("openai:text-embedding-3-small", models); e.ID() != "openai:text-embedding-3-small" {
		t.Fatalf("ID %q", e.ID())
	}
	for _, bad := range []string{
		"lsa", "builtin:tfidf", "builtin:lsa?dims=3", "builtin:lsa?dim=x", "builtin:lsa?dim=0",
		"builtin:lsa?max_df=2", "builtin:lsa?dim=3&dim=4", "hf:foo", "gguf:/x?chunk=0",
	} {
		if _, err := Parse(bad, models); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
	if _, err := Parse("gguf:/x", nil); err == nil {
		t.Error("model ref without models func: want an error")
	}
}
