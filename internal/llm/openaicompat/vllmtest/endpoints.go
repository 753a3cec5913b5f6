package vllmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mbd-dev/mbd/internal/llm"
)

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
	if e := s.decode(body, &req, &req.Model); e != nil {
		return nil, e
	}
	var text string
	special := true
	switch {
	case req.Messages != nil:
		t, e := s.chatPrompt(req.Messages)
		if e != nil {
			return nil, e
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

// genFields are the request fields /v1/completions and /v1/chat/completions share.
type genFields struct {
	Model             string          `json:"model"`
	Temperature       *float64        `json:"temperature"`
	TopP              *float64        `json:"top_p"`
	TopK              *int            `json:"top_k"`
	MinP              *float64        `json:"min_p"`
	RepetitionPenalty *float64        `json:"repetition_penalty"`
	Seed              *int64          `json:"seed"`
	Stop              json.RawMessage `json:"stop"`
	N                 *int            `json:"n"`
	Stream            bool            `json:"stream"`
}

type completionRequest struct {
	genFields
	Prompt         json.RawMessage `json:"prompt"`
	MaxTokens      json.RawMessage `json:"max_tokens"` // absent: 16; null: up to the context
	Logprobs       *int            `json:"logprobs"`
	Echo           bool            `json:"echo"`
	PromptLogprobs *int            `json:"prompt_logprobs"`
}

// decodeGen decodes a generation request into req, whose shared fields are f, and refuses what
// the fake does not do (another model, streaming, n > 1).
func (s *Server) decodeGen(body []byte, req any, f *genFields) *apiError {
	if e := s.decode(body, req, &f.Model); e != nil {
		return e
	}
	if f.Stream {
		return badRequest("vllmtest: streaming is not supported")
	}
	if f.N != nil && *f.N != 1 {
		return badRequest("vllmtest: only n=1 is supported")
	}
	return nil
}

// sampling maps the request's fields onto llm.Sampling with vLLM's defaults (temperature 1;
// max_tokens defMax when absent).
func (f *genFields) sampling(maxTokens *int, defMax int) (llm.Sampling, *apiError) {
	s := llm.Sampling{Temperature: 1, MaxTokens: defMax}
	if f.Temperature != nil {
		s.Temperature = *f.Temperature
	}
	if f.TopP != nil && *f.TopP < 1 {
		s.TopP = *f.TopP
	}
	if f.MinP != nil {
		s.MinP = *f.MinP
	}
	if f.RepetitionPenalty != nil && *f.RepetitionPenalty != 1 {
		s.RepetitionPenalty = *f.RepetitionPenalty
	}
	if f.TopK != nil && *f.TopK > 0 {
		s.TopK = *f.TopK
	}
	if maxTokens != nil {
		s.MaxTokens = *maxTokens
	}
	if len(f.Stop) > 0 && string(f.Stop) != "null" {
		var one string
		if json.Unmarshal(f.Stop, &one) == nil {
			s.Stop = []string{one}
		} else if err := json.Unmarshal(f.Stop, &s.Stop); err != nil {
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
	if e := s.decodeGen(body, &req, &req.genFields); e != nil {
		return nil, e
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
		usage = usageOf(n, 0)
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
		res, e := s.generate(ctx, text, &req.genFields, maxTokens, 16)
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
		usage = usageOf(res.PromptTokens, res.CompletionTokens)
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

// generate runs the wrapped model on prompt with the request's sampling settings (maxTokens, or
// defMax when nil) and seed.
func (s *Server) generate(ctx context.Context, prompt string, f *genFields, maxTokens *int, defMax int) (llm.GenResult, *apiError) {
	samp, e := f.sampling(maxTokens, defMax)
	if e != nil {
		return llm.GenResult{}, e
	}
	var sd uint64
	if f.Seed != nil {
		sd = uint64(*f.Seed)
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
	genFields
	Messages            []chatMessageParam `json:"messages"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	Logprobs            bool               `json:"logprobs"`
}

// chatPrompt turns chat messages into the prompt for the wrapped model through the chat template.
func (s *Server) chatPrompt(ps []chatMessageParam) (string, *apiError) {
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
			return "", badRequest("message %d: content must be a string or a list of text parts", i)
		}
		var b strings.Builder
		for _, part := range parts {
			if part.Type != "text" {
				return "", badRequest("message %d: only text content parts are supported", i)
			}
			b.WriteString(part.Text)
		}
		msgs[i].Content = b.String()
	}
	prompt, err := s.chatTemplate(msgs)
	if err != nil {
		return "", badRequest("%v", err)
	}
	return prompt, nil
}

func (s *Server) chat(ctx context.Context, body []byte) (any, *apiError) {
	var req chatRequest
	if e := s.decodeGen(body, &req, &req.genFields); e != nil {
		return nil, e
	}
	prompt, e := s.chatPrompt(req.Messages)
	if e != nil {
		return nil, e
	}
	maxTokens := req.MaxCompletionTokens
	if maxTokens == nil {
		maxTokens = req.MaxTokens
	}
	res, e := s.generate(ctx, prompt, &req.genFields, maxTokens, 0)
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
		"usage":           usageOf(res.PromptTokens, res.CompletionTokens),
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
	if e := s.decode(body, &req, &req.Model); e != nil {
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
