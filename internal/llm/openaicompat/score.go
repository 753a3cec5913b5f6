package openaicompat

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/mbd-dev/mbd/internal/llm"
)

// Score computes log p(completion | prompt) the vLLM way: the prompt (with special tokens, or
// chat-templated with the system prompt when Chat is set) and the completion (without special
// tokens) are tokenized with the server's POST /tokenize, and the concatenated token ids are sent
// to /v1/completions with echo, max_tokens 0 and prompt_logprobs 0; the completion positions of
// choices[0].prompt_logprobs are the answer. Servers without /tokenize or prompt_logprobs give an
// error wrapping llm.ErrCannotScore.
func (c *Client) Score(ctx context.Context, reqs []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	if c.hosted {
		return nil, fmt.Errorf("%w: %s does not return prompt log-probabilities", llm.ErrCannotScore, c.base)
	}
	out := make([]llm.ScoreResult, len(reqs))
	err := c.parallel(ctx, len(reqs), func(ctx context.Context, i int) error {
		r, err := c.scoreOne(ctx, reqs[i])
		out[i] = r
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Client) scoreOne(ctx context.Context, r llm.ScoreRequest) (llm.ScoreResult, error) {
	var promptIDs []int32
	var err error
	if c.cfg.Chat {
		promptIDs, err = c.tokenize(ctx, tokKey{text: r.Prompt, chat: true})
	} else {
		promptIDs, err = c.tokenize(ctx, tokKey{text: r.Prompt, special: true})
	}
	if err != nil {
		return llm.ScoreResult{}, err
	}
	complIDs, err := c.tokenize(ctx, tokKey{text: r.Completion})
	if err != nil {
		return llm.ScoreResult{}, err
	}
	res := llm.ScoreResult{ID: r.ID, Tokens: append([]int32{}, complIDs...), Logprobs: make([]float64, len(complIDs))}
	if len(complIDs) == 0 {
		return res, nil
	}
	if len(promptIDs) == 0 {
		return llm.ScoreResult{}, fmt.Errorf("%s: the prompt tokenized to nothing, so the first completion token has no context (model without a BOS token?)", c.where("/tokenize"))
	}
	ids := make([]int64, 0, len(promptIDs)+len(complIDs))
	for _, id := range promptIDs {
		ids = append(ids, int64(id))
	}
	for _, id := range complIDs {
		ids = append(ids, int64(id))
	}
	p := openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel(c.cfg.Model),
		Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: ids},
		MaxTokens:   openai.Int(0),
		Echo:        openai.Bool(true),
		Temperature: openai.Float(0),
	}
	p.SetExtraFields(map[string]any{"prompt_logprobs": 0})
	resp, err := request(ctx, c, "/completions", c.complSvc.New, p)
	if err != nil {
		return llm.ScoreResult{}, err
	}
	where := c.where("/completions")
	if len(resp.Choices) == 0 {
		return llm.ScoreResult{}, fmt.Errorf("%s: the response has no choices", where)
	}
	raw := resp.Choices[0].JSON.ExtraFields["prompt_logprobs"].Raw()
	if raw == "" || raw == "null" {
		return llm.ScoreResult{}, fmt.Errorf("%w: %s returned no prompt_logprobs (vLLM does; llama.cpp server, ollama and hosted APIs do not)", llm.ErrCannotScore, c.base)
	}
	var pl []map[string]struct {
		Logprob *float64 `json:"logprob"`
	}
	if err := json.Unmarshal([]byte(raw), &pl); err != nil {
		return llm.ScoreResult{}, fmt.Errorf("%s: malformed prompt_logprobs: %v", where, err)
	}
	if len(pl) != len(ids) {
		return llm.ScoreResult{}, fmt.Errorf("%s: prompt_logprobs has %d entries for %d prompt tokens", where, len(pl), len(ids))
	}
	for j, id := range complIDs {
		pos := len(promptIDs) + j
		entry := pl[pos]
		if entry == nil {
			return llm.ScoreResult{}, fmt.Errorf("%s: prompt_logprobs[%d] is null (prefix caching?)", where, pos)
		}
		lp, ok := entry[strconv.Itoa(int(id))]
		if !ok || lp.Logprob == nil {
			return llm.ScoreResult{}, fmt.Errorf("%s: prompt_logprobs[%d] has no log-prob for the actual token %d", where, pos, id)
		}
		res.Logprobs[j] = *lp.Logprob
		res.Sum += *lp.Logprob
	}
	res.Mean = res.Sum / float64(len(res.Logprobs))
	return res, nil
}

// tokKey identifies one tokenization: plain text with or without special tokens, or the chat
// template applied to the system prompt and text as the user message.
type tokKey struct {
	text    string
	special bool
	chat    bool
}

const tokCacheMax = 4096

type tokenizeRequest struct {
	Model               string            `json:"model"`
	Prompt              *string           `json:"prompt,omitempty"`
	Messages            []tokenizeMessage `json:"messages,omitempty"`
	AddGenerationPrompt *bool             `json:"add_generation_prompt,omitempty"`
	AddSpecialTokens    bool              `json:"add_special_tokens"`
}

type tokenizeMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// tokenize calls vLLM's POST {root}/tokenize (root: the base URL without /v1), caching results
// (scoring usually pairs one prompt with many completions).
func (c *Client) tokenize(ctx context.Context, k tokKey) ([]int32, error) {
	c.tokMu.Lock()
	ids, ok := c.tokCache[k]
	c.tokMu.Unlock()
	if ok {
		return ids, nil
	}
	req := tokenizeRequest{Model: c.cfg.Model, AddSpecialTokens: k.special}
	if k.chat {
		// Like vLLM's chat endpoint: the template carries the special tokens.
		yes := true
		req.AddGenerationPrompt = &yes
		if c.cfg.SystemPrompt != "" {
			req.Messages = append(req.Messages, tokenizeMessage{Role: "system", Content: c.cfg.SystemPrompt})
		}
		req.Messages = append(req.Messages, tokenizeMessage{Role: "user", Content: k.text})
	} else {
		req.Prompt = &k.text
	}
	var resp struct {
		Tokens *[]int64 `json:"tokens"`
	}
	path := c.root + "/tokenize"
	err := c.call(ctx, path, func(ctx context.Context, opts ...option.RequestOption) error {
		opts = append([]option.RequestOption{option.WithBaseURL(c.root + "/")}, opts...)
		return c.api.Post(ctx, "tokenize", req, &resp, opts...)
	})
	if err != nil {
		switch statusOf(err) {
		case 400, 404, 405, 422, 501:
			return nil, fmt.Errorf("%w: scoring needs vLLM's /tokenize endpoint, which failed: %w", llm.ErrCannotScore, err)
		}
		return nil, err
	}
	if resp.Tokens == nil {
		return nil, fmt.Errorf("%w: %s: /tokenize answered without a \"tokens\" list (not a vLLM server?)", llm.ErrCannotScore, c.root)
	}
	ids = make([]int32, len(*resp.Tokens))
	for i, id := range *resp.Tokens {
		if id < 0 || id > 1<<31-1 {
			return nil, fmt.Errorf("%s: /tokenize returned token id %d out of range", c.root, id)
		}
		ids[i] = int32(id)
	}
	c.tokMu.Lock()
	if len(c.tokCache) >= tokCacheMax {
		clear(c.tokCache)
	}
	c.tokCache[k] = ids
	c.tokMu.Unlock()
	return ids, nil
}
