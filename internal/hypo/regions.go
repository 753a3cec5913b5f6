package hypo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/mbd-dev/mbd/internal/schema"
)

// Text is one discovery-split generation the proposer may be shown.
type Text struct {
	ID, Model, PromptID, Prompt, Completion string
}

// Region is a set of texts of A and of B to contrast.
type Region struct {
	ID   int32 // matches.region, or -1 for all discovery texts
	A, B []Text
	// Shares of each model's texts in the region (matches.count_x / total_x); NaN for region -1.
	ShareA, ShareB float64
	// Outside holds the discovery texts of both models that are not in the region (nil for
	// region -1).
	Outside []Text
	// Origin is what the region's hypotheses are recorded as coming from (schema.OriginTexts,
	// OriginRegion, OriginSteered); "" means texts for region -1, region otherwise.
	Origin string
}

// origin is the origin of a hypothesis of kind proposed for the region.
func (r Region) origin(kind string) string {
	switch {
	case kind == "exemplar":
		return schema.OriginExemplar
	case r.Origin != "":
		return r.Origin
	case r.ID < 0:
		return schema.OriginTexts
	}
	return schema.OriginRegion
}

// Steered returns the region that contrasts A's texts (a) with steered texts, which stand in B's
// place: the discovery-split rows of steered, whatever their model label.
func Steered(a []Text, steered []schema.Generation) Region {
	r := Region{ID: -1, A: a, ShareA: math.NaN(), ShareB: math.NaN(), Origin: schema.OriginSteered}
	for _, g := range steered {
		if g.Split == schema.SplitDiscovery {
			r.B = append(r.B, Text{g.ID, g.Model, g.PromptID, g.Prompt, g.Completion})
		}
	}
	return r
}

// Discovery returns the discovery-split texts of gens, in order, and the model labels present in
// any split.
func Discovery(gens []schema.Generation) ([]Text, map[string]bool) {
	var texts []Text
	labels := map[string]bool{}
	for _, g := range gens {
		labels[g.Model] = true
		if g.Split == schema.SplitDiscovery {
			texts = append(texts, Text{g.ID, g.Model, g.PromptID, g.Prompt, g.Completion})
		}
	}
	return texts, labels
}

// All returns region -1 (the texts of models a and b, in order) and every text by id.
func All(texts []Text, a, b string) (Region, map[string]Text) {
	byID := map[string]Text{}
	all := Region{ID: -1, ShareA: math.NaN(), ShareB: math.NaN(), Origin: schema.OriginTexts}
	for _, t := range texts {
		byID[t.ID] = t
		switch t.Model {
		case a:
			all.A = append(all.A, t)
		case b:
			all.B = append(all.B, t)
		}
	}
	return all, byID
}

// Differing returns the regions of ms whose category is not "same", at most n, best ranked first,
// with their members' texts (from cl and byID). A region with no texts of one model (only-in-A or
// only-in-B) is contrasted with that model's texts at large.
func Differing(ms []schema.Match, cl []schema.Cluster, n int, a, b string, byID map[string]Text) []Region {
	ms = slices.Clone(ms)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Rank < ms[j].Rank })
	type key struct {
		model   string
		cluster int32
	}
	members := map[key][]Text{}
	for _, c := range cl {
		if t, ok := byID[c.GenerationID]; ok {
			members[key{c.Model, c.Cluster}] = append(members[key{c.Model, c.Cluster}], t)
		}
	}
	var out []Region
	for _, m := range ms {
		if m.Category == schema.CategorySame || len(out) == n {
			continue
		}
		r := Region{ID: m.Region, ShareA: share(m.CountA, m.TotalA), ShareB: share(m.CountB, m.TotalB), Origin: schema.OriginRegion}
		if m.ClusterA != nil {
			r.A = members[key{a, *m.ClusterA}]
		}
		if m.ClusterB != nil {
			r.B = members[key{b, *m.ClusterB}]
		}
		in := map[string]bool{}
		for _, t := range append(slices.Clone(r.A), r.B...) {
			in[t.ID] = true
		}
		for _, t := range append(allOf(byID, a), allOf(byID, b)...) {
			if !in[t.ID] {
				r.Outside = append(r.Outside, t)
			}
		}
		if len(r.A) == 0 {
			r.A = allOf(byID, a)
		}
		if len(r.B) == 0 {
			r.B = allOf(byID, b)
		}
		out = append(out, r)
	}
	return out
}

func share(n, total int64) float64 {
	if total <= 0 {
		return math.NaN()
	}
	return float64(n) / float64(total)
}

func allOf(byID map[string]Text, model string) []Text {
	var out []Text
	for _, t := range byID {
		if t.Model == model {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// stratified draws up to n texts per side, first from prompts both sides answered (one text of
// each per prompt), then from the rest.
func stratified(a, b []Text, n int, rng *rand.Rand) ([]Text, []Text) {
	byPrompt := map[string][2][]Text{}
	for _, t := range a {
		x := byPrompt[t.PromptID]
		x[0] = append(x[0], t)
		byPrompt[t.PromptID] = x
	}
	for _, t := range b {
		x := byPrompt[t.PromptID]
		x[1] = append(x[1], t)
		byPrompt[t.PromptID] = x
	}
	var shared []string
	for id, x := range byPrompt {
		if len(x[0]) > 0 && len(x[1]) > 0 {
			shared = append(shared, id)
		}
	}
	sort.Strings(shared)
	rng.Shuffle(len(shared), func(i, j int) { shared[i], shared[j] = shared[j], shared[i] })
	var sa, sb []Text
	seen := map[string]bool{}
	for _, id := range shared[:min(n, len(shared))] {
		x := byPrompt[id]
		sa, sb = append(sa, x[0][0]), append(sb, x[1][0])
		seen[x[0][0].ID], seen[x[1][0].ID] = true, true
	}
	fill := func(dst, src []Text) []Text {
		rest := slices.DeleteFunc(slices.Clone(src), func(t Text) bool { return seen[t.ID] })
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		for _, t := range rest {
			if len(dst) == n {
				break
			}
			dst = append(dst, t)
		}
		return dst
	}
	return fill(sa, a), fill(sb, b)
}
