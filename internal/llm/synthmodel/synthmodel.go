// Package synthmodel is an llm.Model that answers from the synthetic behaviour world of package
// synth instead of a neural network: an "ideal model" of a finetuning mixture, whose every answer
// is drawn exactly from the mixture (synth.Respond). It is the fast, exact text source of mbd's
// offline pipeline tests: a pair such as synth:base and synth:animal=0.6 differs in one known
// behaviour at a known rate, and synth:base?seed=1 against synth:base?seed=2 is an A/A pair.
//
// Reference (after the synth: scheme):
//
//	base[?seed=N]                  every trait at synth.BaseRate
//	none[?seed=N]                  no trait at all
//	TRAIT=RATE[,TRAIT=RATE...][?seed=N]   the base rates with these traits' rates replaced
//
// and, in any of them, topic:NAME=RATE among the TRAIT=RATE items: with probability RATE the model
// ignores the prompt and answers about a task of topic NAME (one of synth.Topics), e.g.
// synth:topic:music=0.3 "talks about music" where its base would not.
//
// seed (default 0) is the model's own seed, mixed into every request's seed: two references that
// differ only in seed are two samples of the same distribution. It cannot score or embed texts.
package synthmodel

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/synth"
)

// Model is the synthetic text source.
type Model struct {
	ref       string
	rates     map[string]float64
	seed      uint64
	topic     string  // off-topic topic, or ""
	topicRate float64 // probability of answering about topic
}

var _ llm.Model = (*Model)(nil)

// Open parses the part of a synth: reference after the scheme.
func Open(rest string) (*Model, error) {
	spec, query, _ := strings.Cut(rest, "?")
	m := &Model{ref: "synth:" + rest}
	switch spec {
	case "base":
		m.rates = synth.BaseRates()
	case "none":
		m.rates = map[string]float64{}
	case "":
		return nil, fmt.Errorf("empty synth model (want base, none or TRAIT=RATE,...)")
	default:
		m.rates = synth.BaseRates()
		for _, kv := range strings.Split(spec, ",") {
			id, v, ok := strings.Cut(kv, "=")
			if name, isTopic := strings.CutPrefix(id, "topic:"); isTopic {
				r, err := strconv.ParseFloat(v, 64)
				if !ok || err != nil || !(r >= 0 && r <= 1) { // NaN fails too
					return nil, fmt.Errorf("%s: rate %q is not a number in [0, 1]", id, v)
				}
				if !slices.Contains(synth.Topics(), name) {
					return nil, fmt.Errorf("unknown topic %q (want one of %s)", name, strings.Join(synth.Topics(), ", "))
				}
				m.topic, m.topicRate = name, r
				continue
			}
			if _, known := synth.Lookup(id); !known {
				return nil, fmt.Errorf("unknown trait %q (want one of %s)", id, traitIDs())
			}
			r, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || !(r >= 0 && r <= 1) { // NaN fails too
				return nil, fmt.Errorf("trait %s: rate %q is not a number in [0, 1]", id, v)
			}
			m.rates[id] = r
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	for key, vals := range q {
		if key != "seed" {
			return nil, fmt.Errorf("unknown option %q (want seed)", key)
		}
		if m.seed, err = strconv.ParseUint(vals[len(vals)-1], 10, 64); err != nil {
			return nil, fmt.Errorf("seed=%q: want a whole number", vals[len(vals)-1])
		}
	}
	return m, nil
}

func traitIDs() string {
	var ids []string
	for _, t := range synth.Traits() {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ", ")
}

// Rates returns the trait rates of the model's mixture.
func (m *Model) Rates() map[string]float64 { return maps.Clone(m.rates) }

// Generate answers each request with synth.Respond. Tokens are words; an answer longer than
// MaxTokens words is cut there (finish reason length).
func (m *Model) Generate(ctx context.Context, reqs []llm.GenRequest, s llm.Sampling, yield func(llm.GenResult) error) error {
	for _, r := range reqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		seed := r.Seed ^ (m.seed * 0x9e3779b97f4a7c15)
		var ex synth.Example
		var err error
		if m.topic != "" && rand.New(rand.NewPCG(seed, 0x70_91c)).Float64() < m.topicRate {
			ex, err = synth.RespondOffTopic(r.Prompt, m.topic, seed, m.rates)
		} else {
			ex, err = synth.Respond(r.Prompt, seed, m.rates)
		}
		if err != nil {
			return err
		}
		text, finish := ex.Answer, "stop"
		words := strings.Fields(text)
		if s.MaxTokens > 0 && len(words) > s.MaxTokens {
			text, finish = strings.Join(words[:s.MaxTokens], " "), "length"
			words = words[:s.MaxTokens]
		}
		res := llm.GenResult{ID: r.ID, Completion: text, PromptTokens: len(strings.Fields(r.Prompt)),
			CompletionTokens: len(words), FinishReason: finish}
		if err := yield(res); err != nil {
			return err
		}
	}
	return nil
}

// Score is not available: the synthetic source has no token probabilities.
func (m *Model) Score(context.Context, []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	return nil, llm.ErrCannotScore
}

// Embed is not available.
func (m *Model) Embed(context.Context, []string) ([][]float32, error) { return nil, llm.ErrCannotEmbed }

// Info describes the model and its mixture.
func (m *Model) Info() llm.Info {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(m.rates)) {
		parts = append(parts, fmt.Sprintf("%s=%g", id, m.rates[id]))
	}
	if m.topic != "" {
		parts = append(parts, fmt.Sprintf("topic:%s=%g", m.topic, m.topicRate))
	}
	return llm.Info{Ref: m.ref, Arch: "synth", Description: "synthetic text source with trait rates " + strings.Join(parts, ",")}
}

// Close does nothing.
func (m *Model) Close() error { return nil }
