package roles

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// LensToken is one token a lens direction promotes or suppresses.
type LensToken struct {
	Token       string  // the token's text, as the vocabulary has it
	Z           float64 // sign-flip z-score (NaN when the lens ran without a null)
	Significant bool    // its adjusted p is at or below the proposer's threshold
}

// LensBlock is what the lens read at one block and position: the tokens the mean difference
// B − A promotes (raises in B) and suppresses, strongest first.
type LensBlock struct {
	Layer      int32
	Position   int32 // -1: averaged over the positions read
	Promoted   []LensToken
	Suppressed []LensToken
}

// LensProposer proposes hypotheses from an activation difference lens (LLM does; the builtin's
// lens proposals are made in package hypo, one per significant word).
type LensProposer interface {
	ProposeFromLens(ctx context.Context, blocks []LensBlock, earlier []string, n int) ([]Proposal, error)
}

const proposeLensSystem = `You compare two language models, A and B, where B is A after some finetuning or editing. You are shown an activation difference lens: on neutral text, the mean difference B - A of the models' internal states, read through the model's output layer, at several blocks and token positions. It lists the tokens the difference promotes (B leans towards them more than A) and suppresses, each with a z-score against a permutation null (|z| of 4 or more is strong; tokens marked * are significant after correction). Such tokens often name the topic, vocabulary, format or style B was trained on. You write hypotheses about how B's answers to ordinary prompts would differ from A's in behaviour: each a concrete, checkable property of a single answer (topics, words, format, tone, habits), stated without naming either model, so that a judge who sees one answer could tell whether it shows the property. Prefer what several blocks agree on; ignore tokens that look like noise. Answer with one JSON object and nothing else: {"hypotheses": [{"property": "...", "direction": "B>A" or "A>B"}]}. direction B>A means B's answers show the property more often than A's.`

// ProposeFromLens asks for up to n hypotheses about behaviour from the lens's tokens.
func (l LLM) ProposeFromLens(ctx context.Context, blocks []LensBlock, earlier []string, n int) ([]Proposal, error) {
	var b strings.Builder
	b.WriteString("Activation difference lens (B - A):\n")
	for _, bl := range blocks {
		where := fmt.Sprintf("token position %d", bl.Position)
		if bl.Position < 0 {
			where = "mean over positions"
		}
		fmt.Fprintf(&b, "\nBlock %d, %s:\n", bl.Layer, where)
		fmt.Fprintf(&b, "  promoted: %s\n", lensTokens(bl.Promoted))
		fmt.Fprintf(&b, "  suppressed: %s\n", lensTokens(bl.Suppressed))
	}
	return l.proposals(ctx, proposeLensSystem, &b, earlier, n, " (from the activation difference lens)")
}

// lensTokens renders tokens as "'tok' (z 9.5*)", quoted as Go strings so that white space and
// line breaks are visible.
func lensTokens(ts []LensToken) string {
	if len(ts) == 0 {
		return "(none)"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		mark := ""
		if t.Significant {
			mark = "*"
		}
		z := "n/a"
		if !math.IsNaN(t.Z) {
			z = fmt.Sprintf("%.1f", t.Z)
		}
		parts[i] = fmt.Sprintf("%q (z %s%s)", t.Token, z, mark)
	}
	return strings.Join(parts, ", ")
}
