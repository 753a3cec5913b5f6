// Package lexical is mbd's offline "builtin" assistant: a describer that contrasts two groups of
// texts word by word and a judge that scores texts against the lexical hypotheses it writes.
//
// # Describer
//
// Terms are the word 1- to 3-grams of embed.Tokenize (lower-cased words, each punctuation mark, and
// "¶" for a line break, so form such as "¶ -" — a bullet line — is a term like any word). Terms
// are contrasted by the log-odds ratio with an informative prior of Monroe, Colaresi & Quinn (2008,
// "Fightin' Words", Political Analysis 16(4), §3.5), applied to document frequencies: with d_A,
// d_B the texts of each group that contain w (of N_A, N_B texts), π_w = (d_A+d_B)/(N_A+N_B) the
// pooled rate and a Beta prior of mean π_w worth c = Prior pseudo-texts (α¹ = cπ_w, α⁰ = c(1−π_w)),
//
//	δ_w = log((d_B+α¹)/(N_B−d_B+α⁰)) − log((d_A+α¹)/(N_A−d_A+α⁰)),
//	σ²_w ≈ 1/(d_B+α¹) + 1/(N_B−d_B+α⁰) + 1/(d_A+α¹) + 1/(N_A−d_A+α⁰),   z_w = δ_w/σ_w.
//
// The prior shrinks rare terms toward no difference, which makes z usable for ranking. Counting
// texts rather than tokens (Monroe et al. count tokens) keeps bursty terms honest: a bullet list
// repeats "¶ -" many times in one text, and token counts made 6% vs 8% of texts look like z = 3.8
// in A/A runs.
//
// Terms with |z| ≥ MinZ that occur in at least MinDocs texts of the group they favour are grouped
// greedily: the strongest term starts a group, and every other candidate of the same direction
// whose set of favoured-group texts overlaps the group's first term's set with Jaccard index ≥
// 0.5, and which is in not many more texts of the other group, joins it (so "otter", "an otter" and "like an otter" make one hypothesis, and a bullet habit
// another). Each group becomes one hypothesis: a property stated without naming a model —
// "contains 'otter', 'an otter' or 'river'" — with the direction it favours and the shares of the
// discovery texts of each group that contain any of its terms.
//
// Beside the word terms, the describer compares the groups' word counts (two-sided Mann-Whitney)
// and proposes LengthProperty when they differ at the same level as MinZ.
//
// # Judge
//
// LengthProperty is judged by word count. An exemplar property (ExemplarProperty: "reads like these
// answers: «…» «…» rather than these: «…» «…»", written for a region of the embedding space that
// has no words of its own) is judged by a nearest-centroid classifier: a text shows it when its
// log-scaled word-count vector is nearer (cosine) the mean of the exemplars' unit vectors than the
// counter-examples'; of a pair, the text that shows it when the other does not shows it more. A property that quotes terms ('...') is judged by
// counting the distinct quoted terms a text contains (as token n-grams, so "Otter!" contains
// 'otter'); of a pair, the text with more shows the property more, equal counts are a tie. Any other
// property cannot be judged by the builtin judge (Invalid): it never guesses.
//
// The describer is a cheap first pass and the offline path; it sees words and punctuation only, so
// differences of meaning without a lexical trace (tone, correctness) are beyond it.
package lexical

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/embed"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
)

// Options tune the describer.
type Options struct {
	MaxN     int     // longest n-gram (default 3)
	Prior    float64 // weight of the informative prior in pseudo-texts (default 10)
	MinZ     float64 // least |z| of a proposed term (default 3.29, two-sided p = 0.001 per term)
	MinDocs  int     // least texts of the favoured group that contain a proposed term (default 3)
	MaxTerms int     // most terms quoted per hypothesis (default 5)
	Max      int     // most hypotheses per call (default 5)
}

func (o Options) withDefaults() Options {
	if o.MaxN == 0 {
		o.MaxN = 3
	}
	if o.Prior == 0 {
		o.Prior = 10
	}
	if o.MinZ == 0 {
		o.MinZ = 3.29
	}
	if o.MinDocs == 0 {
		o.MinDocs = 3
	}
	if o.MaxTerms == 0 {
		o.MaxTerms = 5
	}
	if o.Max == 0 {
		o.Max = 5
	}
	return o
}

// Term is one term's contrast.
type Term struct {
	Term    string
	CountA  int     // occurrences in group A
	CountB  int     // occurrences in group B
	DocsA   int     // texts of A containing it
	DocsB   int     // texts of B containing it
	LogOdds float64 // δ (positive: more typical of B)
	Z       float64
}

// Hypothesis is a lexical hypothesis.
type Hypothesis struct {
	Property  string // e.g. contains 'otter' or 'an otter'
	Direction string // B>A or A>B
	Terms     []Term
	ShareA    float64 // share of A's texts containing any of the terms
	ShareB    float64
	LengthAUC float64 // for LengthProperty: P(a B text has more words than an A text)
}

