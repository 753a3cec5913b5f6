// Package embed turns texts into L2-normalised vectors for clustering (the embeddings table,
// schema.Embedding). Three pieces:
//
//   - builtin:lsa, the offline default: latent semantic analysis fitted on the run's own texts.
//   - A model-backed embedder adapting any llm.Model (gguf:, openai-compat:, openai:), with an
//     optional instruction prefix, batching and guaranteed L2 normalisation.
//   - Cached, a content-addressed on-disk cache wrapping any Embedder so that reruns and partial
//     reruns embed nothing twice.
//
// Parse builds an Embedder from a reference string; an Embedder's ID is that reference with its
// settings spelled out, and is what the embeddings table records.
//
// # builtin:lsa
//
// Each text is tokenised: lower-cased (Unicode case folding via strings.ToLower), then split into
// words, a word being a maximal run of Unicode letters, combining marks and decimal digits; every
// other character (spaces, punctuation, symbols) separates words. Single-character words are kept;
// scripts written without spaces (Chinese, Japanese, Thai) come out as one word per run, which
// this method does not try to segment. Terms are the word n-grams for n = 1..ngram (joined by a
// space, within a text). A term is kept when it occurs in at least min_df texts and in at most
// max_df (a fraction) of them. Each text becomes a TF-IDF vector in the vector-space model of
// Salton & Buckley (1988, "Term-weighting approaches in automatic text retrieval", Information
// Processing & Management 24(5)): sublinear term frequency 1+log(tf) times the smoothed inverse
// document frequency log((1+n)/(1+df))+1 (as scikit-learn's TfidfTransformer with
// smooth_idf=True, sublinear_tf=True), scaled to unit length.
//
// The TF-IDF matrix is then reduced to dim components by a truncated singular value
// decomposition, which is latent semantic analysis (Deerwester, Dumais, Furnas, Landauer &
// Harshman 1990, "Indexing by latent semantic analysis", JASIS 41(6)). A text's embedding is its
// TF-IDF row projected onto the top right singular vectors (U·Σ, as scikit-learn's TruncatedSVD),
// scaled to unit length. When the smaller side of the matrix has at most exactLimit (500) rows or
// columns, the decomposition is exact, from the symmetric eigendecomposition of the smaller Gram
// matrix (AAᵀ or AᵀA); above that it is the seeded randomized range finder with power iterations
// of Halko, Martinsson & Tropp (2011, "Finding structure with randomness: probabilistic
// algorithms for constructing approximate matrix decompositions", SIAM Review 53(2), Algorithms
// 4.4 and 5.1), which works on the sparse matrix directly. The sign of each component is fixed so
// that its largest-magnitude term weight is positive. Everything is computed in a fixed order, so
// the same texts with the same settings give identical vectors.
//
// Vectors always have dim entries: when the texts support fewer than dim components (few texts or
// few terms) the rest are zero. A text with no kept term gets the zero vector (it is the one
// vector that is not unit length).
//
// Embed fits on its inputs and embeds them, so a text's vector depends on the whole input; to
// embed new texts in an existing space use Fit and then the fitted model's Transform (or Embed).
//
// # Cache
//
// See Cached. Records are keyed by SHA-256(ID + "\x00" + text). Because builtin:lsa's vectors
// depend on the corpus it was fitted on, the cache keys an input-fitted embedder (one that reports
// CorpusDependent) by its ID plus a fingerprint of the whole ordered input, so a cached LSA vector
// is reused only for exactly the same input; a fitted model (LSA.Fit) has the fingerprint of its
// training corpus in its ID and is cached per text like any model.
package embed

import (
	"context"
	"io"
	"math"

	"github.com/mbd-dev/mbd/internal/vec"
)

// Embedder turns texts into L2-normalised vectors, one per text, in order.
type Embedder interface {
	// ID is the embedder's reference string with its settings, e.g.
	// "builtin:lsa?dim=64&ngram=2&min_df=2&max_df=1&seed=1". Equal IDs mean equal vectors for
	// equal inputs.
	ID() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// CorpusDependent is implemented by embedders whose vector for a text depends on the other texts
// of the same Embed call (builtin:lsa fits on its input).
type CorpusDependent interface {
	CorpusDependent() bool
}

// Close releases what e holds (a model opened by Parse) when it holds anything.
func Close(e Embedder) error {
	if c, ok := e.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// normalise scales v to unit length in place; it reports false for a zero or non-finite vector
// (left as is).
func normalise(v []float32) bool {
	nonzero := false
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
		nonzero = nonzero || x != 0
	}
	if nonzero {
		vec.Normalize(v)
	}
	return nonzero
}
