package gen

import (
	"context"
	"fmt"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Chunks is the number of chunks of n jobs, chunk at a time.
func Chunks(n, chunk int) int { return (n + chunk - 1) / chunk }

// Fit checks, when the model can tell (llm.Fitter), that every prompt of jobs leaves room for
// maxTokens new tokens; the error is a *llm.ContextError.
func Fit(model llm.Model, jobs []Job, maxTokens int) error {
	f, ok := model.(llm.Fitter)
	if !ok {
		return nil
	}
	var texts []string
	seen := map[string]bool{}
	for _, jb := range jobs {
		if !seen[jb.Prompt.ID] {
			seen[jb.Prompt.ID] = true
			texts = append(texts, jb.Prompt.Text)
		}
	}
	return f.Fit(texts, maxTokens)
}

// Generate makes the completions of the chunks of jobs that j does not hold yet, p.Chunk jobs at a
// time, and appends each finished chunk to j. done is called after each chunk with the jobs and
// completion tokens done so far by this call (it may be nil). It returns the completion tokens
// generated.
func Generate(ctx context.Context, model llm.Model, jobs []Job, p Params, j *Journal, done func(jobs, tokens int)) (int, error) {
	tokens := 0
	for c := j.Chunks(); c < Chunks(len(jobs), p.Chunk); c++ {
		if err := ctx.Err(); err != nil {
			return tokens, err
		}
		part := jobs[c*p.Chunk : min((c+1)*p.Chunk, len(jobs))]
		rows, err := Chunk(ctx, model, p, part)
		if err != nil {
			return tokens, err
		}
		if err := j.Append(rows); err != nil {
			return tokens, err
		}
		for _, r := range rows {
			if r.CompletionTokens != nil {
				tokens += int(*r.CompletionTokens)
			}
		}
		if done != nil {
			done(len(part), tokens)
		}
	}
	return tokens, nil
}

// Chunk makes the completions of part and returns them in job order.
func Chunk(ctx context.Context, model llm.Model, p Params, part []Job) ([]schema.Generation, error) {
	reqs := make([]llm.GenRequest, len(part))
	index := map[string]int{}
	for i, jb := range part {
		reqs[i] = llm.GenRequest{ID: jb.ID, Prompt: jb.Prompt.Text, Seed: jb.Seed}
		index[jb.ID] = i
	}
	rows := make([]schema.Generation, len(part))
	err := model.Generate(ctx, reqs, p.Sampling, func(r llm.GenResult) error {
		i, ok := index[r.ID]
		if !ok {
			return fmt.Errorf("backend returned an unknown request id %q", r.ID)
		}
		rows[i] = Row(part[i], p, r)
		delete(index, r.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(index) > 0 {
		return nil, fmt.Errorf("backend returned %d of %d completions", len(part)-len(index), len(part))
	}
	return rows, nil
}

// Row is the generations row of job jb's result r.
func Row(jb Job, p Params, r llm.GenResult) schema.Generation {
	pt, ct := int32(r.PromptTokens), int32(r.CompletionTokens)
	g := schema.Generation{
		ID: jb.ID, Model: p.Label, ModelRef: p.ModelRef, PromptID: jb.Prompt.ID, Split: jb.Prompt.Split,
		Sample: jb.Sample, Seed: int64(jb.Seed), Prompt: jb.Prompt.Text, Completion: r.Completion,
		PromptTokens: &pt, CompletionTokens: &ct, FinishReason: r.FinishReason,
	}
	if r.HasLogprob {
		sum := r.LogprobSum
		g.LogprobSum = &sum
		if ct > 0 {
			mean := sum / float64(ct)
			g.LogprobMean = &mean
		}
	}
	return g
}