// Text renders the hypothesis for people: "Compared with A, B's answers more often contain ...".
func (h Hypothesis) Text() string {
	more, less := "B", "A"
	if h.Direction == schema.DirectionAB {
		more, less = "A", "B"
	}
	if h.Property == LengthProperty {
		return fmt.Sprintf("%s's answers are longer than %s's, with more words (P(B's answer is longer than A's) = %.2f in the discovery texts)", more, less, h.LengthAUC)
	}
	zs := make([]string, len(h.Terms))
	for i, t := range h.Terms {
		zs[i] = fmt.Sprintf("%.1f", math.Abs(t.Z))
	}
	return fmt.Sprintf("%s's answers more often than %s's: %s (log-odds z = %s; in %.0f%% of B's vs %.0f%% of A's discovery texts)",
		more, less, h.Property, strings.Join(zs, ", "), 100*h.ShareB, 100*h.ShareA)
}

// docTerms returns the set of distinct n-grams (n ≤ maxN) of a text, and its n-gram counts.
func docTerms(text string, maxN int) map[string]int {
	words := embed.Tokenize(text)
	counts := make(map[string]int, len(words)*maxN)
	for n := 1; n <= maxN; n++ {
		for i := 0; i+n <= len(words); i++ {
			counts[strings.Join(words[i:i+n], " ")]++
		}
	}
	return counts
}

// Contrast returns every term's contrast of group B against group A, strongest |z| first (ties by
// term, so the order is deterministic).
func Contrast(a, b []string, o Options) []Term {
	o = o.withDefaults()
	type acc struct{ ya, yb, da, db int }
	terms := map[string]*acc{}
	add := func(texts []string, isB bool) {
		for _, t := range texts {
			for term, c := range docTerms(t, o.MaxN) {
				x := terms[term]
				if x == nil {
					x = &acc{}
					terms[term] = x
				}
				if isB {
					x.yb += c
					x.db++
				} else {
					x.ya += c
					x.da++
				}
			}
		}
	}
	add(a, false)
	add(b, true)
	na, nb := float64(len(a)), float64(len(b))
	out := make([]Term, 0, len(terms))
	for term, x := range terms {
		da, db := float64(x.da), float64(x.db)
		pi := (da + db) / (na + nb)
		a1, a0 := o.Prior*pi, o.Prior*(1-pi)
		d := math.Log((db+a1)/(nb-db+a0)) - math.Log((da+a1)/(na-da+a0))
		v := 1/(db+a1) + 1/(nb-db+a0) + 1/(da+a1) + 1/(na-da+a0)
		out = append(out, Term{Term: term, CountA: x.ya, CountB: x.yb, DocsA: x.da, DocsB: x.db, LogOdds: d, Z: d / math.Sqrt(v)})
	}
	slices.SortFunc(out, func(x, y Term) int {
		if c := cmp.Compare(math.Abs(y.Z), math.Abs(x.Z)); c != 0 {
			return c
		}
		return strings.Compare(x.Term, y.Term)
	})
	return out
}

