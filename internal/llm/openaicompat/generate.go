package openaicompat

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/mbd-dev/mbd/internal/llm"
)

// Generate sends one request per GenRequest, at most Concurrency in flight, and calls yield (never
// concurrently) as each finishes. Temperature and seed are always sent; top_p and stop when set;
// max_tokens when set (MaxTokens 0, "off", is sent as null on /v1/completions, where an absent
// value means 16, and omitted on chat); top_k, min_p and repetition_penalty (vLLM extensions) only when they are not "off".
// Output-token log-probabilities are requested unless Config.NoLogprobs; HasLogprob is set only
// when the server returned them.
func (c *Client) Generate(ctx context.Context, reqs []llm.GenRequest, s llm.Sampling, yield func(llm.GenResult) error) error {
	if s.Temperature < 0 || s.TopP < 0 || s.MinP < 0 || s.MaxTokens < 0 || s.TopK < 0 || s.RepetitionPenalty < 0 {
		return fmt.Errorf("openai-compat %s: invalid sampling settings %+v", c.base, s)
	}
	results := make([]llm.GenResult, len(reqs))
	var mu sync.Mutex
	var stopped bool
	return c.parallel(ctx, len(reqs), func(ctx context.Context, i int) (err error) {
		if c.cfg.Chat {
			results[i], err = c.generateChat(ctx, reqs[i], s)
		} else {
			results[i], err = c.generateCompletion(ctx, reqs[i], s)
		}
		return err
	}, func(i int) error {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return nil
		}
		if err := yield(results[i]); err != nil {
			stopped = true
			return err
		}
		return nil
	})
}

// extraSampling returns the non-standard sampling fields vLLM understands, only those in effect.
func extraSampling(s llm.Sampling) map[string]any {
	extra := map[string]any{}
	if s.TopK > 0 {
		extra["top_k"] = s.TopK
	}
	if s.MinP > 0 {
		extra["min_p"] = s.MinP
	}
	if s.RepetitionPenalty != 0 && s.RepetitionPenalty != 1 {
		extra["repetition_penalty"] = s.RepetitionPenalty
	}
	return extra
}

func (c *Client) generateCompletion(ctx context.Context, r llm.GenRequest, s llm.Sampling) (llm.GenResult, error) {
	p := openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel(c.cfg.Model),
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(r.Prompt)},
		Temperature: openai.Float(s.Temperature),
		Seed:        openai.Int(int64(r.Seed)),
	}
	if s.MaxTokens > 0 {
		p.MaxTokens = openai.Int(int64(s.MaxTokens))
	} else {
		// "Off": an explicit null, because an absent max_tokens means 16 on /v1/completions
		// (OpenAI's default, kept by vLLM), while null lets vLLM fill the context.
		p.MaxTokens = param.Null[int64]()
	}
	if s.TopP > 0 {
		p.TopP = openai.Float(s.TopP)
	}
	if len(s.Stop) > 0 {
		p.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: s.Stop}
	}
	if !c.cfg.NoLogprobs {
		p.Logprobs = openai.Int(0) // the sampled token's log-prob only
	}
	if extra := extraSampling(s); len(extra) > 0 {
		p.SetExtraFields(extra)
	}
	resp, err := request(ctx, c, "/completions", c.complSvc.New, p)
	if err != nil {
		return llm.GenResult{}, err
	}
	if len(resp.Choices) == 0 {
		return llm.GenResult{}, fmt.Errorf("%s: the response has no choices", c.where("/completions"))
	}
	ch := resp.Choices[0]
	res := genResult(r.ID, ch.Text, string(ch.FinishReason), resp.Usage)
	if !c.cfg.NoLogprobs && ch.JSON.Logprobs.Valid() {
		res.LogprobSum, res.HasLogprob = sumLogprobs(ch.Logprobs.JSON.TokenLogprobs.Raw())
	}
	return res, nil
}

func (c *Client) chatMessages(prompt string) []openai.ChatCompletionMessageParamUnion {
	var msgs []openai.ChatCompletionMessageParamUnion
	if c.cfg.SystemPrompt != "" {
		msgs = append(msgs, openai.SystemMessage(c.cfg.SystemPrompt))
	}
	return append(msgs, openai.UserMessage(prompt))
}

func (c *Client) generateChat(ctx context.Context, r llm.GenRequest, s llm.Sampling) (llm.GenResult, error) {
	p := openai.ChatCompletionNewParams{
		Model:       c.cfg.Model,
		Messages:    c.chatMessages(r.Prompt),
		Temperature: openai.Float(s.Temperature),
		Seed:        openai.Int(int64(r.Seed)),
	}
	if s.MaxTokens > 0 {
		if c.hosted {
			p.MaxCompletionTokens = openai.Int(int64(s.MaxTokens)) // newer OpenAI models reject max_tokens
		} else {
			p.MaxTokens = openai.Int(int64(s.MaxTokens))
		}
	}
	if s.TopP > 0 {
		p.TopP = openai.Float(s.TopP)
	}
	if len(s.Stop) > 0 {
		p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: s.Stop}
	}
	if !c.cfg.NoLogprobs {
		p.Logprobs = openai.Bool(true)
	}
	if extra := extraSampling(s); len(extra) > 0 {
		p.SetExtraFields(extra)
	}
	resp, err := request(ctx, c, "/chat/completions", c.chatSvc.New, p)
	if err != nil {
		return llm.GenResult{}, err
	}
	if len(resp.Choices) == 0 {
		return llm.GenResult{}, fmt.Errorf("%s: the response has no choices", c.where("/chat/completions"))
	}
	ch := resp.Choices[0]
	res := genResult(r.ID, ch.Message.Content, ch.FinishReason, resp.Usage)
	if !c.cfg.NoLogprobs && ch.JSON.Logprobs.Valid() && ch.Logprobs.JSON.Content.Valid() {
		var items []struct {
			Logprob *float64 `json:"logprob"`
		}
		if json.Unmarshal([]byte(ch.Logprobs.JSON.Content.Raw()), &items) == nil {
			res.HasLogprob = true
			for _, it := range items {
				if it.Logprob == nil {
					res.HasLogprob = false
					break
				}
				res.LogprobSum += *it.Logprob
			}
			if !res.HasLogprob {
				res.LogprobSum = 0
			}
		}
	}
	return res, nil
}

// genResult is the result of request id from the text and finish reason of a response's first
// choice and the response's usage (both APIs report the same usage object).
func genResult(id, text, finish string, u openai.CompletionUsage) llm.GenResult {
	return llm.GenResult{
		ID:               id,
		Completion:       text,
		PromptTokens:     int(u.PromptTokens),
		CompletionTokens: int(u.CompletionTokens),
		FinishReason:     finishReason(finish),
	}
}

// sumLogprobs sums a raw JSON token_logprobs list; false when it is absent, null, malformed or
// has null entries.
func sumLogprobs(raw string) (float64, bool) {
	if raw == "" || raw == "null" {
		return 0, false
	}
	var lps []*float64
	if json.Unmarshal([]byte(raw), &lps) != nil {
		return 0, false
	}
	sum := 0.0
	for _, lp := range lps {
		if lp == nil {
			return 0, false
		}
		sum += *lp
	}
	return sum, true
}

// finishReason maps OpenAI/vLLM finish reasons onto llm's stop/length; other values (e.g.
// content_filter, abort) pass through.
func finishReason(r string) string {
	switch r {
	case "length":
		return "length"
	case "stop", "eos", "eos_token", "stop_sequence", "end_turn", "":
		return "stop"
	}
	return r
}
