// Package hypo proposes hypotheses about how model B's texts differ from model A's: the stage
// behind mbd-hypo.
//
// Regions described: all discovery texts (region -1) and the best-ranked regions of mbd-match
// whose category is not "same" (Differing). For each, the assistant sees texts of A and of B — for
// an LLM, Params.Samples per side, prompt-stratified: prompts that both models answered come first,
// so that the two sides differ in the model rather than in the question — and proposes up to
// Params.PerRegion hypotheses; further rounds show it the properties proposed so far and ask for
// different ones. Near-duplicate properties (cosine ≥ Params.Dedup of their word-count vectors)
// are kept once. A region of mbd-match for which the proposer writes nothing still becomes a
// hypothesis, described by exemplars (see exemplarProposal), so that a difference seen only in the
// embedding space is not dropped before validation. Every hypothesis records the generation ids
// it was written from (evidence_ids: these never validate it), its regions, its proposer, a hash
// of the proposer's input and its origin (texts, region, exemplar, steered: Region.Origin; lens
// for ProposeLens, lens.go). Only discovery-split texts are read; validation-split texts are
// never shown.
//
// Steered texts (Steered) — generated with the lens's mean difference added as a steering vector —
// are a region of their own: A's discovery texts against the steered texts in B's place, so that
// whatever the steering makes a model say more is proposed as a B>A property.
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
		proposed := 0
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
			proposed += len(ps)
			if proposed == 0 && round == rounds-1 && rg.ID >= 0 {
				if pr, ok := exemplarProposal(rg); ok {
					ps = append(ps, pr)
				}
			}
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
					ProposerPrompt: hex.EncodeToString(h[:8]), ShareA: finite(pr.ShareA), ShareB: finite(pr.ShareB), Origin: origin(rg.origin(pr.Kind))}
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

// Exemplar hypotheses: a region whose shares differ but that the proposer found no words for
// still reaches validation, as "reads like these answers rather than these"
// (lexical.ExemplarProperty): the exemplars are the favoured model's texts in the region nearest
// their word centroid, the counter-examples the same model's texts outside the region nearest
// theirs, so that what tells them apart is the region, not the model's style.
const (
	exemplarCount = 5   // exemplars and counter-examples per property
	exemplarChars = 400 // a text is cut to about this many bytes, at a word boundary
)

// exemplarProposal describes region rg by exemplars; ok is false when its shares are unknown or
// equal, or the favoured model has no texts in it.
func exemplarProposal(rg Region) (roles.Proposal, bool) {
	if math.IsNaN(rg.ShareA) || math.IsNaN(rg.ShareB) || rg.ShareA == rg.ShareB {
		return roles.Proposal{}, false
	}
	dir, more, less, texts := schema.DirectionBA, "B", "A", rg.B
	if rg.ShareA > rg.ShareB {
		dir, more, less, texts = schema.DirectionAB, "A", "B", rg.A
	}
	if len(texts) == 0 {
		return roles.Proposal{}, false
	}
	var outside []Text
	for _, t := range rg.Outside {
		if t.Model == texts[0].Model {
			outside = append(outside, t)
		}
	}
	if len(outside) == 0 {
		return roles.Proposal{}, false
	}
	ex, counter := typical(texts), typical(outside)
	return roles.Proposal{Property: lexical.ExemplarProperty(ex, counter), Direction: dir, Kind: "exemplar", ShareA: rg.ShareA, ShareB: rg.ShareB,
		Text: fmt.Sprintf("%s's answers more often than %s's: read like the answers of region %d, which the describer found no words for (in %.0f%% of B's vs %.0f%% of A's discovery texts; e.g. «%s»)",
			more, less, rg.ID, 100*rg.ShareB, 100*rg.ShareA, cut(ex[0], 120))}, true
}

// typical returns the exemplarCount texts nearest their word centroid, cut to exemplarChars.
func typical(texts []Text) []string {
	docs := make([]string, len(texts))
	for i, t := range texts {
		docs[i] = t.Completion
	}
	var out []string
	for _, i := range lexical.Typical(docs, exemplarCount) {
		out = append(out, cut(docs[i], exemplarChars))
	}
	return out
}

// cut shortens s to at most n bytes at a word boundary, marking the cut with "…".
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	if i := strings.LastIndexByte(s[:n], ' '); i > 0 {
		return s[:i] + "…"
	}
	return s[:n] + "…"
}
