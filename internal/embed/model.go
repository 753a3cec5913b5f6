package embed

import (
	"context"
	"fmt"

	"github.com/mbd-dev/mbd/internal/llm"
)

// DefaultBatch is the number of texts a ModelEmbedder sends per llm.Model.Embed call.
const DefaultBatch = 32

// ModelEmbedder embeds with an llm.Model (gguf:, openai-compat:, openai: ...). Each text is sent
// as Prefix + text: embedding models trained with instructions want one (e5: "query: " or
// "passage: ", bge: "Represent this sentence for searching relevant passages: ", nomic:
// "clustering: "). Vectors are re-normalised to unit length whatever the backend returns.
type ModelEmbedder struct {
	Model  llm.Model
	Ref    string // the model reference, without embedder options
	Prefix string
	Batch  int // texts per Model.Embed call; 0 means DefaultBatch
}

// NewModel returns an embedder using m, whose reference is ref.
func NewModel(m llm.Model, ref, prefix string, batch int) *ModelEmbedder {
	return &ModelEmbedder{Model: m, Ref: ref, Prefix: prefix, Batch: batch}
}

// ID is the model reference with prefix= appended when there is a prefix (the batch size does not
// change vectors and is left out).
func (e *ModelEmbedder) ID() string {
	if e.Prefix == "" {
		return e.Ref
	}
	return addOption(e.Ref, "prefix", e.Prefix)
}

// Embed embeds texts in batches.
func (e *ModelEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	batch := e.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	out := make([][]float32, 0, len(texts))
	dim := -1
	for start := 0; start < len(texts); start += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := texts[start:min(start+batch, len(texts))]
		req := make([]string, len(chunk))
		for i, t := range chunk {
			req[i] = e.Prefix + t
		}
		vs, err := e.Model.Embed(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("embed with %s: %w", e.Ref, err)
		}
		if len(vs) != len(req) {
			return nil, fmt.Errorf("embed with %s: %d vectors for %d texts", e.Ref, len(vs), len(req))
		}
		for i, v := range vs {
			if dim < 0 {
				dim = len(v)
			}
			if len(v) == 0 || len(v) != dim {
				return nil, fmt.Errorf("embed with %s: text %d: vector of %d entries, want %d", e.Ref, start+i, len(v), dim)
			}
			v = append([]float32(nil), v...)
			if !normalise(v) {
				return nil, fmt.Errorf("embed with %s: text %d: zero or non-finite vector", e.Ref, start+i)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// Close closes the model.
func (e *ModelEmbedder) Close() error { return e.Model.Close() }