// Describe writes up to o.Max lexical hypotheses about how group B's texts differ from group A's.
// exclude lists properties already proposed (they are not proposed again).
func Describe(a, b []string, o Options, exclude []string) []Hypothesis {
	o = o.withDefaults()
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	docsA, docsB := make([]map[string]int, len(a)), make([]map[string]int, len(b))
	for i, t := range a {
		docsA[i] = docTerms(t, o.MaxN)
	}
	for i, t := range b {
		docsB[i] = docTerms(t, o.MaxN)
	}
	var cands []Term
	for _, t := range Contrast(a, b, o) {
		if math.Abs(t.Z) < o.MinZ {
			break
		}
		if strings.Contains(t.Term, "'") { // cannot be quoted unambiguously
			continue
		}
		if (t.Z > 0 && t.DocsB >= o.MinDocs) || (t.Z < 0 && t.DocsA >= o.MinDocs) {
			cands = append(cands, t)
		}
	}
	// Set of favoured-group texts containing a term.
	docSet := func(t Term) map[int]bool {
		docs := docsB
		if t.Z < 0 {
			docs = docsA
		}
		s := map[int]bool{}
		for i, d := range docs {
			if d[t.Term] > 0 {
				s[i] = true
			}
		}
		return s
	}
	jaccard := func(x, y map[int]bool) float64 {
		inter := 0
		for i := range x {
			if y[i] {
				inter++
			}
		}
		union := len(x) + len(y) - inter
		if union == 0 {
			return 0
		}
		return float64(inter) / float64(union)
	}
	var out []Hypothesis
	if h, ok := lengthHypothesis(a, b, o); ok && !slices.Contains(exclude, h.Property) {
		out = append(out, h)
	}
	used := make([]bool, len(cands))
	for i := range cands {
		if used[i] || len(out) == o.Max {
			continue
		}
		used[i] = true
		lead := docSet(cands[i])
		group := []Term{cands[i]}
		for j := i + 1; j < len(cands); j++ {
			if used[j] || (cands[j].Z > 0) != (cands[i].Z > 0) {
				continue
			}
			// Same texts, and not much more common in the other group than the lead term (so
			// that a frequent word riding along, such as "an" in "an otter", stays out).
			other := func(t Term) int { return map[bool]int{true: t.DocsA, false: t.DocsB}[t.Z > 0] }
			if jaccard(lead, docSet(cands[j])) >= 0.5 && other(cands[j]) <= other(cands[i])+max(1, other(cands[i])/4) {
				used[j] = true
				if len(group) < o.MaxTerms {
					group = append(group, cands[j])
				}
			}
		}
		h := Hypothesis{Terms: group, Direction: schema.DirectionBA}
		if cands[i].Z < 0 {
			h.Direction = schema.DirectionAB
		}
		quoted := make([]string, len(group))
		terms := make([]string, len(group))
		for k, t := range group {
			quoted[k], terms[k] = quote(t.Term), t.Term
		}
		h.Property = "contains " + orList(quoted)
		if slices.Contains(exclude, h.Property) {
			continue
		}
		h.ShareA, h.ShareB = shareWithAny(docsA, terms), shareWithAny(docsB, terms)
		out = append(out, h)
	}
	return out
}

// LengthProperty is the property of the length hypothesis.
const LengthProperty = "is longer, with more words"

// lengthHypothesis proposes LengthProperty when the groups' word counts differ (two-sided
// Mann-Whitney p below the per-term level that MinZ gives).
func lengthHypothesis(a, b []string, o Options) (Hypothesis, bool) {
	wa, wb := wordCounts(a), wordCounts(b)
	r, err := stats.MannWhitneyU(wb, wa, stats.MethodAuto)
	if err != nil || r.PValue > math.Erfc(o.MinZ/math.Sqrt2) {
		return Hypothesis{}, false
	}
	h := Hypothesis{Property: LengthProperty, Direction: schema.DirectionBA, LengthAUC: r.AUC}
	if r.AUC < 0.5 {
		h.Direction = schema.DirectionAB
	}
	return h, true
}

func wordCounts(texts []string) []float64 {
	out := make([]float64, len(texts))
	for i, t := range texts {
		out[i] = float64(len(strings.Fields(t)))
	}
	return out
}

func shareWithAny(docs []map[string]int, terms []string) float64 {
	n := 0
	for _, d := range docs {
		for _, t := range terms {
			if d[t] > 0 {
				n++
				break
			}
		}
	}
	return float64(n) / float64(len(docs))
}

// quote writes a term in single quotes. Terms () = Terms(quote(t)) for every term whose tokens are not
// a lone quote mark; quotedRE's lookahead keeps a quote inside a term (don ' t) from ending it.
func quote(term string) string { return "'" + term + "'" }

