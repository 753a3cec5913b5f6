package assistant

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

// defaultLocalCtx is the context length of a gguf: assistant (prompt + answer), in tokens.
const defaultLocalCtx = 4096

// localProvider runs a GGUF instruct model in-process through llama.cpp: the messages go through
// the model's chat template (ChatML when it has none), the answer is sampled at the request's
// temperature with its seed (greedy at 0). JSON mode is an instruction in the system prompt.
// Calls are serialised by the model; they cost nothing.
type localProvider struct {
	ref string
	m   *llamacpp.Model
}

// openLocal loads gguf:PATH[?threads=N&ctx=N].
func openLocal(ref, rest string) (*localProvider, error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, fmt.Errorf("assistant %q: no model path", ref)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("assistant %q: %w", ref, err)
	}
	opts := llamacpp.Options{Path: path, Ctx: defaultLocalCtx, Parallel: 1}
	for key, vals := range q {
		var dst *int
		switch key {
		case "threads":
			dst = &opts.Threads
		case "ctx":
			dst = &opts.Ctx
		default:
			return nil, fmt.Errorf("assistant %q: unknown option %q (want threads or ctx)", ref, key)
		}
		v := vals[len(vals)-1]
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("assistant %q: %s=%q: want a whole number above 0", ref, key, v)
		}
		*dst = n
	}
	m, err := llamacpp.Load(opts)
	if err != nil {
		return nil, fmt.Errorf("assistant %q: %w", ref, err)
	}
	// threads and ctx do not change answers: they stay out of the reference (and the cache key).
	return &localProvider{ref: "gguf:" + path, m: m}, nil
}

func (p *localProvider) Ref() string { return p.ref }

func (p *localProvider) Close() error { return p.m.Close() }

func (p *localProvider) Chat(ctx context.Context, req Request) (Response, error) {
	msgs := make([]llamacpp.ChatMessage, 0, len(req.Messages)+1)
	for _, m := range req.Messages {
		switch m.Role {
		case System, User, Assistant:
			msgs = append(msgs, llamacpp.ChatMessage{Role: string(m.Role), Content: m.Content})
		default:
			return Response{}, fmt.Errorf("gguf: unknown message role %q", m.Role)
		}
	}
	if req.JSON {
		if len(msgs) > 0 && msgs[0].Role == string(System) {
			msgs[0].Content += "\n\n" + jsonInstruction
		} else {
			msgs = append([]llamacpp.ChatMessage{{Role: string(System), Content: jsonInstruction}}, msgs...)
		}
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	res, err := p.m.GenerateChat(ctx, msgs, llm.Sampling{Temperature: req.Temperature, MaxTokens: maxTokens}, req.Seed)
	if err != nil {
		return Response{}, fmt.Errorf("gguf: %w", err)
	}
	return Response{
		Text:         res.Completion,
		FinishReason: res.FinishReason,
		InputTokens:  res.PromptTokens,
		OutputTokens: res.CompletionTokens,
	}, nil
}
