package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// fake is an llm.Model whose completion names the model, the seed and the prompt; with ctx > 0 it
// is an llm.Fitter whose prompts have one token per word.
type fake struct {
	name  string
	ctx   int
	calls int
}

func (f *fake) Generate(ctx context.Context, reqs []llm.GenRequest, s llm.Sampling, yield func(llm.GenResult) error) error {
	f.calls++
	for i := len(reqs) - 1; i >= 0; i-- { // out of order, as batched backends answer
		r := reqs[i]
		if err := yield(llm.GenResult{ID: r.ID, Completion: fmt.Sprintf("%s|%d|%s", f.name, r.Seed, r.Prompt),
			PromptTokens: 3, CompletionTokens: 2, FinishReason: "stop", LogprobSum: -1, HasLogprob: true}); err != nil {
			return err
		}
	}
	return nil
}
func (f *fake) Score(context.Context, []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	return nil, llm.ErrCannotScore
}
func (f *fake) Embed(context.Context, []string) ([][]float32, error) { return nil, llm.ErrCannotEmbed }
func (f *fake) Info() llm.Info                                       { return llm.Info{Ref: f.name} }
func (f *fake) Close() error                                         { return nil }

type fitter struct{ *fake }

func (f fitter) Fit(prompts []string, maxTokens int) error {
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(strings.Fields(p)))
	}
	if longest+maxTokens > f.ctx {
		return &llm.ContextError{Prompt: longest, NewTokens: maxTokens, Context: f.ctx}
	}
	return nil
}

func promptsN(n int) []schema.Prompt {
	var ps []schema.Prompt
	for i := range n {
		split := schema.SplitDiscovery
		if i%2 == 1 {
			split = schema.SplitValidation
		}
		ps = append(ps, schema.Prompt{ID: fmt.Sprintf("p%02d", i), Text: fmt.Sprintf("prompt number %d", i), Split: split})
	}
	return ps
}

