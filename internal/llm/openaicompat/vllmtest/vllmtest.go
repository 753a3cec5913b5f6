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
	"context"
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

func (s *Server) checkModel(name string) *apiError {
	if name != "" && name != s.model {
		return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("The model `%s` does not exist.", name)}
	}
	return nil
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

type tokenizeRequest struct {
	Model               string             `json:"model"`
	Prompt              *string            `json:"prompt"`
	Messages            []chatMessageParam `json:"messages"`
	AddSpecialTokens    *bool              `json:"add_special_tokens"`
	AddGenerationPrompt *bool              `json:"add_generation_prompt"`
}

func (s *Server) tokenize(body []byte) (any, *apiError) {
	if s.tok == nil || s.noTokenize {
		return nil, notFound
	}
	var req tokenizeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("invalid request: %v", err)
	}
	if e := s.checkModel(req.Model); e != nil {
		return nil, e
	}
	var text string
	special := true
	switch {
	case req.Messages != nil:
		msgs, e := toChatMessages(req.Messages)
		if e != nil {
			return nil, e
		}
		t, err := s.chatTemplate(msgs)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		text = t // tokenized with special tokens: see the package comment
	case req.Prompt != nil:
		text = *req.Prompt
		if req.AddSpecialTokens != nil {
			special = *req.AddSpecialTokens
		}
	default:
		return nil, badRequest("either prompt or messages is required")
	}
	ids, err := s.tok.Tokenize(text, special)
	if err != nil {
		return nil, &apiError{status: http.StatusInternalServerError, msg: "tokenize: " + err.Error()}
	}
	s.mu.Lock()
	if special {
		s.promptToks[idsKey(ids)] = text
	} else {
		s.complToks[idsKey(ids)] = text
	}
	s.mu.Unlock()
	if ids == nil {
		ids = []int32{}
	}
	return map[string]any{"count": len(ids), "max_model_len": s.maxModelLen, "tokens": ids, "token_strs": nil}, nil
}

// ---- /v1/completions

type completionRequest struct {
	Model             string          `json:"model"`
	Prompt            json.RawMessage `json:"prompt"`
	MaxTokens         json.RawMessage `json:"max_tokens"` // absent: 16; null: up to the context
	Temperature       *float64        `json:"temperature"`
	TopP              *float64        `json:"top_p"`
	TopK              *int            `json:"top_k"`
	MinP              *float64        `json:"min_p"`
	RepetitionPenalty *float64        `json:"repetition_penalty"`
	Seed              *int64          `json:"seed"`
	Stop              json.RawMessage `json:"stop"`
	Logprobs          *int            `json:"logprobs"`
	Echo              bool            `json:"echo"`
	PromptLogprobs    *int            `json:"prompt_logprobs"`
	N                 *int            `json:"n"`
	Stream            bool            `json:"stream"`
}

// sampling maps request fields onto llm.Sampling with vLLM's defaults (temperature 1,
// max_tokens 16 for completions).
func sampling(temp, topP, minP, rep *float64, topK, maxTokens *int, stop json.RawMessage, defMax int) (llm.Sampling, *apiError) {
	s := llm.Sampling{Temperature: 1, MaxTokens: defMax}
	if temp != nil {
		s.Temperature = *temp
	}
	if topP != nil && *topP < 1 {
		s.TopP = *topP
	}
	if minP != nil {
		s.MinP = *minP
	}
	if rep != nil && *rep != 1 {
		s.RepetitionPenalty = *rep
	}
	if topK != nil && *topK > 0 {
		s.TopK = *topK
	}
	if maxTokens != nil {
		s.MaxTokens = *maxTokens
	}
	if len(stop) > 0 && string(stop) != "null" {
		var one string
		if json.Unmarshal(stop, &one) == nil {
			s.Stop = []string{one}
		} else if err := json.Unmarshal(stop, &s.Stop); err != nil {
			return s, badRequest("stop must be a string or a list of strings")
		}
	}
	return s, nil
}

