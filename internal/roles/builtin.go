package roles

import (
	"context"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/mbd-dev/mbd/internal/lexical"
)

// Builtin is the offline assistant: the lexical describer and judge.
type Builtin struct{ Options lexical.Options }

// BuiltinRef is the builtin assistant's reference.
const BuiltinRef = "builtin"

// Ref is "builtin".
func (Builtin) Ref() string { return BuiltinRef }

// Propose runs lexical.Describe on the texts.
func (b Builtin) Propose(_ context.Context, as, bs []Sample, earlier []string, n int) ([]Proposal, error) {
	o := b.Options
	o.Max = n
	var out []Proposal
	for _, h := range lexical.Describe(texts(as), texts(bs), o, earlier) {
		p := Proposal{Property: h.Property, Direction: h.Direction, Text: h.Text(), Kind: "lexical", ShareA: h.ShareA, ShareB: h.ShareB}
		if h.Property == lexical.LengthProperty {
			p.ShareA, p.ShareB = math.NaN(), math.NaN()
		}
		out = append(out, p)
	}
	return out, nil
}

func texts(ss []Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Text
	}
	return out
}

// JudgePair is lexical.JudgePair.
func (Builtin) JudgePair(_ context.Context, property, _, first, second string) (Verdict, error) {
	return lexical.JudgePair(property, first, second), nil
}

// Exemplify edits base into a minimal pair for a property that quotes terms. Both texts are base
// without the sentences that contain a term (line breaks kept), plus one appended short sentence:
// with the property, the first term ("Otter."); without it, a control word of the same answer (its
// longest word that is not a term, e.g. "Vegetables."). So the two texts differ only in the
// inserted word, and the test measures which model that word favours rather than whether a model
// likes appended words at all. Any other property is not available — LengthProperty included: a
// longer and a shorter text differ in their number of tokens, and a sum of log-probability
// differences over more tokens moves for reasons that have nothing to do with length preference.
func (Builtin) Exemplify(_ context.Context, property, _, base string, shows bool) (string, bool, error) {
	terms := lexical.Terms(property)
	if len(terms) == 0 {
		return "", false, ErrNotAvailable
	}
	var kept strings.Builder
	for _, s := range sentences(base) {
		if lexical.Score(s, terms) == 0 {
			kept.WriteString(s)
		}
	}
	text := strings.TrimRight(kept.String(), " \t")
	word := upperFirst(strings.ReplaceAll(strings.ReplaceAll(terms[0], "¶ ", "\n"), "¶", "\n"))
	if !shows {
		word = controlWord(text, terms)
	}
	if strings.TrimSpace(text) == "" || word == "" {
		return "", false, nil
	}
	if !strings.HasSuffix(text, "\n") && !strings.HasPrefix(word, "\n") {
		text += " "
	}
	return text + word + ".", true, nil
}

// controlWord is the longest word of text (letters only; the first of equal length) that is not one
// of terms, capitalised; "" when there is none.
func controlWord(text string, terms []string) string {
	best := ""
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
		lw := strings.ToLower(w)
		if len(w) > len(best) && !slices.Contains(terms, lw) {
			best = lw
		}
	}
	return upperFirst(best)
}

// sentences splits a text after . ! ? and line breaks; each piece keeps its delimiter and the
// whitespace after it, so that the pieces concatenate back to the text.
func sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	pos := 0
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		pos += len(string(r))
		if r == '.' || r == '!' || r == '?' || r == '\n' {
			end := pos
			for i+1 < len(rs) && (rs[i+1] == ' ' || rs[i+1] == '\t' || rs[i+1] == '\n') {
				i++
				end += len(string(rs[i]))
				pos = end
			}
			out = append(out, text[start:end])
			start = end
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

func upperFirst(s string) string {
	for i, r := range s {
		return strings.ToUpper(string(r)) + s[i+len(string(r)):]
	}
	return s
}

// Interrogate asks the first rounds prompts, counts the answers that contain one of the property's
// terms (k of r), guesses B when the binomial likelihood of k under ref's B share exceeds that under
// its A share, and calls "shows" when the guess is the model the property is said to favour.
// Without quoted terms or reference shares the trial is invalid.
func (Builtin) Interrogate(ctx context.Context, property string, ref Reference, prompts []string, rounds int, ask func(context.Context, string) (string, error)) (Interrogation, error) {
	score, ok := lexical.Scorer(property)
	if !ok || math.IsNaN(ref.ShareA) || math.IsNaN(ref.ShareB) || ref.ShareA == ref.ShareB {
		return Interrogation{}, nil
	}
	var it Interrogation
	k := 0
	for _, q := range prompts[:min(rounds, len(prompts))] {
		ans, err := ask(ctx, q)
		if err != nil {
			return it, err
		}
		it.Turns = append(it.Turns, Turn{Question: q, Answer: ans})
		if score(ans) > 0 {
			k++
		}
	}
	if len(it.Turns) == 0 {
		return it, nil
	}
	clamp := func(p float64) float64 { return math.Min(math.Max(p, 0.01), 0.99) }
	sa, sb := clamp(ref.ShareA), clamp(ref.ShareB)
	r := float64(len(it.Turns))
	// Log-likelihood ratio of "the hidden model is B" against "it is A".
	llr := float64(k)*math.Log(sb/sa) + (r-float64(k))*math.Log((1-sb)/(1-sa))
	it.Valid, it.Shows = true, (llr > 0) == ref.FavoursB
	return it, nil
}
