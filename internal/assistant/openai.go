package assistant

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// openaiProvider speaks OpenAI's chat completions API (POST {base}/chat/completions) to OpenAI or
// to any OpenAI-compatible server, through openai-go with its retries off (Client retries).
type openaiProvider struct {
	name   string // openai or openai-compat
	ref    string
	base   string
	model  string
	key    string
	hosted bool // OpenAI itself: max_completion_tokens instead of max_tokens
	svc    openai.ChatCompletionService
}

func newOpenAI(name, ref, base, model, key string, hosted bool) *openaiProvider {
	opts := []option.RequestOption{
		option.WithHTTPClient(newHTTPClient()),
		option.WithBaseURL(strings.TrimRight(base, "/") + "/"),
		option.WithMaxRetries(0),
	}
	if key != "" {
		opts = append(opts, option.WithAPIKey(key))
	}
	return &openaiProvider{name: name, ref: ref, base: base, model: model, key: key, hosted: hosted, svc: openai.NewChatCompletionService(opts...)}
}

func (p *openaiProvider) Ref() string      { return p.ref }
func (p *openaiProvider) Endpoint() string { return p.base }

func (p *openaiProvider) Chat(ctx context.Context, req Request) (Response, error) {
	name := p.name
	var msgs []openai.ChatCompletionMessageParamUnion
	mentionsJSON := false
	for _, m := range req.Messages {
		mentionsJSON = mentionsJSON || strings.Contains(strings.ToLower(m.Content), "json")
		switch m.Role {
		case System:
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case User:
			msgs = append(msgs, openai.UserMessage(m.Content))
		case Assistant:
			msgs = append(msgs, openai.AssistantMessage(m.Content))
		default:
			return Response{}, fmt.Errorf("%s: unknown message role %q", name, m.Role)
		}
	}
	params := openai.ChatCompletionNewParams{
		Model:       p.model,
		Messages:    msgs,
		Temperature: openai.Float(req.Temperature), // sent even when 0
	}
	if req.MaxTokens > 0 {
		if p.hosted {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens)) // newer OpenAI models reject max_tokens
		} else {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	if req.Seed != 0 {
		params.Seed = openai.Int(int64(req.Seed & math.MaxInt64))
	}
	if req.JSON {
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
		if !mentionsJSON {
			// OpenAI refuses JSON mode unless a message mentions JSON.
			params.Messages = append([]openai.ChatCompletionMessageParamUnion{openai.SystemMessage(jsonInstruction)}, msgs...)
		}
	}
	ctx, info := withCallInfo(ctx)
	out, err := p.svc.New(ctx, params)
	if err != nil {
		return Response{}, wireError(name, p.key, info, err)
	}
	if len(out.Choices) == 0 {
		return Response{}, fmt.Errorf("%s: the answer has no choices", name)
	}
	ch := out.Choices[0]
	resp := Response{
		Text:         ch.Message.Content,
		FinishReason: ch.FinishReason,
		InputTokens:  int(out.Usage.PromptTokens),
		OutputTokens: int(out.Usage.CompletionTokens),
	}
	if ch.Message.Refusal != "" || ch.FinishReason == "content_filter" {
		resp.Refused = true
		if resp.Text == "" {
			resp.Text = ch.Message.Refusal
		}
	}
	if ch.FinishReason == "" && resp.Text == "" {
		return Response{}, fmt.Errorf("%s: the answer has neither text nor finish reason", name)
	}
	return resp, nil
}

// jsonInstruction is added where a provider's JSON mode needs the request to ask for JSON, or
// has no JSON mode.
const jsonInstruction = "Answer with a single JSON object and nothing else."
