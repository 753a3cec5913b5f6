// Package assistant is mbd's one road to the "assistant" LLM: the second model role
// that proposes hypotheses, judges texts, writes exemplar texts and plays the interactive game.
// It is separate from the compared models (package llm).
//
// A Provider speaks one provider's wire format (OpenAI and OpenAI-compatible servers, Anthropic,
// Gemini, a local GGUF instruct model). A Client wraps a Provider with everything every call needs:
// a content-addressed on-disk cache (a rerun makes zero calls), bounded concurrency, request and
// token rate limits, retries with backoff that honour Retry-After, token and cost accounting, and a
// dollar budget that stops cleanly (ErrBudget) so that a later run resumes from the cache.
// Open makes a Client from one reference string (openai:MODEL, openai-compat:URL#MODEL,
// anthropic:MODEL, gemini:MODEL, gguf:PATH).
//
// The providers send the request's temperature (explicitly, even 0), seed and JSON mode where the
// API has them. Anthropic's Messages API (SDK v2, API version 2026-10-21) has no temperature or
// seed, and no schema-free JSON mode: there the JSON request is an instruction in the system
// prompt and judges' repeatability rests on the cache.
//
// Keys come from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY) and never
// appear in outputs, logs, manifests, errors or cache keys.
//
// The offline "builtin" assistant is not a chat model and does not go through this package: see
// package lexical.
package assistant

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Role is the author of a chat message.
type Role string

const (
	System    Role = "system"
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one turn of a chat.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Request is one chat completion. Judges use Temperature 0 and JSON.
type Request struct {
	Messages    []Message `json:"messages"`
	Temperature float64   `json:"temperature"`
	MaxTokens   int       `json:"max_tokens"`
	// JSON asks for a single JSON object as the answer (the provider's structured-output mode where
	// it has one). The caller still parses strictly: a provider may ignore the request.
	JSON bool `json:"json,omitempty"`
	// Seed is passed to providers that accept one (part of the cache key, so that repeated
	// non-zero-temperature samples of the same request are distinct cache entries).
	Seed uint64 `json:"seed,omitempty"`
}

// Response is a provider's answer.
type Response struct {
	Text string `json:"text"`
	// Refused is true when the provider marks the answer as a refusal or a safety block (OpenAI
	// refusal field or content_filter, Anthropic stop_reason "refusal", Gemini SAFETY/blocked
	// prompt). Callers count refused answers as invalid.
	Refused      bool   `json:"refused,omitempty"`
	FinishReason string `json:"finish_reason,omitempty"` // provider's own word (stop, length, end_turn, MAX_TOKENS, ...)
	InputTokens  int    `json:"input_tokens"`
	OutputTokens int    `json:"output_tokens"`
	// Cached is set by Client when the answer came from the cache (no call was made).
	Cached bool `json:"-"`
}

// Provider sends one request to one model of one provider: no cache, no retries, no rate limits
// (Client adds them).
type Provider interface {
	// Ref is the model reference, e.g. "anthropic:claude-3-5-haiku-latest" or
	// "openai-compat:http://localhost:8000/v1#qwen"; it never contains a key.
	Ref() string
	// Chat makes one call. Failures the Client may retry are *APIError with a retryable status
	// or errors for which Temporary reports true (timeouts, connection resets).
	Chat(ctx context.Context, req Request) (Response, error)
}

// APIError is an HTTP-level failure from a provider.
type APIError struct {
	Provider   string        // provider name, e.g. anthropic
	Status     int           // HTTP status
	RetryAfter time.Duration // from the Retry-After header (seconds or HTTP date); 0 if absent
	Message    string        // the provider's error message, with any key redacted
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Provider, e.Status, e.Message)
}

// Retryable reports whether the failure is worth retrying (429, 408, 409, 5xx).
func (e *APIError) Retryable() bool {
	return e.Status == 429 || e.Status == 408 || e.Status == 409 || e.Status >= 500
}

// ErrBudget is returned (wrapped) by Client.Chat once the run's spend reaches its budget: callers
// stop, write what they have and tell the user to rerun with a larger budget (the cache makes the
// rerun free up to where this one stopped).
var ErrBudget = errors.New("assistant budget exhausted")