// promptOf decodes a completions prompt: a string, a list of token ids, or a one-element list.
func promptOf(raw json.RawMessage) (text string, ids []int32, isIDs bool, e *apiError) {
	if json.Unmarshal(raw, &text) == nil {
		return text, nil, false, nil
	}
	var ids64 []int64
	if json.Unmarshal(raw, &ids64) == nil && len(ids64) > 0 {
		ids = make([]int32, len(ids64))
		for i, id := range ids64 {
			ids[i] = int32(id)
		}
		return "", ids, true, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil && len(texts) == 1 {
		return texts[0], nil, false, nil
	}
	var idLists [][]int64
	if json.Unmarshal(raw, &idLists) == nil && len(idLists) == 1 {
		return promptOf(mustJSON(idLists[0]))
	}
	return "", nil, false, badRequest("vllmtest: prompt must be a string, a list of token ids, or a one-element list of either (batched prompts are not supported)")
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (s *Server) completions(ctx context.Context, body []byte) (any, *apiError) {
	var req completionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("invalid request: %v", err)
	}
	if e := s.checkModel(req.Model); e != nil {
		return nil, e
	}
	if req.Stream {
		return nil, badRequest("vllmtest: streaming is not supported")
	}
	if req.N != nil && *req.N != 1 {
		return nil, badRequest("vllmtest: only n=1 is supported")
	}
	if len(req.Prompt) == 0 {
		return nil, badRequest("prompt is required")
	}
	text, ids, isIDs, e := promptOf(req.Prompt)
	if e != nil {
		return nil, e
	}
	if isIDs {
		if s.tok == nil {
			return nil, badRequest("vllmtest: token-id prompts need WithTokenizer")
		}
		t, err := s.tok.Detokenize(ids)
		if err != nil {
			return nil, badRequest("vllmtest: detokenize: %v", err)
		}
		text = t
	}
	id := s.newID("cmpl")
	choice := map[string]any{"index": 0, "logprobs": nil, "stop_reason": nil, "prompt_logprobs": nil}
	usage := map[string]any{}
	maxTokens := new(int)
	switch string(req.MaxTokens) {
	case "":
		*maxTokens = 16 // OpenAI's and vLLM's default for /v1/completions
	case "null":
		*maxTokens = 0 // llm.Sampling's "off": up to the context
	default:
		if err := json.Unmarshal(req.MaxTokens, maxTokens); err != nil || *maxTokens < 0 {
			return nil, badRequest("max_tokens must be a non-negative integer")
		}
	}
	if req.Echo && *maxTokens == 0 && string(req.MaxTokens) != "null" {
		// vLLM: echo without generation, the scoring path.
		pl := req.PromptLogprobs
		if pl == nil {
			pl = req.Logprobs
		}
		choice["text"] = text
		choice["finish_reason"] = "length"
		n := len(ids)
		if !isIDs && s.tok != nil {
			if t, err := s.tok.Tokenize(text, true); err == nil {
				n = len(t)
			}
		}
		usage = map[string]any{"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n}
		if s.noPromptLogprobs {
			delete(choice, "prompt_logprobs")
		} else if pl != nil {
			if !isIDs {
				return nil, badRequest("vllmtest: prompt_logprobs needs a token-id prompt made of this server's /tokenize results")
			}
			lps, e := s.promptLogprobs(ctx, ids)
			if e != nil {
				return nil, e
			}
			choice["prompt_logprobs"] = lps
		}
	} else {
		samp, e := sampling(req.Temperature, req.TopP, req.MinP, req.RepetitionPenalty, req.TopK, maxTokens, req.Stop, 16)
		if e != nil {
			return nil, e
		}
		res, e := s.generate(ctx, text, req.Seed, samp)
		if e != nil {
			return nil, e
		}
		choice["text"] = res.Completion
		if req.Echo {
			choice["text"] = text + res.Completion
		}
		choice["finish_reason"] = res.FinishReason
		if req.Logprobs != nil && res.HasLogprob {
			n := res.CompletionTokens
			lp := make([]float64, n)
			toks := make([]string, n)
			offs := make([]int, n)
			top := make([]map[string]float64, n)
			if n > 0 {
				lp[0] = res.LogprobSum
			}
			for i := range top {
				top[i] = map[string]float64{}
			}
			choice["logprobs"] = map[string]any{"text_offset": offs, "token_logprobs": lp, "tokens": toks, "top_logprobs": top}
		}
		usage = map[string]any{"prompt_tokens": res.PromptTokens, "completion_tokens": res.CompletionTokens, "total_tokens": res.PromptTokens + res.CompletionTokens}
	}
	return map[string]any{
		"id": id, "object": "text_completion", "created": time.Now().Unix(), "model": s.model,
		"choices": []any{choice}, "usage": usage,
	}, nil
}

type logprobEntry struct {
	Logprob      float64 `json:"logprob"`
	Rank         *int    `json:"rank"`
	DecodedToken string  `json:"decoded_token"`
}

// promptLogprobs maps a token-id prompt back to (prompt, completion) texts through earlier
// /tokenize results and scores the completion part with the wrapped model. Every split that
// matches is scored (their positions overlap consistently), so an ambiguous concatenation still
// covers the positions any client means.
func (s *Server) promptLogprobs(ctx context.Context, ids []int32) ([]map[string]logprobEntry, *apiError) {
	type split struct {
		k            int
		prompt, cmpl string
	}
	var splits []split
	s.mu.Lock()
	for k := 1; k < len(ids); k++ {
		p, ok := s.promptToks[idsKey(ids[:k])]
		if !ok {
			continue
		}
		if c, ok := s.complToks[idsKey(ids[k:])]; ok {
			splits = append(splits, split{k, p, c})
		}
	}
	s.mu.Unlock()
	if len(splits) == 0 {
		return nil, badRequest("vllmtest: cannot map the token-id prompt back to texts: it must be a /tokenize result with special tokens followed by one without")
	}
	out := make([]map[string]logprobEntry, len(ids))
	for _, sp := range splits {
		res, err := s.m.Score(ctx, []llm.ScoreRequest{{ID: "0", Prompt: sp.prompt, Completion: sp.cmpl}})
		if err != nil {
			if errors.Is(err, llm.ErrCannotScore) {
				return nil, badRequest("%v", err)
			}
			return nil, &apiError{status: http.StatusInternalServerError, msg: "score: " + err.Error()}
		}
		if len(res) != 1 {
			return nil, &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf("vllmtest: Score returned %d results for 1 request", len(res))}
		}
		if len(res[0].Logprobs) != len(ids)-sp.k {
			return nil, &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf("vllmtest: the model scored %d completion tokens, the tokenizer made %d", len(res[0].Logprobs), len(ids)-sp.k)}
		}
		for j, lp := range res[0].Logprobs {
			pos := sp.k + j
			if len(res[0].Tokens) == len(res[0].Logprobs) && res[0].Tokens[j] != ids[pos] {
				return nil, &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf("vllmtest: the model's token %d at position %d differs from the tokenizer's %d", res[0].Tokens[j], pos, ids[pos])}
			}
			if out[pos] != nil {
				continue
			}
			dec, _ := s.tok.Detokenize(ids[pos : pos+1])
			out[pos] = map[string]logprobEntry{strconv.Itoa(int(ids[pos])): {Logprob: lp, DecodedToken: dec}}
		}
	}
	return out, nil
}

