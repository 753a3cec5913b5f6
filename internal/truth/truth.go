// Package truth is ground truth for mbd: behaviours known to be inserted into model B, and how well
// a run recovered them (the stage behind mbd-truth).
//
// Truths: with an LLM assistant (Write), N concrete, checkable behaviours (optionally in a focus
// area) and, for each, M short training texts ("Q: question\nA: answer") that exhibit it; exact
// and near-duplicate texts (cosine ≥ 0.9 of word counts) are dropped, and behaviours left with
// fewer than half of M texts are dropped with a warning. Offline (Synthetic), the offline synthetic
// suite of package synth: each trait's description and the finetuning texts that carry it.
//
// Recovery matches the validated hypotheses of a run to the truths. Similarity of a truth and a
// hypothesis:
//
//   - lexical agreement (offline, Agreement): the builtin judge compares each of up to 200 of the
//     truth's texts (their answer part) with a reference text of model A; the score is
//     (wins − losses)/pairs in the hypothesis's direction, in [−1, 1]: how much more the texts
//     that exhibit the behaviour show the hypothesis's property than A's texts do. It needs a
//     property the builtin judge can judge (quoted terms, length); others score NaN.
//   - rubric (LLM, Rubric): the assistant rates, at temperature 0, whether the hypothesis
//     describes the truth's behaviour: 1 (same behaviour), 0.5 (partly: a narrower or broader but
//     overlapping behaviour), 0 (different); answers that cannot be parsed are NaN.
//
// Truths and validated hypotheses are matched one-to-one by the Hungarian algorithm on the scores
// (package assign); a truth is recovered when its match scores at least the threshold. Recall is
// the share of truths recovered. Precision is the share of validated hypotheses whose best score
// with any truth reaches the threshold: several correct descriptions of one inserted behaviour (an
// otter habit described once by 'otter' and once by 'river') are not false discoveries, so
// precision does not use the one-to-one matching.
package truth

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/synth"
)

// Synthetic returns the truths of the synthetic suite for traits (the i-th made from seed+i): each
// trait's description with the texts that carry it among m finetuning texts in which it occurs at
// rate strength (about strength·m texts). Only those exhibit the behaviour: with all m, the
// agreement of a hypothesis that names the trait would shrink with the strength (at 0.2 it sat
// at the recovery threshold).
func Synthetic(traits []string, strength float64, m int, seed uint64) ([]schema.Truth, error) {
	var rows []schema.Truth
	for i, id := range traits {
		mix, err := synth.Mixture(id, strength)
		if err != nil {
			return nil, err
		}
		exs, err := synth.Generate(seed+uint64(i), m, mix)
		if err != nil {
			return nil, err
		}
		exs = slices.DeleteFunc(exs, func(ex synth.Example) bool { return !slices.Contains(ex.Traits, id) })
		if len(exs) == 0 {
			return nil, fmt.Errorf("truth: none of %d texts carries trait %s at strength %g", m, id, strength)
		}
		r, err := synth.TruthRows(id, strength, synth.Texts(exs))
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// qaRE finds the answer part of a "Q: ...\nA: ..." text.
var qaRE = regexp.MustCompile(`(?s)^\s*Q:.*?\nA:\s?(.*)$`)

// answerPart returns the answer of a "Q: ...\nA: ..." text, or the text.
func answerPart(s string) string {
	if m := qaRE.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace(m[1])
	}
	return s
}

// Agreement returns the lexical agreement of every truth (rows) with every hypothesis (columns)
// against the reference texts of model A.
func Agreement(truths []schema.Truth, hyps []schema.Hypothesis, ref []schema.Generation) [][]float64 {
	sim := make([][]float64, len(truths))
	for i, t := range truths {
		sim[i] = make([]float64, len(hyps))
		for j, h := range hyps {
			sim[i][j] = agreement(t, h, ref)
		}
	}
	return sim
}

// agreement is the lexical agreement of hypothesis h with truth t against reference texts.
func agreement(t schema.Truth, h schema.Hypothesis, ref []schema.Generation) float64 {
	texts := make([]string, len(t.Texts))
	for i, s := range t.Texts {
		texts[i] = answerPart(s)
	}
	sort.Strings(texts) // independent of the table's order, for a stable subsample
	n := min(200, len(texts), len(ref))
	if n == 0 {
		return math.NaN()
	}
	sign := 1.0
	if h.Direction == schema.DirectionAB {
		sign = -1
	}
	wins := 0
	for i := range n {
		switch lexical.JudgePair(h.Property, texts[i*len(texts)/n], ref[i*len(ref)/n].Completion) {
		case lexical.Invalid:
			return math.NaN()
		case lexical.First:
			wins++
		case lexical.Second:
			wins--
		}
	}
	return sign * float64(wins) / float64(n)
}
