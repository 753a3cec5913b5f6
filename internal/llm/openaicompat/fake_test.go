package openaicompat_test

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mbd-dev/mbd/internal/llm"
)

// fakeTok is a character tokenizer: id = rune + 10, BOS = 1.
type fakeTok struct{}

const bos = 1

func (fakeTok) Tokenize(text string, addSpecial bool) ([]int32, error) {
	var ids []int32
	if addSpecial {
		ids = append(ids, bos)
	}
	for _, r := range text {
		ids = append(ids, int32(r)+10)
	}
	return ids, nil
}

func (fakeTok) Detokenize(ids []int32) (string, error) {
	var b strings.Builder
	for _, id := range ids {
		if id < 10 {
			continue
		}
		b.WriteRune(rune(id - 10))
	}
	return b.String(), nil
}

// fakeModel is a deterministic llm.Model.
type fakeModel struct{}

func (fakeModel) Generate(ctx context.Context, reqs []llm.GenRequest, s llm.Sampling, yield func(llm.GenResult) error) error {
	for _, r := range reqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		text := fmt.Sprintf(" <%s|seed=%d|t=%g|k=%d>", strings.ToUpper(r.Prompt), r.Seed, s.Temperature, s.TopK)
		finish := "stop"
		for _, st := range s.Stop {
			if i := strings.Index(text, st); i >= 0 {
				text = text[:i]
			}
		}
		if s.MaxTokens > 0 && utf8.RuneCountInString(text) > s.MaxTokens {
			text = string([]rune(text)[:s.MaxTokens])
			finish = "length"
		}
		n := utf8.RuneCountInString(text)
		err := yield(llm.GenResult{
			ID: r.ID, Completion: text, FinishReason: finish,
			PromptTokens: utf8.RuneCountInString(r.Prompt) + 1, CompletionTokens: n,
			LogprobSum: -0.37*float64(n) - float64(r.Seed%7)/8, HasLogprob: true,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func tokLogprob(prev, cur int32, pos int) float64 {
	return -float64((int(cur)*31+int(prev)*17+pos)%101)/13 - 0.001
}

func (fakeModel) Score(ctx context.Context, reqs []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	out := make([]llm.ScoreResult, len(reqs))
	for i, r := range reqs {
		p, _ := fakeTok{}.Tokenize(r.Prompt, true)
		c, _ := fakeTok{}.Tokenize(r.Completion, false)
		ids := append(append([]int32{}, p...), c...)
		res := llm.ScoreResult{ID: r.ID, Tokens: c, Logprobs: make([]float64, len(c))}
		for j := range c {
			pos := len(p) + j
			res.Logprobs[j] = tokLogprob(ids[pos-1], ids[pos], pos)
			res.Sum += res.Logprobs[j]
		}
		if len(c) > 0 {
			res.Mean = res.Sum / float64(len(c))
		}
		out[i] = res
	}
	return out, nil
}

// Embed returns unnormalised vectors so that the client's normalisation shows.
func (fakeModel) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t) + 1), float32(strings.Count(t, "a")), 3}
	}
	return out, nil
}

func (fakeModel) Info() llm.Info { return llm.Info{Ref: "fake", ContextTrain: 512} }
func (fakeModel) Close() error   { return nil }

// noEmbedModel cannot embed.
type noEmbedModel struct{ fakeModel }

func (noEmbedModel) Embed(context.Context, []string) ([][]float32, error) {
	return nil, fmt.Errorf("fake: %w", llm.ErrCannotEmbed)
}
