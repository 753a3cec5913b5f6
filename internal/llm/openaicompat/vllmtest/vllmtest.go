// Package vllmtest is a fake vLLM OpenAI-compatible server for tests. It answers
// /v1/completions (generation, and the echo + prompt_logprobs scoring path), /v1/chat/completions,
// /tokenize, /v1/embeddings and /v1/models in vLLM's wire format, delegating the real work to the
// llm.Model it wraps (Generate, Score, Embed), so that remote results can be compared with the
// wrapped model's local ones. Options inject faults (429 with Retry-After, 500, truncated JSON,
// delays, a server without prompt_logprobs, /tokenize or embeddings) and record requests.
//
// Deviations from vLLM, all on paths the openaicompat client does not read:
//   - A token-id prompt must be the concatenation of token lists this server's /tokenize returned
//     earlier (one tokenized with special tokens or as chat messages, then one without); that is
//     how the fake maps it back to the (prompt, completion) texts the wrapped model's Score takes.
//   - prompt_logprobs are computed for the completion positions only; earlier positions are null
//     (vLLM fills them), and the entries' "rank" is null.
//   - Output-token logprobs carry the whole LogprobSum on the first token and 0 on the others;
//     token strings are empty.
//   - Chat messages become a prompt through the WithChatTemplate function (default: the single
//     user message's text; system messages are refused). /tokenize with messages tokenizes the
//     templated text with special tokens, to match what the wrapped model does with that prompt
//     in Generate.
package vllmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mbd-dev/mbd/internal/llm"
)

// Tokenizer turns text into the wrapped model's token ids and back.
type Tokenizer interface {
	Tokenize(text string, addSpecial bool) ([]int32, error)
	Detokenize([]int32) (string, error)
}

// TokenizerFuncs adapts a pair of functions to Tokenizer (e.g. a model whose tokenizer methods
// take more flags).
type TokenizerFuncs struct {
	TokenizeFunc   func(text string, addSpecial bool) ([]int32, error)
	DetokenizeFunc func(ids []int32) (string, error)
}

func (f TokenizerFuncs) Tokenize(text string, addSpecial bool) ([]int32, error) {
	return f.TokenizeFunc(text, addSpecial)
}

func (f TokenizerFuncs) Detokenize(ids []int32) (string, error) { return f.DetokenizeFunc(ids) }

// ChatMessage is one chat message as the fake receives it.
type ChatMessage struct {
	Role    string
	Content string
}

// Request is one request the server received.
type Request struct {
	Method, Path  string
	Body          []byte
	Authorization string
	Time          time.Time
}

// Server is a running fake; it embeds the *httptest.Server (URL, Close, Client).
type Server struct {
	*httptest.Server

	m            llm.Model
	tok          Tokenizer
	model        string
	chatTemplate func([]ChatMessage) (string, error)
	maxModelLen  int
	apiKey       string

	noPromptLogprobs, noTokenize, noEmbed bool

	delay      time.Duration
	faultPaths map[string]bool

	mu          sync.Mutex
	n429        int
	retryAfter  func(time.Time) string
	n500        int
	nTrunc      int
	requests    []Request
	inFlight    int
	maxInFlight int
	nextID      int
	promptToks  map[string]string // token ids (tokenized with special tokens / as chat) → text
	complToks   map[string]string // token ids (tokenized without special tokens) → text
}

// Option configures a Server.
type Option func(*Server)

// WithTokenizer provides the tokenizer for /tokenize and token-id prompts (without it /tokenize
// answers 404 and scoring is impossible).
func WithTokenizer(t Tokenizer) Option { return func(s *Server) { s.tok = t } }

// WithModelName sets the served model name (default "test-model"); requests naming another model
// get vLLM's 404.
func WithModelName(name string) Option { return func(s *Server) { s.model = name } }

// WithChatTemplate sets how chat messages become the prompt given to the wrapped model.
func WithChatTemplate(f func([]ChatMessage) (string, error)) Option {
	return func(s *Server) { s.chatTemplate = f }
}

// WithMaxModelLen sets max_model_len reported by /tokenize and /v1/models (default: the model's
// ContextTrain, else 4096).
func WithMaxModelLen(n int) Option { return func(s *Server) { s.maxModelLen = n } }

// WithAPIKey makes the server require "Authorization: Bearer key" (401 otherwise).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithTooManyRequests answers the first n requests (on the fault paths) with 429 and a
// Retry-After header computed by retryAfter (nil: no header).
func WithTooManyRequests(n int, retryAfter func(now time.Time) string) Option {
	return func(s *Server) { s.n429, s.retryAfter = n, retryAfter }
}

// RetryAfterSeconds gives Retry-After as a number of seconds.
func RetryAfterSeconds(n int) func(time.Time) string {
	return func(time.Time) string { return strconv.Itoa(n) }
}

// RetryAfterDate gives Retry-After as an HTTP date d after now.
func RetryAfterDate(d time.Duration) func(time.Time) string {
	return func(now time.Time) string { return now.Add(d).UTC().Format(http.TimeFormat) }
}

// WithServerErrors answers the first n requests (on the fault paths, after any 429s) with 500.
func WithServerErrors(n int) Option { return func(s *Server) { s.n500 = n } }

// WithTruncatedJSON cuts the body of the first n successful answers (on the fault paths) in half.
func WithTruncatedJSON(n int) Option { return func(s *Server) { s.nTrunc = n } }

// WithDelay delays every request on the fault paths by d before answering.
func WithDelay(d time.Duration) Option { return func(s *Server) { s.delay = d } }

