package embed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mbd-dev/mbd/internal/vec"
)

// LSAOptions are builtin:lsa's settings.
type LSAOptions struct {
	Dim   int     // components kept (default 64)
	NGram int     // longest word n-gram used as a term (default 2)
	MinDF int     // a term must occur in at least this many texts (default 2)
	MaxDF float64 // and in at most this fraction of them, in (0, 1] (default 1: no upper limit)
	Seed  uint64  // seed of the randomized SVD (default 1)
}

// DefaultLSAOptions are the settings of a bare "builtin:lsa".
func DefaultLSAOptions() LSAOptions {
	return LSAOptions{Dim: 64, NGram: 2, MinDF: 2, MaxDF: 1, Seed: 1}
}

func (o LSAOptions) validate() error {
	switch {
	case o.Dim < 1:
		return fmt.Errorf("dim=%d: want a positive integer", o.Dim)
	case o.NGram < 1 || o.NGram > 8:
		return fmt.Errorf("ngram=%d: want 1 to 8", o.NGram)
	case o.MinDF < 1:
		return fmt.Errorf("min_df=%d: want a positive integer", o.MinDF)
	case !(o.MaxDF > 0 && o.MaxDF <= 1):
		return fmt.Errorf("max_df=%g: want a fraction in (0, 1]", o.MaxDF)
	}
	return nil
}

// LSA is the builtin:lsa embedder. Embed fits on its input; Fit fits once for later Transforms.
type LSA struct {
	opts LSAOptions
}

// NewLSA returns a builtin:lsa embedder with the given settings.
func NewLSA(o LSAOptions) (*LSA, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("builtin:lsa: %w", err)
	}
	return &LSA{opts: o}, nil
}

// Options returns the settings.
func (l *LSA) Options() LSAOptions { return l.opts }

// ID returns "builtin:lsa?dim=D&ngram=N&min_df=M&max_df=F&seed=S".
func (l *LSA) ID() string {
	o := l.opts
	return fmt.Sprintf("builtin:lsa?dim=%d&ngram=%d&min_df=%d&max_df=%s&seed=%d",
		o.Dim, o.NGram, o.MinDF, strconv.FormatFloat(o.MaxDF, 'g', -1, 64), o.Seed)
}

// CorpusDependent reports true: Embed fits on its input.
func (l *LSA) CorpusDependent() bool { return true }

// Embed fits on texts and returns their vectors (Fit then Transform).
func (l *LSA) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := l.Fit(texts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.Transform(texts), nil
}

// LSAFit is builtin:lsa fitted on one corpus. It is an Embedder that only transforms, so its
// vectors for a text do not depend on the other texts embedded with it.
type LSAFit struct {
	opts        LSAOptions
	fingerprint string
	vocab       map[string]int32
	idf         []float64
	comps       []float64 // terms × Dim, row-major: the term's weight in each component
	sigma       []float64 // singular values of the kept components (len ≤ Dim)
}

// ID is the LSA ID with "&fit=" and the first 16 hex digits of the corpus fingerprint.
func (f *LSAFit) ID() string {
	return (&LSA{opts: f.opts}).ID() + "&fit=" + f.fingerprint[:16]
}

// Fingerprint is the SHA-256 (hex) of the ordered training texts (see Fingerprint).
func (f *LSAFit) Fingerprint() string { return f.fingerprint }

// Terms is the number of terms kept; Components the number of non-zero components.
func (f *LSAFit) Terms() int      { return len(f.idf) }
func (f *LSAFit) Components() int { return len(f.sigma) }

// SingularValues returns the singular values of the kept components, largest first.
func (f *LSAFit) SingularValues() []float64 { return slices.Clone(f.sigma) }

// Embed is Transform.
func (f *LSAFit) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.Transform(texts), nil
}

