package assistant

import (
	"context"
	"fmt"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// anthropicProvider speaks Anthropic's Messages API (POST {base}/v1/messages) through
// anthropic-sdk-go v2 with its retries off (Client retries) and nothing read from the environment
// by the SDK (Open reads the key and the base URL).
//
// The Messages API of SDK v2 (API version 2026-10-21) has no temperature or seed: requests are
// sent without them, and determinism for judges rests on the cache. JSON mode is an instruction
// appended to the system prompt (Anthropic's structured outputs need a full JSON schema).
type anthropicProvider struct {
	ref   string
	base  string
	model string
	key   string
	msgs  anthropic.MessageService
}

func newAnthropic(ref, base, model, key string) *anthropicProvider {
	cl := anthropic.NewClient(
		option.WithoutEnvironmentDefaults(),
		option.WithHTTPClient(newHTTPClient()),
		option.WithBaseURL(base),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
	)
	return &anthropicProvider{ref: ref, base: base, model: model, key: key, msgs: cl.Messages}
}

func (p *anthropicProvider) Ref() string      { return p.ref }
func (p *anthropicProvider) Endpoint() string { return p.base }

func (p *anthropicProvider) Chat(ctx context.Context, req Request) (Response, error) {
	const name = "anthropic"
	var system []string
	var msgs []anthropic.MessageParam
	for _, m := range req.Messages {
		switch m.Role {
		case System:
			system = append(system, m.Content)
		case User:
			msgs = append(msgs, anthropic.NewUserMessage(anthropic.NewTextBlock(m.Content)))
		case Assistant:
			msgs = append(msgs, anthropic.NewAssistantMessage(anthropic.NewTextBlock(m.Content)))
		default:
			return Response{}, fmt.Errorf("%s: unknown message role %q", name, m.Role)
		}
	}
	if len(msgs) == 0 {
		return Response{}, fmt.Errorf("%s: a request needs a user message besides the system prompt", name)
	}
	if req.JSON {
		system = append(system, jsonInstruction)
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	params := anthropic.MessageNewParams{
		Model:     p.model,
		MaxTokens: int64(maxTokens),
		Messages:  msgs,
	}
	if len(system) > 0 {
		params.System = []anthropic.TextBlockParam{{Text: strings.Join(system, "\n\n")}}
	}
	ctx, info := withCallInfo(ctx)
	out, err := p.msgs.New(ctx, params)
	if err != nil {
		return Response{}, wireError(name, p.key, info, err)
	}
	if out.StopReason == "" {
		return Response{}, fmt.Errorf("%s: the answer has no stop_reason", name)
	}
	var text strings.Builder
	for _, b := range out.Content {
		if b.Type == "text" {
			text.WriteString(b.Text)
		}
	}
	u := out.Usage
	resp := Response{
		Text:         text.String(),
		FinishReason: string(out.StopReason),
		Refused:      out.StopReason == anthropic.StopReasonRefusal,
		InputTokens:  int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens),
		OutputTokens: int(u.OutputTokens),
	}
	if resp.Refused && resp.Text == "" {
		resp.Text = out.StopDetails.Explanation
	}
	return resp, nil
}
