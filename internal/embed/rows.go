package embed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/mbd-dev/mbd/internal/schema"
)

// What is embedded of a generation (mbd-embed --text).
const (
	TextCompletion       = "completion"
	TextPromptCompletion = "prompt+completion"
)

// Text returns what of g is embedded: its completion, or (TextPromptCompletion) its prompt and
// completion separated by a blank line.
func Text(g schema.Generation, what string) string {
	if what == TextPromptCompletion {
		return g.Prompt + "\n\n" + g.Completion
	}
	return g.Completion
}

// ModelChunk is the number of texts All hands a model embedder at a time (between progress calls).
const ModelChunk = 256

// All embeds texts with e: a corpus-dependent embedder (builtin:lsa) sees every text in one call,
// any other goes ModelChunk texts at a time. done (which may be nil) is called with the number of
// texts embedded after each call.
func All(ctx context.Context, e Embedder, texts []string, done func(n int)) ([][]float32, error) {
	chunk := ModelChunk
	if IsCorpusDependent(e) {
		chunk = max(len(texts), 1)
	}
	vecs := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += chunk {
		v, err := e.Embed(ctx, texts[i:min(i+chunk, len(texts))])
		if err != nil {
			return nil, err
		}
		if len(v) != min(chunk, len(texts)-i) {
			return nil, fmt.Errorf("embed with %s: %d vectors for %d texts", e.ID(), len(v), min(chunk, len(texts)-i))
		}
		vecs = append(vecs, v...)
		if done != nil {
			done(len(v))
		}
	}
	return vecs, nil
}

// IsCorpusDependent reports whether e's vector for a text depends on the other texts embedded with
// it (see CorpusDependent); a CachedEmbedder answers for the embedder it wraps.
func IsCorpusDependent(e Embedder) bool {
	if c, ok := e.(*CachedEmbedder); ok {
		e = c.Inner()
	}
	cd, ok := e.(CorpusDependent)
	return ok && cd.CorpusDependent()
}

// Rows returns the embeddings table rows of generations ids, whose texts and vectors are texts and
// vecs, embedded by the embedder with ID embedder. TextHash is the first 8 bytes of the text's
// SHA-256, in hex.
func Rows(ids, texts []string, vecs [][]float32, embedder string) []schema.Embedding {
	rows := make([]schema.Embedding, len(ids))
	for i := range ids {
		h := sha256.Sum256([]byte(texts[i]))
		rows[i] = schema.Embedding{GenerationID: ids[i], Embedder: embedder, TextHash: hex.EncodeToString(h[:8]), Vector: vecs[i]}
	}
	return rows
}
