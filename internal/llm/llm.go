// Package llm is the one interface mbd has to "a model we compare": batched seeded generation,
// teacher-forced scoring, embeddings and tokenization. Implementations: llamacpp (in-process GGUF
// through cgo), openaicompat (OpenAI-compatible HTTP servers such as vLLM) and synthmodel (the
// synthetic world's text source).
package llm

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrCannotScore is returned by backends that cannot compute prompt log-probabilities
// (llama.cpp server, ollama and hosted APIs return output-token log-probs only).
var ErrCannotScore = errors.New("this backend cannot score texts (prompt log-probabilities are available only from in-process GGUF models and vLLM-compatible servers)")

// ErrCannotEmbed is returned by backends without embeddings.
var ErrCannotEmbed = errors.New("this backend cannot embed texts")

// Sampling configures how tokens are drawn. Zero values mean "off" except Temperature, where 0 means
// greedy decoding.
type Sampling struct {
	Temperature       float64  `json:"temperature"`
	TopK              int      `json:"top_k,omitempty"`
	TopP              float64  `json:"top_p,omitempty"`
	MinP              float64  `json:"min_p,omitempty"`
	MaxTokens         int      `json:"max_tokens"`
	Stop              []string `json:"stop,omitempty"`
	RepetitionPenalty float64  `json:"repetition_penalty,omitempty"` // 0 or 1: off
}

// Check refuses settings no backend can honour: non-finite numbers, negative values, probabilities
// outside [0, 1] and fewer than one new token. Backends call it before they sample; commands check
// their flags earlier, with the flags' names.
func (s Sampling) Check() error {
	for _, f := range []struct {
		name   string
		v, max float64
	}{
		{"temperature", s.Temperature, math.Inf(1)},
		{"top-p", s.TopP, 1},
		{"min-p", s.MinP, 1},
		{"repetition penalty", s.RepetitionPenalty, math.Inf(1)},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 || f.v > f.max {
			return fmt.Errorf("sampling: %s %v: want a finite number in [0, %v]", f.name, f.v, f.max)
		}
	}
	switch {
	case s.TopK < 0 || s.TopK > math.MaxInt32:
		return fmt.Errorf("sampling: top-k %d: want an integer in [0, %d]", s.TopK, math.MaxInt32)
	case s.MaxTokens < 1 || s.MaxTokens > math.MaxInt32:
		return fmt.Errorf("sampling: max tokens %d: want an integer in [1, %d]", s.MaxTokens, math.MaxInt32)
	}
	return nil
}

// ContextError is returned (wrapped or not) when a request does not fit in a backend's context:
// its prompt and the most new tokens are more than a sequence holds. The caller can raise the
// context size or lower the most new tokens; nothing was generated for the request.
type ContextError struct {
	ID        string // the request's id ("" for none)
	Prompt    int    // prompt tokens, after the chat template
	NewTokens int    // the most new tokens asked for
	Context   int    // tokens per sequence
}

func (e *ContextError) Error() string {
	id := ""
	if e.ID != "" {
		id = "request " + e.ID + ": "
	}
	return fmt.Sprintf("%sprompt of %d tokens + %d new tokens exceeds the context of %d tokens per sequence (raise ctx= to at least %d or lower the most new tokens)",
		id, e.Prompt, e.NewTokens, e.Context, e.Prompt+e.NewTokens)
}

// Fitter is a Model whose context bounds a prompt and its completion. Fit returns a *ContextError
// for the longest prompt when it does not fit with maxTokens new tokens, so a caller can refuse a
// run before any generation.
type Fitter interface {
	Fit(prompts []string, maxTokens int) error
}

// GenRequest is one completion to generate.
type GenRequest struct {
	ID     string // caller's id, echoed in the result
	Prompt string // the user's prompt; chat templates and system prompts are the backend's job
	Seed   uint64
}

// GenResult is one generated completion.
type GenResult struct {
	ID               string
	Completion       string
	PromptTokens     int
	CompletionTokens int
	FinishReason     string // stop or length
	// LogprobSum is the sum of the natural-log probabilities of the completion tokens under the
	// model's unmodified distribution (before temperature and truncation); HasLogprob is false when
	// the backend does not report them.
	LogprobSum float64
	HasLogprob bool
}

// ScoreRequest asks for log p(completion | prompt).
type ScoreRequest struct {
	ID         string
	Prompt     string // templated the same way as for generation
	Completion string
}

// ScoreResult holds per-token log-probabilities of the completion tokens.
type ScoreResult struct {
	ID       string
	Tokens   []int32
	Logprobs []float64
	Sum      float64
	Mean     float64 // Sum / len(Logprobs); 0 for an empty completion
}

// Info describes a model.
type Info struct {
	Ref          string            `json:"ref"`
	Arch         string            `json:"arch,omitempty"`
	Description  string            `json:"description,omitempty"`
	Params       int64             `json:"params,omitempty"`
	SizeBytes    int64             `json:"size_bytes,omitempty"`
	VocabSize    int               `json:"vocab_size,omitempty"`
	ContextTrain int               `json:"context_train,omitempty"`
	EmbeddingDim int               `json:"embedding_dim,omitempty"`
	Layers       int               `json:"layers,omitempty"`
	FileType     string            `json:"file_type,omitempty"`
	ChatTemplate string            `json:"chat_template,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// Model is a language model mbd can compare.
type Model interface {
	// Generate produces one completion per request, calling yield as each finishes (in any order).
	// Generation with the same seed, prompt and settings is reproducible on the same backend.
	Generate(ctx context.Context, reqs []GenRequest, s Sampling, yield func(GenResult) error) error
	// Score computes teacher-forced log-probabilities; ErrCannotScore if the backend cannot.
	Score(ctx context.Context, reqs []ScoreRequest) ([]ScoreResult, error)
	// Embed returns one L2-normalised vector per text; ErrCannotEmbed if the backend cannot.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Info() Info
	Close() error
}
