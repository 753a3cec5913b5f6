// Package scoring computes, under a model, the log-probability of every completion of a
// generations table given its prompt (teacher forcing), token by token (mbd-model score). The
// prompt is formatted as the model formats it for generation (chat template, hidden system
// prompt); that is the backend's job (llm.Model.Score).
package scoring

import (
	"context"
	"fmt"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Detokenizer turns one token back into its text; in-process GGUF models have it.
type Detokenizer interface {
	Detokenize(tokens []int32, special bool) string
}

// Generations scores gens under model in batches of batch completions and returns one score row
// per generation, in the order of gens; scorer is the model reference written in each row. When
// the model is a Detokenizer the rows hold the token texts too. progress, when not nil, is called
// with the number of completions of each batch scored.
func Generations(ctx context.Context, model llm.Model, scorer string, gens []schema.Generation, batch int, progress func(n int)) ([]schema.Score, error) {
	if batch < 1 {
		return nil, fmt.Errorf("scoring: batch %d: want at least 1", batch)
	}
	detok, _ := model.(Detokenizer)
	rows := make([]schema.Score, 0, len(gens))
	for start := 0; start < len(gens); start += batch {
		part := gens[start:min(start+batch, len(gens))]
		reqs := make([]llm.ScoreRequest, len(part))
		for i, g := range part {
			reqs[i] = llm.ScoreRequest{ID: g.ID, Prompt: g.Prompt, Completion: g.Completion}
		}
		res, err := model.Score(ctx, reqs)
		if err != nil {
			return nil, err
		}
		for _, s := range res {
			row := schema.Score{GenerationID: s.ID, Scorer: scorer, LogprobSum: s.Sum, LogprobMean: s.Mean}
			for i, t := range s.Tokens {
				if detok != nil {
					row.Tokens = append(row.Tokens, detok.Detokenize([]int32{t}, false))
				}
				row.Logprobs = append(row.Logprobs, float32(s.Logprobs[i]))
			}
			rows = append(rows, row)
		}
		if progress != nil {
			progress(len(part))
		}
	}
	return rows, nil
}
