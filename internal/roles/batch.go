package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mbd-dev/mbd/internal/lexical"
)

// PairToJudge is one pair of a batch judgment: a prompt and two answers to it, in the order shown.
type PairToJudge struct {
	Prompt        string
	First, Second string
}

// JudgePairs is lexical.JudgePair on each pair (no calls).
func (Builtin) JudgePairs(_ context.Context, property string, pairs []PairToJudge) ([]Verdict, error) {
	out := make([]Verdict, len(pairs))
	for i, p := range pairs {
		out[i] = lexical.JudgePair(property, p.First, p.Second)
	}
	return out, nil
}

const judgeBatchSystem = `You are a careful, impartial judge. You are given a property and several numbered pairs of answers; the two answers of a pair answer the same prompt. For each pair on its own, decide which of its two answers shows the property more. Judge only the property; ignore quality, length and order unless the property is about them. Answer with one JSON object and nothing else: {"verdicts": ["1", "2", "same", ...]}, with exactly one element per pair, in the pairs' order: "1" if the pair's first answer shows it more, "2" if its second does, "same" if they show it equally or neither shows it.`

// judgeBatchUser is the user message of a batch judgment: the property, then each pair under a
// "[Pair i of k]" line.
func (l LLM) judgeBatchUser(property string, pairs []PairToJudge) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Property: %s\n\nThere are %d pairs; give %d verdicts.", property, len(pairs), len(pairs))
	for i, p := range pairs {
		fmt.Fprintf(&b, "\n\n[Pair %d of %d]\nPrompt: %s\n\nAnswer 1:\n%s\n\nAnswer 2:\n%s", i+1, len(pairs), l.cut(p.Prompt), l.cut(p.First), l.cut(p.Second))
	}
	return b.String()
}

// JudgePairs asks which text of each pair shows property more, all pairs in one request
// (temperature 0). One pair is asked with JudgePair's request, so that its answers (and cache
// entries) are those of a single judgment. A refused or unparsable answer, or one with the wrong
// number of verdicts, makes every pair Invalid; an unknown verdict makes its pair Invalid.
func (l LLM) JudgePairs(ctx context.Context, property string, pairs []PairToJudge) ([]Verdict, error) {
	switch len(pairs) {
	case 0:
		return nil, nil
	case 1:
		v, err := l.JudgePair(ctx, property, pairs[0].Prompt, pairs[0].First, pairs[0].Second)
		if err != nil {
			return nil, err
		}
		return []Verdict{v}, nil
	}
	// A few tokens a verdict; a single judgment's allowance at least.
	resp, err := l.chat(ctx, judgeBatchSystem, l.judgeBatchUser(property, pairs), 0, 0, max(1024, 16*len(pairs)))
	if err != nil {
		return nil, err
	}
	if resp.Refused {
		return make([]Verdict, len(pairs)), nil
	}
	return ParseVerdicts(resp.Text, len(pairs)), nil
}

// ParseVerdicts reads a batch judgment's answer for n pairs: {"verdicts": [...]} with n elements,
// each "1", "2" or "same". An answer that does not decode strictly or has another number of
// elements gives n Invalid verdicts; an element that is not one of the three gives Invalid for
// its pair only.
func ParseVerdicts(text string, n int) []Verdict {
	out := make([]Verdict, n) // Invalid is the zero Verdict
	var v struct {
		Verdicts []json.RawMessage `json:"verdicts"`
	}
	if DecodeStrict(text, &v) != nil || len(v.Verdicts) != n {
		return out
	}
	for i, raw := range v.Verdicts {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		out[i] = choice(s)
	}
	return out
}

// choice is the verdict of a judge's "1", "2" or "same" (Invalid for anything else).
func choice(s string) Verdict {
	switch s {
	case "1":
		return First
	case "2":
		return Second
	case "same":
		return Tie
	}
	return Invalid
}