// WithFaultPaths restricts fault injection and delays to these URL paths (default: all).
func WithFaultPaths(paths ...string) Option {
	return func(s *Server) {
		for _, p := range paths {
			s.faultPaths[p] = true
		}
	}
}

// WithoutPromptLogprobs behaves like a llama.cpp server: prompt_logprobs is ignored and never
// returned.
func WithoutPromptLogprobs() Option { return func(s *Server) { s.noPromptLogprobs = true } }

// WithoutTokenize makes /tokenize answer 404.
func WithoutTokenize() Option { return func(s *Server) { s.noTokenize = true } }

// WithoutEmbeddings makes /v1/embeddings answer 404.
func WithoutEmbeddings() Option { return func(s *Server) { s.noEmbed = true } }

// NewServer starts a fake vLLM server around m. Close it when done.
func NewServer(m llm.Model, opts ...Option) *Server {
	s := &Server{
		m:          m,
		model:      "test-model",
		faultPaths: map[string]bool{},
		promptToks: map[string]string{},
		complToks:  map[string]string{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.maxModelLen == 0 {
		s.maxModelLen = m.Info().ContextTrain
		if s.maxModelLen == 0 {
			s.maxModelLen = 4096
		}
	}
	if s.chatTemplate == nil {
		s.chatTemplate = defaultChatTemplate
	}
	s.Server = httptest.NewServer(s)
	return s
}

// BaseURL is the OpenAI API root, URL + "/v1".
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// ModelName is the served model name.
func (s *Server) ModelName() string { return s.model }

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsTo returns the requests received on path.
func (s *Server) RequestsTo(path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// MaxInFlight is the largest number of requests the server was handling at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func defaultChatTemplate(msgs []ChatMessage) (string, error) {
	if len(msgs) != 1 || msgs[0].Role != "user" {
		return "", errors.New("vllmtest: the default chat template takes exactly one user message; use WithChatTemplate for system prompts")
	}
	return msgs[0].Content, nil
}

// apiError is an error answer in vLLM's format.
type apiError struct {
	status int
	msg    string
	raw    any // when set, the body as is (FastAPI's {"detail": ...})
}

func badRequest(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

var notFound = &apiError{status: http.StatusNotFound, raw: map[string]string{"detail": "Not Found"}}

func (e *apiError) body() any {
	if e.raw != nil {
		return e.raw
	}
	typ := strings.ReplaceAll(http.StatusText(e.status), " ", "") + "Error"
	return map[string]any{"error": map[string]any{"message": e.msg, "type": typ, "param": nil, "code": e.status}}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: body, Authorization: r.Header.Get("Authorization"), Time: time.Now()})
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	faulty := len(s.faultPaths) == 0 || s.faultPaths[r.URL.Path]
	if faulty && s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"}, false)
		return
	}
	truncate := false
	if faulty {
		s.mu.Lock()
		switch {
		case s.n429 > 0:
			s.n429--
			ra := ""
			if s.retryAfter != nil {
				ra = s.retryAfter(time.Now())
			}
			s.mu.Unlock()
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			e := &apiError{status: http.StatusTooManyRequests, msg: "vllmtest: too many requests"}
			writeJSON(w, e.status, e.body(), false)
			return
		case s.n500 > 0:
			s.n500--
			s.mu.Unlock()
			e := &apiError{status: http.StatusInternalServerError, msg: "vllmtest: injected server error"}
			writeJSON(w, e.status, e.body(), false)
			return
		case s.nTrunc > 0:
			s.nTrunc--
			truncate = true
		}
		s.mu.Unlock()
	}

	var resp any
	var aerr *apiError
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/health":
		w.WriteHeader(http.StatusOK)
		return
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		resp = map[string]any{"object": "list", "data": []any{map[string]any{
			"id": s.model, "object": "model", "created": time.Now().Unix(), "owned_by": "vllm", "root": s.model, "max_model_len": s.maxModelLen,
		}}}
	case r.Method != http.MethodPost:
		aerr = &apiError{status: http.StatusMethodNotAllowed, raw: map[string]string{"detail": "Method Not Allowed"}}
	case r.URL.Path == "/v1/completions":
		resp, aerr = s.completions(r.Context(), body)
	case r.URL.Path == "/v1/chat/completions":
		resp, aerr = s.chat(r.Context(), body)
	case r.URL.Path == "/tokenize":
		resp, aerr = s.tokenize(body)
	case r.URL.Path == "/v1/embeddings":
		resp, aerr = s.embeddings(r.Context(), body)
	default:
		aerr = notFound
	}
	if aerr != nil {
		writeJSON(w, aerr.status, aerr.body(), false)
		return
	}
	writeJSON(w, http.StatusOK, resp, truncate)
}

func writeJSON(w http.ResponseWriter, status int, v any, truncate bool) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]any{"error": map[string]any{"message": "vllmtest: " + err.Error(), "type": "InternalServerError", "code": 500}})
	}
	if truncate {
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode decodes a request body into req and checks the model it names (*model, a field of req).
func (s *Server) decode(body []byte, req any, model *string) *apiError {
	if err := json.Unmarshal(body, req); err != nil {
		return badRequest("invalid request: %v", err)
	}
	if *model != "" && *model != s.model {
		return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("The model `%s` does not exist.", *model)}
	}
	return nil
}

// usageOf is a response's usage object.
func usageOf(prompt, completion int) map[string]any {
	return map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
}

func (s *Server) newID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return fmt.Sprintf("%s-%d", prefix, s.nextID)
}

func idsKey(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(int(id)))
		b.WriteByte(',')
	}
	return b.String()
}

// ---- /tokenize
