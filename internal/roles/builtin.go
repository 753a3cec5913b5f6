package roles

import (
	"context"
	"math"
	"strings"

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

// Exemplify edits base into a minimal pair. For a property that quotes terms: without the
// property, base with every sentence that contains a term removed; with it, that text with one
// sentence made of the first term appended ("otter." — crude prose, but both models score the same
// words, and the test measures which model the inserted words favour). Any other property is not
// available — LengthProperty included: a longer and a shorter text differ in their number of
// tokens, and a sum of log-probability differences over more tokens moves for reasons that have
// nothing to do with length preference.
func (Builtin) Exemplify(_ context.Context, property, _, base string, shows bool) (string, bool, error) {
	sents := sentences(base)
	terms := lexical.Terms(property)
	if len(terms) == 0 {
		return "", false, ErrNotAvailable
	}
	var kept []string
	for _, s := range sents {
		if lexical.Score(s, terms) == 0 {
			kept = append(kept, s)
		}
	}
	if shows {
		kept = append(kept, upperFirst(strings.ReplaceAll(terms[0], "¶", "\n"))+".")
	}
	if len(kept) == 0 {
		return "", false, nil
	}
	return strings.Join(kept, " "), true, nil
}

// sentences splits a text after . ! ? and at line breaks.
func sentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if r == '.' || r == '!' || r == '?' || r == '\n' {
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
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
// terms (k of r) and calls "shows" when the binomial likelihood of k under the B share exceeds that
// under the A share of ref, with the larger share as "shows". Without quoted terms or reference
// shares the trial is invalid.
func (Builtin) Interrogate(ctx context.Context, property string, ref Reference, prompts []string, rounds int, ask func(context.Context, string) (string, error)) (Interrogation, error) {
	terms := lexical.Terms(property)
	if len(terms) == 0 || math.IsNaN(ref.ShareA) || math.IsNaN(ref.ShareB) || ref.ShareA == ref.ShareB {
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
		if lexical.Score(ans, terms) > 0 {
			k++
		}
	}
	if len(it.Turns) == 0 {
		return it, nil
	}
	clamp := func(p float64) float64 { return math.Min(math.Max(p, 0.01), 0.99) }
	hi, lo := clamp(math.Max(ref.ShareA, ref.ShareB)), clamp(math.Min(ref.ShareA, ref.ShareB))
	r := float64(len(it.Turns))
	llr := float64(k)*math.Log(hi/lo) + (r-float64(k))*math.Log((1-hi)/(1-lo))
	it.Valid, it.Shows = true, llr > 0
	return it, nil
}