func TestSelectAndJobs(t *testing.T) {
	ps := promptsN(6)
	odd := func(id string) bool { return id[len(id)-1]%2 == 1 }
	for _, tc := range []struct {
		name  string
		split string
		keep  func(string) bool
		want  []string
	}{
		{"all", SplitAll, nil, []string{"p00", "p01", "p02", "p03", "p04", "p05"}},
		{"discovery", schema.SplitDiscovery, nil, []string{"p00", "p02", "p04"}},
		{"validation", schema.SplitValidation, nil, []string{"p01", "p03", "p05"}},
		{"shard", SplitAll, odd, []string{"p01", "p03", "p05"}},
		{"discovery and shard", schema.SplitDiscovery, odd, nil},
	} {
		var got []string
		for _, p := range Select(ps, tc.split, tc.keep) {
			got = append(got, p.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	jobs := Jobs(ps[:2], "A", 3, 9)
	if len(jobs) != 6 {
		t.Fatalf("%d jobs, want 2 prompts x 3 samples", len(jobs))
	}
	for i, jb := range jobs {
		p, s := ps[i/3], int32(i%3)
		if jb.Prompt.ID != p.ID || jb.Sample != s || jb.Seed != SampleSeed(9, p.ID, s) || jb.ID != GenerationID("A", p.ID, s) {
			t.Errorf("job %d: %+v", i, jb)
		}
	}
	if GenerationID("A", "p", 0) == GenerationID("B", "p", 0) || SampleSeed(1, "p", 0) == SampleSeed(2, "p", 0) {
		t.Error("ids or seeds ignore the label or the base seed")
	}
}

func identity() Identity {
	return Identity{
		Params: Params{Label: "A", ModelRef: "gguf:m.gguf", Sampling: llm.Sampling{Temperature: 1, MaxTokens: 8}, Samples: 2, Split: SplitAll, Chunk: 4},
		Inputs: map[string]string{"prompts p.parquet": "aa", "model file m.gguf": "bb"},
	}
}

func TestIdentityKey(t *testing.T) {
	base, err := identity().Key()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Identity)
	}{
		{"label", func(id *Identity) { id.Params.Label = "B" }},
		{"temperature", func(id *Identity) { id.Params.Sampling.Temperature = 0.5 }},
		{"seed", func(id *Identity) { id.Params.Seed = 1 }},
		{"shard", func(id *Identity) { id.Params.Shard = "1/2" }},
		{"chunk", func(id *Identity) { id.Params.Chunk = 5 }},
		{"model file content", func(id *Identity) { id.Inputs["model file m.gguf"] = "cc" }},
		{"prompts content", func(id *Identity) { id.Inputs["prompts p.parquet"] = "cc" }},
		{"another input", func(id *Identity) { id.Inputs["model file sys.txt"] = "dd" }},
	} {
		id := identity()
		tc.edit(&id)
		k, err := id.Key()
		if err != nil || k == base {
			t.Errorf("%s: key %s (%v), want another key than %s", tc.name, k, err, base)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*Identity)
	}{
		{"NaN temperature", func(id *Identity) { id.Params.Sampling.Temperature = math.NaN() }},
		{"infinite top-p", func(id *Identity) { id.Params.Sampling.TopP = math.Inf(1) }},
		{"input without hash", func(id *Identity) { id.Inputs["prompts p.parquet"] = "" }},
	} {
		id := identity()
		tc.edit(&id)
		if k, err := id.Key(); err == nil {
			t.Errorf("%s: key %s, want an error", tc.name, k)
		}
	}
}

func rows(n int, tag string) []schema.Generation {
	var out []schema.Generation
	for i := range n {
		out = append(out, schema.Generation{ID: fmt.Sprintf("%s%d", tag, i), Completion: tag})
	}
	return out
}

func replay(t *testing.T, j *Journal) []string {
	t.Helper()
	var ids []string
	if err := j.Replay(func(g schema.Generation) error { ids = append(ids, g.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.parquet.journal")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	j, err := OpenJournal(path, identity(), log)
	if err != nil {
		t.Fatal(err)
	}
	if j.Chunks() != 0 {
		t.Fatalf("a new journal has %d chunks", j.Chunks())
	}
	if err := j.Append(rows(2, "a")); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(rows(1, "b")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	// A torn row after the last chunk is dropped.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"row":{"id":"c0"}}` + "\n" + `{"row":{"id":"to`)
	f.Close()

	j, err = OpenJournal(path, identity(), log)
	if err != nil {
		t.Fatal(err)
	}
	if got := replay(t, j); j.Chunks() != 2 || !slices.Equal(got, []string{"a0", "a1", "b0"}) {
		t.Fatalf("reopened journal: %d chunks, rows %v", j.Chunks(), got)
	}
	if err := j.Append(rows(1, "c")); err != nil {
		t.Fatal(err)
	}
	if got := replay(t, j); !slices.Equal(got, []string{"a0", "a1", "b0", "c0"}) {
		t.Fatalf("after append: %v", got)
	}
	j.Close()

	// Another model file under the same name: the journal is not reused.
	other := identity()
	other.Inputs["model file m.gguf"] = "changed"
	j, err = OpenJournal(path, other, log)
	if err != nil {
		t.Fatal(err)
	}
	if j.Chunks() != 0 || len(replay(t, j)) != 0 {
		t.Fatalf("a journal of another model was reused: %d chunks", j.Chunks())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the other run's journal was not removed")
	}
	if !strings.Contains(logs.String(), `starting over`) || !strings.Contains(logs.String(), `changed="model file m.gguf"`) {
		t.Errorf("log does not say what changed: %s", logs.String())
	}
	if err := j.Remove(); err != nil {
		t.Fatal(err)
	}

	// A file that is not a journal is left alone: bad input (exit status 2).
	os.WriteFile(path, []byte("my notes\n"), 0o644)
	var ie *table.InputError
	if _, err := OpenJournal(path, identity(), log); !errors.As(err, &ie) || !strings.Contains(err.Error(), "not an mbd-gen journal") {
		t.Errorf("non-journal: %v, want a *table.InputError", err)
	}
	// An identity that cannot be computed never opens a journal.
	bad := identity()
	bad.Params.Sampling.Temperature = math.NaN()
	if _, err := OpenJournal(path, bad, log); err == nil {
		t.Error("a NaN identity opened a journal")
	}
}

// TestGenerateResumesAndStartsOver interrupts a run after its first chunk, resumes it and compares
// it with an uninterrupted run; then it checks that a journal made with another model under the
// same reference is not continued.
func TestGenerateResumesAndStartsOver(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	ps := promptsN(5)
	p := Params{Label: "A", ModelRef: "fake:m", Sampling: llm.Sampling{MaxTokens: 4}, Samples: 2, Split: SplitAll, Chunk: 3}
	jobs := Jobs(ps, p.Label, p.Samples, p.Seed)
	id := func(model string) Identity {
		return Identity{Params: p, Inputs: map[string]string{"prompts": "aa", "model file m": model}}
	}
	run := func(path, model string, stopAfter int) ([]schema.Generation, error) {
		j, err := OpenJournal(path, id(model), log)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		chunks := 0
		_, err = Generate(ctx, &fake{name: model}, jobs, p, j, func(n, tokens int) {
			if chunks++; chunks == stopAfter {
				cancel()
			}
		})
		if err != nil {
			return nil, err
		}
		var out []schema.Generation
		err = j.Replay(func(g schema.Generation) error { out = append(out, g); return nil })
		return out, err
	}
	whole, err := run(filepath.Join(dir, "whole"), "X", 0)
	if err != nil || len(whole) != len(jobs) {
		t.Fatalf("uninterrupted run: %d rows, %v", len(whole), err)
	}
	for i, g := range whole {
		if g.ID != jobs[i].ID || g.Completion != fmt.Sprintf("X|%d|%s", jobs[i].Seed, jobs[i].Prompt.Text) || *g.CompletionTokens != 2 || *g.LogprobMean != -0.5 {
			t.Fatalf("row %d: %+v", i, g)
		}
	}

	path := filepath.Join(dir, "resumed")
	if _, err := run(path, "X", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	resumed, err := run(path, "X", 0)
	if err != nil || !slices.EqualFunc(resumed, whole, func(a, b schema.Generation) bool { return a.ID == b.ID && a.Completion == b.Completion }) {
		t.Fatalf("resumed run differs from the uninterrupted run (%v)", err)
	}

	// Interrupted with model X, rerun after the file became model Y: every row is Y's.
	path = filepath.Join(dir, "replaced")
	if _, err := run(path, "X", 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	replaced, err := run(path, "Y", 0)
	if err != nil || len(replaced) != len(jobs) {
		t.Fatalf("rerun: %d rows, %v", len(replaced), err)
	}
	for i, g := range replaced {
		if !strings.HasPrefix(g.Completion, "Y|") {
			t.Fatalf("row %d comes from the replaced model: %q", i, g.Completion)
		}
	}
}

func TestFit(t *testing.T) {
	jobs := Jobs(promptsN(3), "A", 2, 0) // prompts of 3 words
	if err := Fit(&fake{}, jobs, 1000); err != nil {
		t.Errorf("a model without a context limit: %v", err)
	}
	if err := Fit(fitter{&fake{ctx: 10}}, jobs, 7); err != nil {
		t.Errorf("3 + 7 tokens in 10: %v", err)
	}
	var ce *llm.ContextError
	if err := Fit(fitter{&fake{ctx: 10}}, jobs, 8); !errors.As(err, &ce) || ce.Prompt+ce.NewTokens != 11 {
		t.Errorf("3 + 8 tokens in 10: %v", err)
	}
}
