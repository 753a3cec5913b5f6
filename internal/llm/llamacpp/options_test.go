package llamacpp

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
)

func TestOptionsCheck(t *testing.T) {
	if err := (Options{}).Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (Options{Ctx: 1, Parallel: MaxParallel, Batch: 1, Threads: MaxThreads, Chat: "off", LoRAScale: -1}).Check(); err != nil {
		t.Errorf("limits: %v", err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"ctx negative", Options{Ctx: -1}, "ctx=-1: want a whole number in [1, 16777216]"},
		{"ctx huge", Options{Ctx: MaxCtx + 1}, "ctx=16777217"},
		{"parallel", Options{Parallel: MaxParallel + 1}, "parallel=257: want a whole number in [1, 256]"},
		{"batch", Options{Batch: MaxBatch + 1}, "batch=16777217"},
		{"threads", Options{Threads: 100000}, "threads=100000: want a whole number in [1, 512]"},
		{"gpu layers", Options{GPULayers: -1}, "gpu-layers=-1: want a whole number in [0, "},
		{"all sequences", Options{Ctx: MaxCtx, Parallel: MaxParallel}, "the context of all sequences must be at most"},
		{"lora scale NaN", Options{LoRAScale: math.NaN()}, "lora-scale=NaN: want a finite number"},
		{"lora scale Inf", Options{LoRAScale: math.Inf(-1)}, "lora-scale=-Inf"},
		{"chat", Options{Chat: "yes"}, `chat="yes": want auto, on or off`},
	} {
		if err := tc.o.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		tc.o.Path = "never-read.gguf"
		if _, err := Load(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestSmallContexts generates with contexts and batches smaller than llama.cpp's rounding (256
// tokens per sequence, a batch capped at the context): a request that does not fit is a
// *llm.ContextError before any decoding, and one that fits exactly is generated.
func TestSmallContexts(t *testing.T) {
	plain, _, _ := tinyModels(t)
	reqs := requests(4)
	const maxTokens = 6
	probe := loadT(t, Options{Path: plain})
	longest := 0
	for _, r := range reqs {
		toks, err := probe.promptTokens(r.Prompt)
		if err != nil {
			t.Fatal(err)
		}
		longest = max(longest, len(toks))
	}
	need := longest + maxTokens
	var prompts []string
	for _, r := range reqs {
		prompts = append(prompts, r.Prompt)
	}
	for _, tc := range []struct {
		name               string
		ctx, parallel, bat int
		fits               bool
	}{
		{"ctx 16", 16, 8, 0, false},
		{"ctx 1", 1, 1, 0, false},
		{"one short", need - 1, 1, 0, false},
		{"exact, one sequence", need, 1, 0, true},
		{"exact, batch above the context", need, 1, 4096, true},
		{"exact, odd batch", need, 3, 5, true},
		{"exact, batch 1", need, 2, 1, true},
	} {
		m := loadT(t, Options{Path: plain, Ctx: tc.ctx, Parallel: tc.parallel, Batch: tc.bat})
		s := llm.Sampling{Temperature: 0, MaxTokens: maxTokens}
		var ce *llm.ContextError
		fitErr := m.Fit(prompts, maxTokens)
		if !tc.fits {
			if !errors.As(fitErr, &ce) || ce.Prompt != longest || ce.Context != tc.ctx {
				t.Errorf("%s: Fit: %v", tc.name, fitErr)
			}
			err := m.Generate(context.Background(), reqs, s, func(llm.GenResult) error { t.Errorf("%s: a result", tc.name); return nil })
			if !errors.As(err, &ce) {
				t.Errorf("%s: Generate: %v, want a context error", tc.name, err)
			}
			continue
		}
		if fitErr != nil {
			t.Errorf("%s: Fit: %v", tc.name, fitErr)
		}
		got := genAll(t, m, reqs, s)
		for id, r := range got {
			if r.CompletionTokens == 0 || r.CompletionTokens > maxTokens {
				t.Errorf("%s: %s: %+v", tc.name, id, r)
			}
		}
		if _, err := m.Score(context.Background(), []llm.ScoreRequest{{ID: "s", Prompt: reqs[0].Prompt, Completion: " and then"}}); err != nil {
			t.Errorf("%s: Score: %v", tc.name, err)
		}
	}
}

func TestSamplingChecked(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain, Parallel: 2, Ctx: 128})
	for _, s := range []llm.Sampling{
		{Temperature: math.NaN(), MaxTokens: 4},
		{Temperature: math.Inf(1), MaxTokens: 4},
		{Temperature: 1, TopP: math.NaN(), MaxTokens: 4},
		{Temperature: 1, MinP: 2, MaxTokens: 4},
		{Temperature: 1, RepetitionPenalty: math.NaN(), MaxTokens: 4},
		{Temperature: 1, TopK: -1, MaxTokens: 4},
		{Temperature: 1, MaxTokens: 0},
		{Temperature: 1, MaxTokens: math.MaxInt64},
	} {
		err := m.Generate(context.Background(), requests(2), s, func(llm.GenResult) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), "sampling: ") {
			t.Errorf("%+v: %v, want a sampling error", s, err)
		}
		if _, err := m.GenerateChat(context.Background(), []ChatMessage{{Role: "user", Content: "Hi"}}, s, 1); err == nil || !strings.HasPrefix(err.Error(), "sampling: ") {
			t.Errorf("chat %+v: %v, want a sampling error", s, err)
		}
	}
}
