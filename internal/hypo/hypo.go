// Package hypo is mbd-hypo: discovery-split generations of two models (and, optionally, the regions
// where they differ from mbd-match) → hypotheses about how model B differs from model A.
//
// Regions described: all discovery texts (region -1) and the --regions best-ranked regions of
// --matches whose category is not "same" (members from --clusters). For each, the assistant sees
// texts of A and of B — for an LLM, --samples per side, prompt-stratified: prompts that both models
// answered come first, so that the two sides differ in the model rather than in the question —
// and proposes up to --per-region hypotheses; further --rounds show it the properties proposed
// so far and ask for different ones. Near-duplicate properties (cosine ≥ --dedup of their word
// count vectors) are kept once. Every hypothesis records the generation ids it was written from
// (evidence_ids: these never validate it), its regions, its proposer, and a hash of the proposer's
// input. Only discovery-split texts are read; validation-split texts are never shown.
package hypo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-hypo.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output hypotheses table (`PATH` or -)"},
		&ucli.StringFlag{Name: "a", Usage: "label of model A (default: the first of the two labels, sorted)"},
		&ucli.StringFlag{Name: "b", Usage: "label of model B (default: the second)"},
		&ucli.StringFlag{Name: "matches", Usage: "matches `TABLE` from mbd-match (with --clusters): also describe its differing regions"},
		&ucli.StringFlag{Name: "clusters", Usage: "clusters `TABLE` the matches were made from"},
		&ucli.IntFlag{Name: "regions", Value: 5, Usage: "differing regions described, best ranked first"},
		&ucli.IntFlag{Name: "per-region", Value: 3, Usage: "hypotheses asked for per region and round"},
		&ucli.IntFlag{Name: "rounds", Value: 2, Usage: "proposal rounds per region (later rounds ask for different hypotheses)"},
		&ucli.IntFlag{Name: "samples", Value: 8, Usage: "texts per model shown to an LLM assistant per round (builtin reads every text)"},
		&ucli.Float64Flag{Name: "dedup", Value: 0.8, Usage: "cosine similarity at or above which two properties are duplicates"},
		&ucli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the text sampling"},
		&ucli.Float64Flag{Name: "min-z", Value: 3.29, Usage: "builtin: least |log-odds z| of a proposed term (lower proposes more, weaker hypotheses)"},
	}
	return cli.Run(ctx, &ucli.Command{
		Name:      "mbd-hypo",
		Usage:     "propose hypotheses about how model B's behaviour differs from model A's",
		ArgsUsage: "GENERATIONS ...",
		Description: `Reads the discovery-split generations of models A and B (validation-split texts are skipped: they
are mbd-validate's) and writes a hypotheses table. Each hypothesis is a property stated without
model names (what judges see) and a direction (B>A: B shows it more).

The assistant is builtin (offline: contrastive log-odds of words and phrases and a word-count test;
cheap and a good first pass) or an LLM reference; keys come from OPENAI_API_KEY, ANTHROPIC_API_KEY
or GEMINI_API_KEY. LLM answers are cached (a rerun makes no calls) and --budget stops cleanly.

Examples:
  mbd-hypo gens-a.parquet gens-b.parquet -o hypotheses.parquet
  mbd-hypo --matches matches.parquet --clusters clusters.parquet gens-a.parquet gens-b.parquet -o hypotheses.parquet
  mbd-hypo --assistant openai:gpt-4o-mini --budget 2 --samples 10 gens.parquet -o hypotheses.parquet`,
		Flags:  append(flags, roles.Flags()...),
		Action: run,
	}, args, stdio)
}

type text struct {
	id, model, promptID, prompt, completion string
}

type region struct {
	id   int32 // matches.region, or -1 for all discovery texts
	a, b []text
}

