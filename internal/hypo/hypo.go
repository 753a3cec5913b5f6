// Package hypo proposes hypotheses about how model B's texts differ from model A's: the stage
// behind mbd-hypo.
//
// Regions described: all discovery texts (region -1) and the best-ranked regions of mbd-match
// whose category is not "same" (Differing). For each, the assistant sees texts of A and of B — for
// an LLM, Params.Samples per side, prompt-stratified: prompts that both models answered come first,
// so that the two sides differ in the model rather than in the question — and proposes up to
// Params.PerRegion hypotheses; further rounds show it the properties proposed so far and ask for
// different ones. Near-duplicate properties (cosine ≥ Params.Dedup of their word-count vectors)
// are kept once. Every hypothesis records the generation ids it was written from (evidence_ids:
// these never validate it), its regions, its proposer, and a hash of the proposer's input. Only
// discovery-split texts are read; validation-split texts are never shown.
package hypo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Params are the settings of Propose.
type Params struct {
	Rounds    int     // proposal rounds per region (an LLM only: the builtin is deterministic)
	PerRegion int     // hypotheses asked for per region and round
	Samples   int     // texts per model shown to an LLM per round
	Dedup     float64 // word-count cosine at or above which two properties are duplicates
	Seed      uint64  // seed of the text sampling
	MinZ      float64 // builtin: least |log-odds z| of a proposed term (0: lexical's default)
}

// Result is what Propose found.
type Result struct {
	Hypotheses    []schema.Hypothesis
	BudgetReached bool // the assistant's budget stopped the proposals early
	Invalid       int  // proposer answers refused or unparsable
}

// Propose asks sess for hypotheses about each region, in order, and keeps those that are not
// near-duplicates of one already kept. done (which may be nil) is called after each region. A
// reached budget ends the proposals without an error (Result.BudgetReached).
func Propose(ctx context.Context, sess roles.Session, regions []Region, p Params, log *slog.Logger, done func()) (Result, error) {
	if b, ok := sess.Assistant.(roles.Builtin); ok {
		b.Options.MinZ = p.MinZ
		sess.Assistant = b
	}
	type kept struct {
		row   schema.Hypothesis
		words map[string]float64
	}
	var hyps []kept
	var properties []string
	var res Result
	rng := rand.New(rand.NewPCG(p.Seed, 0x4170))
	for _, rg := range regions {
		if res.BudgetReached {
			break
		}
		rounds := p.Rounds
		if sess.Client == nil {
			rounds = 1 // the builtin describer is deterministic: a second round adds nothing new
		}
		for round := 0; round < rounds; round++ {
			sa, sb := rg.A, rg.B
			if sess.Client != nil {
				sa, sb = stratified(rg.A, rg.B, p.Samples, rng)
			}
			ps, err := sess.Propose(ctx, samples(sa), samples(sb), properties, p.PerRegion)
			if errors.Is(err, roles.ErrInvalidAnswer) {
				res.Invalid++
				log.Warn("proposer answer refused or unparsable: counted, going on", "region", rg.ID, "round", round)
				continue
			}
			if errors.Is(err, assistant.ErrBudget) {
				log.Warn("assistant budget reached: writing the hypotheses so far; rerun with a larger --budget to go on (answers so far are cached)")
				res.BudgetReached = true
				break
			}
			if err != nil {
				return res, fmt.Errorf("region %d: %w", rg.ID, err)
			}
			evidence := ids(sa, sb)
			h := sha256.Sum256([]byte(sess.Ref() + "\x00" + strings.Join(evidence, ",") + "\x00" + strings.Join(properties, "\x00")))
			for _, pr := range ps {
				w := lexical.WordCounts(pr.Property)
				dup := slices.ContainsFunc(hyps, func(k kept) bool {
					return k.row.Direction == pr.Direction && lexical.Cosine(k.words, w) >= p.Dedup
				})
				if dup {
					continue
				}
				properties = append(properties, pr.Property)
				row := schema.Hypothesis{ID: ID(pr.Property, pr.Direction), Text: pr.Text, Property: pr.Property, Direction: pr.Direction,
					Kind: pr.Kind, Proposer: sess.Ref(), Regions: []int32{rg.ID}, EvidenceIDs: evidence,
					ProposerPrompt: hex.EncodeToString(h[:8]), ShareA: finite(pr.ShareA), ShareB: finite(pr.ShareB)}
				hyps = append(hyps, kept{row, w})
			}
		}
		if done != nil {
			done()
		}
	}
	for _, k := range hyps {
		res.Hypotheses = append(res.Hypotheses, k.row)
	}
	return res, nil
}

// ID is a hypothesis id: the first 16 hex digits of SHA-256 of direction and property.
func ID(property, direction string) string {
	h := sha256.Sum256([]byte(direction + "\x00" + property))
	return hex.EncodeToString(h[:8])
}

func finite(x float64) *float64 {
	if math.IsNaN(x) {
		return nil
	}
	return &x
}

func samples(ts []Text) []roles.Sample {
	out := make([]roles.Sample, len(ts))
	for i, t := range ts {
		out[i] = roles.Sample{Prompt: t.Prompt, Text: t.Completion}
	}
	return out
}

func ids(a, b []Text) []string {
	var out []string
	for _, t := range a {
		out = append(out, t.ID)
	}
	for _, t := range b {
		out = append(out, t.ID)
	}
	return out
}