func orList(xs []string) string {
	switch len(xs) {
	case 1:
		return xs[0]
	case 2:
		return xs[0] + " or " + xs[1]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// quotedRE finds 'term' in a property: a quote, then characters up to the next quote that is
// followed by a separator or the end.
var quotedRE = regexp.MustCompile(`'([^']+?)'(?:[\s,.;:)]|$)`)

// Terms returns the quoted terms of a property, normalised to the tokenizer's form (so an
// assistant-written 'Otter' matches the term otter); nil when it quotes none or is an exemplar
// property (whose exemplars may hold quotes).
func Terms(property string) []string {
	if strings.HasPrefix(property, ExemplarPrefix) {
		return nil
	}
	var out []string
	for _, m := range quotedRE.FindAllStringSubmatch(property, -1) {
		t := strings.Join(embed.Tokenize(m[1]), " ")
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Verdict is a judge's answer about a pair of texts.
type Verdict int

const (
	Invalid Verdict = iota // the judge cannot judge this property (never a guess)
	First                  // the first text shows the property more
	Second                 // the second text shows the property more
	Tie                    // both show it equally (or neither does)
)

func (v Verdict) String() string {
	return [...]string{"invalid", "first", "second", "tie"}[v]
}

// JudgePair says which of two texts shows property more: by word count for LengthProperty, by
// Scorer otherwise; Invalid for a property it cannot judge.
func JudgePair(property, first, second string) Verdict {
	var s1, s2 int
	if property == LengthProperty {
		s1, s2 = len(strings.Fields(first)), len(strings.Fields(second))
	} else {
		score, ok := Scorer(property)
		if !ok {
			return Invalid
		}
		s1, s2 = score(first), score(second)
	}
	switch {
	case s1 > s2:
		return First
	case s2 > s1:
		return Second
	}
	return Tie
}

// Scorer returns how a text shows property: for an exemplar property, 1 when the text is nearer
// the exemplars' centroid than the counter-examples' (else 0); for quoted terms, how many of them
// it contains. ok is false for any other property.
func Scorer(property string) (score func(string) int, ok bool) {
	if like, unlike := Exemplars(property); len(like) > 0 && len(unlike) > 0 {
		cl, cu := centroid(like), centroid(unlike)
		return func(t string) int {
			v := logCounts(t)
			if Cosine(v, cl) > Cosine(v, cu) {
				return 1
			}
			return 0
		}, true
	}
	terms := Terms(property)
	if len(terms) == 0 {
		return nil, false
	}
	return func(t string) int { return Score(t, terms) }, true
}

// Score returns how many of terms a text contains.
func Score(text string, terms []string) int {
	maxN := 1
	for _, t := range terms {
		maxN = max(maxN, strings.Count(t, " ")+1)
	}
	d := docTerms(text, maxN)
	n := 0
	for _, t := range terms {
		if d[t] > 0 {
			n++
		}
	}
	return n
}

// WordCounts returns the counts of a text's terms (embed.Tokenize), a bag-of-words vector for
// Cosine: near-duplicate hypotheses and training texts are found with it.
func WordCounts(s string) map[string]float64 {
	v := map[string]float64{}
	for _, w := range embed.Tokenize(s) {
		v[w]++
	}
	return v
}

// Cosine is the cosine similarity of two count vectors (0 when either is empty).
func Cosine(x, y map[string]float64) float64 {
	var dot, nx, ny float64
	for k, a := range x {
		dot += a * y[k]
		nx += a * a
	}
	for _, b := range y {
		ny += b * b
	}
	if nx == 0 || ny == 0 {
		return 0
	}
	return dot / math.Sqrt(nx*ny)
}

// ExemplarPrefix starts an exemplar property; ExemplarContrast separates its exemplars from its
// counter-examples.
const (
	ExemplarPrefix   = "reads like these answers: "
	ExemplarContrast = " rather than these: "
)

// ExemplarProperty describes texts by exemplars and counter-examples: ExemplarPrefix, each
// exemplar in «», ExemplarContrast, each counter-example in «» (guillemets inside a text are
// dropped, white space folded).
func ExemplarProperty(like, unlike []string) string {
	list := func(texts []string) string {
		q := make([]string, len(texts))
		for i, t := range texts {
			q[i] = "«" + strings.Join(strings.Fields(strings.NewReplacer("«", "", "»", "").Replace(t)), " ") + "»"
		}
		return strings.Join(q, " ")
	}
	return ExemplarPrefix + list(like) + ExemplarContrast + list(unlike)
}

// Exemplars returns the exemplars and counter-examples of an exemplar property; nil, nil for any
// other property.
func Exemplars(property string) (like, unlike []string) {
	rest, ok := strings.CutPrefix(property, ExemplarPrefix)
	if !ok {
		return nil, nil
	}
	l, u, _ := strings.Cut(rest, ExemplarContrast)
	return quoted(l), quoted(u)
}

// quoted returns the «»-quoted texts of s.
func quoted(s string) []string {
	var out []string
	for {
		_, after, ok := strings.Cut(s, "«")
		if !ok {
			return out
		}
		e, tail, ok := strings.Cut(after, "»")
		if !ok {
			return out
		}
		out = append(out, e)
		s = tail
	}
}

// logCounts is a text's word-count vector with counts scaled to 1 + log(count), so that the
// words every answer repeats weigh less.
func logCounts(s string) map[string]float64 {
	v := WordCounts(s)
	for w, c := range v {
		v[w] = 1 + math.Log(c)
	}
	return v
}

// centroid is the mean of the texts' unit log-count vectors.
func centroid(texts []string) map[string]float64 {
	c := map[string]float64{}
	for _, t := range texts {
		v := logCounts(t)
		n := 0.0
		for _, x := range v {
			n += x * x
		}
		if n == 0 {
			continue
		}
		n = math.Sqrt(n)
		for w, x := range v {
			c[w] += x / n
		}
	}
	return c
}

// Typical returns the indices of the n texts most similar to the texts' centroid (log-scaled word
// counts), most similar first; ties keep the texts' order.
func Typical(texts []string, n int) []int {
	c := centroid(texts)
	sims := make([]float64, len(texts))
	idx := make([]int, len(texts))
	for i, t := range texts {
		idx[i], sims[i] = i, Cosine(logCounts(t), c)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(sims[b], sims[a]) })
	return idx[:min(n, len(idx))]
}