// Fingerprint identifies an ordered list of texts: the hex SHA-256 of the concatenated SHA-256
// digests of the texts.
func Fingerprint(texts []string) string {
	h := sha256.New()
	for _, t := range texts {
		d := sha256.Sum256([]byte(t))
		h.Write(d[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Tokenize returns the terms of s: lower-cased words (maximal runs of letters, marks and digits),
// each punctuation or symbol character as a term of its own, and "¶" for each line break. The
// non-word terms make form visible to LSA — bullet lists ("¶", "-"), exclamations ("!"), questions
// ("?") — not only vocabulary: behaviour differences are often of form.
func Tokenize(s string) []string {
	var out []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			word.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r):
			word.WriteRune(r)
		case r == '\n':
			flush()
			out = append(out, "¶")
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			flush()
			out = append(out, string(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// termCounts returns the n-gram counts of one text.
func termCounts(s string, ngram int) map[string]int {
	words := Tokenize(s)
	counts := make(map[string]int, len(words)*ngram)
	for n := 1; n <= ngram; n++ {
		for i := 0; i+n <= len(words); i++ {
			counts[strings.Join(words[i:i+n], " ")]++
		}
	}
	return counts
}

// csr is a sparse row-major matrix.
type csr struct {
	rows, cols int
	ptr        []int // len rows+1
	idx        []int32
	val        []float64
}

// ErrEmptyVocabulary is returned by Fit when no term passes the document-frequency filter.
var ErrEmptyVocabulary = errors.New("no term passes the document-frequency filter")

// Fit learns the vocabulary, IDF weights and components from texts.
func (l *LSA) Fit(texts []string) (*LSAFit, error) {
	o := l.opts
	n := len(texts)
	if n == 0 {
		return nil, fmt.Errorf("builtin:lsa: nothing to fit on")
	}
	docs := make([]map[string]int, n)
	df := map[string]int{}
	for i, t := range texts {
		docs[i] = termCounts(t, o.NGram)
		for term := range docs[i] {
			df[term]++
		}
	}
	maxCount := o.MaxDF * float64(n)
	var terms []string
	for term, c := range df {
		if c >= o.MinDF && float64(c) <= maxCount {
			terms = append(terms, term)
		}
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("builtin:lsa: %w (%d texts, %d distinct terms, min_df=%d, max_df=%g); lower min_df or give more texts",
			ErrEmptyVocabulary, n, len(df), o.MinDF, o.MaxDF)
	}
	slices.Sort(terms)
	f := &LSAFit{opts: o, fingerprint: Fingerprint(texts), vocab: make(map[string]int32, len(terms)), idf: make([]float64, len(terms))}
	for i, term := range terms {
		f.vocab[term] = int32(i)
		f.idf[i] = math.Log(float64(1+n)/float64(1+df[term])) + 1
	}
	a := &csr{rows: n, cols: len(terms), ptr: make([]int, n+1)}
	for i, counts := range docs {
		idx, val := f.row(counts)
		a.idx = append(a.idx, idx...)
		a.val = append(a.val, val...)
		a.ptr[i+1] = len(a.idx)
		docs[i] = nil
	}
	comps, sigma := truncatedSVD(a, o.Dim, o.Seed)
	f.sigma = sigma
	// Store components term-major, zero-padded to Dim.
	k := len(sigma)
	f.comps = make([]float64, len(terms)*o.Dim)
	for t := 0; t < len(terms); t++ {
		copy(f.comps[t*o.Dim:t*o.Dim+k], comps[t*k:(t+1)*k])
	}
	return f, nil
}

// row returns the unit-length TF-IDF row of one text's term counts, sorted by term index.
func (f *LSAFit) row(counts map[string]int) ([]int32, []float64) {
	type entry struct {
		j int32
		c int
	}
	es := make([]entry, 0, len(counts))
	for term, c := range counts {
		if j, ok := f.vocab[term]; ok {
			es = append(es, entry{j, c})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return int(a.j) - int(b.j) })
	idx := make([]int32, len(es))
	val := make([]float64, len(es))
	for i, e := range es {
		idx[i], val[i] = e.j, (1+math.Log(float64(e.c)))*f.idf[e.j]
	}
	vec.Normalize64(val)
	return idx, val
}

// Transform embeds texts in the fitted space: one unit vector of Dim entries per text (the zero
// vector for a text with no known term).
func (f *LSAFit) Transform(texts []string) [][]float32 {
	d := f.opts.Dim
	out := make([][]float32, len(texts))
	acc := make([]float64, d)
	for i, t := range texts {
		idx, val := f.row(termCounts(t, f.opts.NGram))
		clear(acc)
		for p, j := range idx {
			w := val[p]
			c := f.comps[int(j)*d : int(j)*d+d]
			for q := range acc {
				acc[q] += w * c[q]
			}
		}
		out[i] = vec.Unit(acc)
	}
	return out
}
