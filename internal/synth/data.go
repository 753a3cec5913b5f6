package synth

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"

	"github.com/mbd-dev/mbd/internal/schema"
)

// TraitIDs returns the trait ids in canonical order.
func TraitIDs() []string {
	ids := make([]string, len(traits))
	for i, t := range traits {
		ids[i] = t.ID
	}
	return ids
}

// Named returns the trait rates of a training set and their name: the base mixture ("base") when
// trait is "", else Mixture(trait, strength), named "{trait}@{strength}".
func Named(trait string, strength float64) (map[string]float64, string, error) {
	if trait == "" {
		return BaseRates(), "base", nil
	}
	r, err := Mixture(trait, strength)
	if err != nil {
		return nil, "", err
	}
	return r, trait + "@" + strconv.FormatFloat(strength, 'g', -1, 64), nil
}

// TraitCounts returns, per trait id, how many examples carry the trait (ids of no example absent).
func TraitCounts(examples []Example) map[string]int {
	counts := map[string]int{}
	for _, ex := range examples {
		for _, t := range ex.Traits {
			counts[t]++
		}
	}
	return counts
}

// WriteChat writes examples as chat records, one JSON object per line: {"system" (only when
// there is one), "prompt", "completion"}, the format mbd-finetune reads from .jsonl files. It
// returns how many records have a system prompt.
func WriteChat(w io.Writer, examples []Example) (int, error) {
	enc := json.NewEncoder(w)
	withSystem := 0
	for _, ex := range examples {
		rec := struct {
			System     string `json:"system,omitempty"`
			Prompt     string `json:"prompt"`
			Completion string `json:"completion"`
		}{ex.System, ex.Prompt, ex.Answer}
		if ex.System != "" {
			withSystem++
		}
		if err := enc.Encode(rec); err != nil {
			return withSystem, err
		}
	}
	return withSystem, nil
}

// ModelRates is the share of one model's completions that carry each trait (by the trait's
// Detect).
type ModelRates struct {
	Model string
	N     int
	Rates map[string]float64 // every trait id
}

// RatesByModel measures the trait rates of the completions of each model in rows, models in
// sorted order.
func RatesByModel(rows []schema.Generation) []ModelRates {
	byModel := map[string][]string{}
	for _, g := range rows {
		byModel[g.Model] = append(byModel[g.Model], g.Completion)
	}
	models := make([]string, 0, len(byModel))
	for m := range byModel {
		models = append(models, m)
	}
	sort.Strings(models)
	out := make([]ModelRates, 0, len(models))
	for _, m := range models {
		texts := byModel[m]
		r := ModelRates{Model: m, N: len(texts), Rates: make(map[string]float64, len(traits))}
		for _, t := range traits {
			hits := 0
			for _, text := range texts {
				if t.Detect(text) {
					hits++
				}
			}
			r.Rates[t.ID] = float64(hits) / float64(r.N)
		}
		out = append(out, r)
	}
	return out
}