func (s *Server) generate(ctx context.Context, prompt string, seed *int64, samp llm.Sampling) (llm.GenResult, *apiError) {
	var sd uint64
	if seed != nil {
		sd = uint64(*seed)
	}
	var got *llm.GenResult
	err := s.m.Generate(ctx, []llm.GenRequest{{ID: "0", Prompt: prompt, Seed: sd}}, samp, func(r llm.GenResult) error {
		got = &r
		return nil
	})
	if err != nil {
		return llm.GenResult{}, &apiError{status: http.StatusInternalServerError, msg: "generate: " + err.Error()}
	}
	if got == nil {
		return llm.GenResult{}, &apiError{status: http.StatusInternalServerError, msg: "generate: no result"}
	}
	return *got, nil
}

// ---- /v1/chat/completions

type chatMessageParam struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatRequest struct {
	Model               string             `json:"model"`
	Messages            []chatMessageParam `json:"messages"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	Temperature         *float64           `json:"temperature"`
	TopP                *float64           `json:"top_p"`
	TopK                *int               `json:"top_k"`
	MinP                *float64           `json:"min_p"`
	RepetitionPenalty   *float64           `json:"repetition_penalty"`
	Seed                *int64             `json:"seed"`
	Stop                json.RawMessage    `json:"stop"`
	Logprobs            bool               `json:"logprobs"`
	N                   *int               `json:"n"`
	Stream              bool               `json:"stream"`
}

func toChatMessages(ps []chatMessageParam) ([]ChatMessage, *apiError) {
	msgs := make([]ChatMessage, len(ps))
	for i, p := range ps {
		msgs[i].Role = p.Role
		var text string
		if json.Unmarshal(p.Content, &text) == nil {
			msgs[i].Content = text
			continue
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(p.Content, &parts); err != nil {
			return nil, badRequest("message %d: content must be a string or a list of text parts", i)
		}
		var b strings.Builder
		for _, part := range parts {
			if part.Type != "text" {
				return nil, badRequest("message %d: only text content parts are supported", i)
			}
			b.WriteString(part.Text)
		}
		msgs[i].Content = b.String()
	}
	return msgs, nil
}

func (s *Server) chat(ctx context.Context, body []byte) (any, *apiError) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("invalid request: %v", err)
	}
	if e := s.checkModel(req.Model); e != nil {
		return nil, e
	}
	if req.Stream {
		return nil, badRequest("vllmtest: streaming is not supported")
	}
	if req.N != nil && *req.N != 1 {
		return nil, badRequest("vllmtest: only n=1 is supported")
	}
	msgs, e := toChatMessages(req.Messages)
	if e != nil {
		return nil, e
	}
	prompt, err := s.chatTemplate(msgs)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	maxTokens := req.MaxCompletionTokens
	if maxTokens == nil {
		maxTokens = req.MaxTokens
	}
	samp, e := sampling(req.Temperature, req.TopP, req.MinP, req.RepetitionPenalty, req.TopK, maxTokens, req.Stop, 0)
	if e != nil {
		return nil, e
	}
	res, e := s.generate(ctx, prompt, req.Seed, samp)
	if e != nil {
		return nil, e
	}
	choice := map[string]any{
		"index":         0,
		"message":       map[string]any{"role": "assistant", "content": res.Completion, "tool_calls": []any{}},
		"logprobs":      nil,
		"finish_reason": res.FinishReason,
		"stop_reason":   nil,
	}
	if req.Logprobs && res.HasLogprob {
		content := make([]map[string]any, res.CompletionTokens)
		for i := range content {
			lp := 0.0
			if i == 0 {
				lp = res.LogprobSum
			}
			content[i] = map[string]any{"token": "", "logprob": lp, "bytes": []int{}, "top_logprobs": []any{}}
		}
		choice["logprobs"] = map[string]any{"content": content}
	}
	return map[string]any{
		"id": s.newID("chatcmpl"), "object": "chat.completion", "created": time.Now().Unix(), "model": s.model,
		"choices":         []any{choice},
		"usage":           map[string]any{"prompt_tokens": res.PromptTokens, "completion_tokens": res.CompletionTokens, "total_tokens": res.PromptTokens + res.CompletionTokens},
		"prompt_logprobs": nil,
	}, nil
}

// ---- /v1/embeddings

func (s *Server) embeddings(ctx context.Context, body []byte) (any, *apiError) {
	if s.noEmbed {
		return nil, notFound
	}
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("invalid request: %v", err)
	}
	if e := s.checkModel(req.Model); e != nil {
		return nil, e
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" {
		return nil, badRequest("vllmtest: only encoding_format float is supported")
	}
	var texts []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(req.Input, &texts); err != nil {
		return nil, badRequest("vllmtest: input must be a string or a list of strings")
	}
	vecs, err := s.m.Embed(ctx, texts)
	if err != nil {
		if errors.Is(err, llm.ErrCannotEmbed) {
			return nil, notFound
		}
		return nil, &apiError{status: http.StatusInternalServerError, msg: "embed: " + err.Error()}
	}
	data := make([]any, len(vecs))
	for i, v := range vecs {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
	}
	return map[string]any{
		"id": s.newID("embd"), "object": "list", "created": time.Now().Unix(), "model": s.model, "data": data,
		"usage": map[string]any{"prompt_tokens": 0, "total_tokens": 0},
	}, nil
}