func run(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	switch {
	case out == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case cmd.NArg() == 0:
		return cli.Usagef("want the GENERATIONS tables of models A and B")
	case (cmd.String("matches") == "") != (cmd.String("clusters") == ""):
		return cli.Usagef("give --matches and --clusters together")
	}
	var texts []text
	labels := map[string]bool{}
	for _, path := range cmd.Args().Slice() {
		rows, err := table.ReadAll[schema.Generation](path, nil)
		if err != nil {
			return err
		}
		for _, g := range rows {
			labels[g.Model] = true
			if g.Split == prompts.Discovery {
				texts = append(texts, text{g.ID, g.Model, g.PromptID, g.Prompt, g.Completion})
			}
		}
	}
	a, b, err := pickLabels(cmd, labels, cmd.Args().First())
	if err != nil {
		return err
	}
	byID := map[string]text{}
	all := region{id: -1}
	for _, t := range texts {
		byID[t.id] = t
		switch t.model {
		case a:
			all.a = append(all.a, t)
		case b:
			all.b = append(all.b, t)
		}
	}
	if len(all.a) == 0 || len(all.b) == 0 {
		return &table.InputError{Path: cmd.Args().First(), Msg: fmt.Sprintf("no discovery-split texts of %q or of %q (have %d and %d)", a, b, len(all.a), len(all.b))}
	}
	regions := []region{all}
	if mp := cmd.String("matches"); mp != "" {
		rs, err := differingRegions(mp, cmd.String("clusters"), int(cmd.Int("regions")), a, b, byID)
		if err != nil {
			return err
		}
		regions = append(regions, rs...)
	}

	sess, err := roles.Open(cmd, env.Log)
	if err != nil {
		return err
	}
	defer sess.Close()
	if b, ok := sess.Assistant.(roles.Builtin); ok {
		b.Options.MinZ = cmd.Float64("min-z")
		sess.Assistant = b
	}

	type kept struct {
		row   schema.Hypothesis
		words map[string]float64
	}
	var hyps []kept
	var properties []string
	budgetHit := false
	invalid := 0 // proposer answers refused or unparsable
	rng := rand.New(rand.NewPCG(cmd.Uint64("seed"), 0x4170))
	bar := env.Progress("describing", "regions", int64(len(regions)))
	for _, rg := range regions {
		if budgetHit {
			break
		}
		rounds := int(cmd.Int("rounds"))
		if sess.Client == nil {
			rounds = 1 // the builtin describer is deterministic: a second round adds nothing new
		}
		for round := 0; round < rounds; round++ {
			sa, sb := rg.a, rg.b
			if sess.Client != nil {
				sa, sb = stratified(rg.a, rg.b, int(cmd.Int("samples")), rng)
			}
			ps, err := sess.Propose(ctx, samples(sa), samples(sb), properties, int(cmd.Int("per-region")))
			if errors.Is(err, roles.ErrInvalidAnswer) {
				invalid++
				env.Log.Warn("proposer answer refused or unparsable: counted, going on", "region", rg.id, "round", round)
				continue
			}
			if errors.Is(err, assistant.ErrBudget) {
				env.Log.Warn("assistant budget reached: writing the hypotheses so far; rerun with a larger --budget to go on (answers so far are cached)")
				budgetHit = true
				break
			}
			if err != nil {
				return fmt.Errorf("region %d: %w", rg.id, err)
			}
			evidence := ids(sa, sb)
			h := sha256.Sum256([]byte(sess.Ref() + "\x00" + strings.Join(evidence, ",") + "\x00" + strings.Join(properties, "\x00")))
			for _, p := range ps {
				w := lexical.WordCounts(p.Property)
				dup := slices.ContainsFunc(hyps, func(k kept) bool {
					return k.row.Direction == p.Direction && lexical.Cosine(k.words, w) >= cmd.Float64("dedup")
				})
				if dup {
					continue
				}
				properties = append(properties, p.Property)
				row := schema.Hypothesis{ID: ID(p.Property, p.Direction), Text: p.Text, Property: p.Property, Direction: p.Direction,
					Kind: p.Kind, Proposer: sess.Ref(), Regions: []int32{rg.id}, EvidenceIDs: evidence,
					ProposerPrompt: hex.EncodeToString(h[:8]), ShareA: finite(p.ShareA), ShareB: finite(p.ShareB)}
				hyps = append(hyps, kept{row, w})
			}
		}
		bar.Add(1)
	}
	bar.Done()

	w, err := table.Create[schema.Hypothesis](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, k := range hyps {
		if err := w.Write(k.row); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	m := env.Manifest
	m.Param("a", a)
	m.Param("b", b)
	m.Param("assistant", sess.Ref())
	m.Param("assistant_usage", sess.Usage())
	m.Param("budget_reached", budgetHit)
	m.Param("invalid_proposer_answers", invalid)
	m.Seed("sampling", cmd.Uint64("seed"))
	if err := m.WriteFor(out, schema.Hypotheses.ID(), w.Rows()); err != nil {
		return err
	}
	u := sess.Usage()
	env.Log.Info("proposed", "hypotheses", len(hyps), "regions", len(regions), "assistant", sess.Ref(),
		"calls", u.Calls, "cache_hits", u.CacheHits, "cost", fmt.Sprintf("$%.4f", u.Cost), "output", out)
	if out != "-" {
		fmt.Fprintf(env.Stdout, "%d hypotheses from %d regions (%s)\n", len(hyps), len(regions), sess.Ref())
		for _, k := range hyps[:min(len(hyps), 10)] {
			fmt.Fprintf(env.Stdout, "  %s  %s\n", k.row.ID, k.row.Text)
		}
	}
	if budgetHit {
		return fmt.Errorf("stopped at the assistant budget ($%.2f): %w", cmd.Float64("budget"), assistant.ErrBudget)
	}
	return nil
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

func pickLabels(cmd *ucli.Command, labels map[string]bool, path string) (string, string, error) {
	a, b := cmd.String("a"), cmd.String("b")
	if a == "" || b == "" {
		var ls []string
		for l := range labels {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		if len(ls) != 2 {
			return "", "", &table.InputError{Path: path, Column: "model", Msg: fmt.Sprintf("holds %d model labels %v; name the two to compare with --a and --b", len(ls), ls)}
		}
		a, b = ls[0], ls[1]
	}
	if !labels[a] || !labels[b] {
		return "", "", &table.InputError{Path: path, Column: "model", Msg: fmt.Sprintf("has no texts of model %q or %q", a, b)}
	}
	return a, b, nil
}

// differingRegions reads the regions of matches whose category is not same, best ranked first, and
// their discovery texts from clusters.
func differingRegions(matchesPath, clustersPath string, n int, a, b string, byID map[string]text) ([]region, error) {
	ms, err := table.ReadAll[schema.Match](matchesPath, nil)
	if err != nil {
		return nil, err
	}
	cl, err := table.ReadAll[schema.Cluster](clustersPath, nil)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Rank < ms[j].Rank })
	type key struct {
		model   string
		cluster int32
	}
	members := map[key][]text{}
	for _, c := range cl {
		if t, ok := byID[c.GenerationID]; ok {
			members[key{c.Model, c.Cluster}] = append(members[key{c.Model, c.Cluster}], t)
		}
	}
	var out []region
	for _, m := range ms {
		if m.Category == "same" || len(out) == n {
			continue
		}
		r := region{id: m.Region}
		if m.ClusterA != nil {
			r.a = members[key{a, *m.ClusterA}]
		}
		if m.ClusterB != nil {
			r.b = members[key{b, *m.ClusterB}]
		}
		// An only-in-X region is contrasted with the other model's texts at large.
		if len(r.a) == 0 {
			r.a = allOf(byID, a)
		}
		if len(r.b) == 0 {
			r.b = allOf(byID, b)
		}
		out = append(out, r)
	}
	return out, nil
}

func allOf(byID map[string]text, model string) []text {
	var out []text
	for _, t := range byID {
		if t.model == model {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// stratified draws up to n texts per side, first from prompts both sides answered (one text of
// each per prompt), then from the rest.
func stratified(a, b []text, n int, rng *rand.Rand) ([]text, []text) {
	byPrompt := map[string][2][]text{}
	for _, t := range a {
		x := byPrompt[t.promptID]
		x[0] = append(x[0], t)
		byPrompt[t.promptID] = x
	}
	for _, t := range b {
		x := byPrompt[t.promptID]
		x[1] = append(x[1], t)
		byPrompt[t.promptID] = x
	}
	var shared []string
	for id, x := range byPrompt {
		if len(x[0]) > 0 && len(x[1]) > 0 {
			shared = append(shared, id)
		}
	}
	sort.Strings(shared)
	rng.Shuffle(len(shared), func(i, j int) { shared[i], shared[j] = shared[j], shared[i] })
	var sa, sb []text
	seen := map[string]bool{}
	for _, id := range shared[:min(n, len(shared))] {
		x := byPrompt[id]
		sa, sb = append(sa, x[0][0]), append(sb, x[1][0])
		seen[x[0][0].id], seen[x[1][0].id] = true, true
	}
	fill := func(dst, src []text) []text {
		rest := slices.DeleteFunc(slices.Clone(src), func(t text) bool { return seen[t.id] })
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

func samples(ts []text) []roles.Sample {
	out := make([]roles.Sample, len(ts))
	for i, t := range ts {
		out[i] = roles.Sample{Prompt: t.prompt, Text: t.completion}
	}
	return out
}

func ids(a, b []text) []string {
	var out []string
	for _, t := range a {
		out = append(out, t.id)
	}
	for _, t := range b {
		out = append(out, t.id)
	}
	return out
}
