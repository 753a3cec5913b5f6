package assistant

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/genai"

	"github.com/mbd-dev/mbd/internal/endpoint"
)

// geminiProvider speaks the Gemini API (POST {base}/v1beta/models/MODEL:generateContent, key in
// the x-goog-api-key header) through google.golang.org/genai with the Gemini API backend; the SDK
// makes no retries unless asked to.
type geminiProvider struct {
	ref    string
	base   string
	model  string
	key    string
	models *genai.Models
}

func newGemini(ref, base, model, key string) (*geminiProvider, error) {
	cl, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      key,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  newHTTPClient(),
		HTTPOptions: genai.HTTPOptions{BaseURL: base},
	})
	if err != nil {
		return nil, endpoint.RedactErr(fmt.Errorf("gemini: %w", err), key)
	}
	return &geminiProvider{ref: ref, base: base, model: model, key: key, models: cl.Models}, nil
}

func (p *geminiProvider) Ref() string      { return p.ref }
func (p *geminiProvider) Endpoint() string { return p.base }

// geminiRefusals are the finish reasons that mean a safety or policy block.
var geminiRefusals = map[genai.FinishReason]bool{
	genai.FinishReasonSafety:            true,
	genai.FinishReasonProhibitedContent: true,
	genai.FinishReasonBlocklist:         true,
	genai.FinishReasonSPII:              true,
}

func (p *geminiProvider) Chat(ctx context.Context, req Request) (Response, error) {
	const name = "gemini"
	var system []string
	var contents []*genai.Content
	for _, m := range req.Messages {
		switch m.Role {
		case System:
			system = append(system, m.Content)
		case User:
			contents = append(contents, genai.NewContentFromText(m.Content, genai.RoleUser))
		case Assistant:
			contents = append(contents, genai.NewContentFromText(m.Content, genai.RoleModel))
		default:
			return Response{}, fmt.Errorf("%s: unknown message role %q", name, m.Role)
		}
	}
	if len(contents) == 0 {
		return Response{}, fmt.Errorf("%s: a request needs a user message besides the system instruction", name)
	}
	cfg := &genai.GenerateContentConfig{
		Temperature:     genai.Ptr(float32(req.Temperature)), // sent even when 0
		MaxOutputTokens: int32(req.MaxTokens),
	}
	if len(system) > 0 {
		cfg.SystemInstruction = genai.NewContentFromText(strings.Join(system, "\n\n"), genai.RoleUser)
	}
	if req.JSON {
		cfg.ResponseMIMEType = "application/json"
	}
	if req.Seed != 0 {
		cfg.Seed = genai.Ptr(int32(uint32(req.Seed)))
	}
	ctx, info := withCallInfo(ctx)
	out, err := p.models.GenerateContent(ctx, p.model, contents, cfg)
	if err != nil {
		return Response{}, wireError(name, p.key, info, err)
	}
	var resp Response
	if u := out.UsageMetadata; u != nil {
		resp.InputTokens = int(u.PromptTokenCount)
		resp.OutputTokens = int(u.CandidatesTokenCount + u.ThoughtsTokenCount)
	}
	if fb := out.PromptFeedback; fb != nil && fb.BlockReason != "" {
		resp.Refused = true
		resp.FinishReason = string(fb.BlockReason)
		resp.Text = fb.BlockReasonMessage
		return resp, nil
	}
	if len(out.Candidates) == 0 || out.Candidates[0] == nil {
		return Response{}, fmt.Errorf("%s: the answer has no candidates", name)
	}
	cand := out.Candidates[0]
	if cand.FinishReason == "" && cand.Content == nil {
		return Response{}, fmt.Errorf("%s: the answer has neither content nor finish reason", name)
	}
	resp.FinishReason = string(cand.FinishReason)
	resp.Refused = geminiRefusals[cand.FinishReason]
	if cand.Content != nil {
		var text strings.Builder
		for _, part := range cand.Content.Parts {
			if part != nil && !part.Thought {
				text.WriteString(part.Text)
			}
		}
		resp.Text = text.String()
	}
	return resp, nil
}
