// Package hypocmd is the command line of mbd-hypo: its flags, their checks, and the run that reads
// the generations (and matches and clusters), calls hypo.Propose and writes the hypotheses table.
package hypocmd

import (
	"cmp"
	"context"
	"fmt"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/hypo"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/match"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Options are the options of mbd-hypo.
type Options struct {
	Output      string // -o
	Labels      cli.Labels
	Matches     string  // --matches
	Clusters    string  // --clusters
	Regions     int     // --regions
	PerRegion   int     // --per-region
	Rounds      int     // --rounds
	Samples     int     // --samples
	Dedup       float64 // --dedup
	Seed        uint64  // --seed
	MinZ        float64 // --min-z
	Unpaired    string  // --unpaired
	Lens        string  // --lens
	LensP       float64 // --lens-p
	LensMax     int     // --lens-max
	Steered     string  // --steered
	Assistant   cli.Assistant
	Generations []string // GENERATIONS arguments
}

// Main is mbd-hypo.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	o := &Options{}
	flags := []ucli.Flag{
		cli.OutputFlag(&o.Output, "output hypotheses table (`PATH` or -)"),
	}
	flags = append(flags, o.Labels.Flags()...)
	flags = append(flags,
		&ucli.StringFlag{Name: "matches", Destination: &o.Matches, Usage: "matches `TABLE` from mbd-match (with --clusters): also describe its differing regions"},
		&ucli.StringFlag{Name: "clusters", Destination: &o.Clusters, Usage: "clusters `TABLE` the matches were made from"},
		&ucli.IntFlag{Name: "regions", Value: 5, Destination: &o.Regions, Usage: "differing regions described, best ranked first"},
		&ucli.IntFlag{Name: "per-region", Value: 3, Destination: &o.PerRegion, Usage: "hypotheses asked for per region and round"},
		&ucli.IntFlag{Name: "rounds", Value: 2, Destination: &o.Rounds, Usage: "proposal rounds per region (later rounds ask for different hypotheses)"},
		&ucli.IntFlag{Name: "samples", Value: 8, Destination: &o.Samples, Usage: "texts per model shown to an LLM assistant per round (builtin reads every text)"},
		&ucli.Float64Flag{Name: "dedup", Value: 0.8, Destination: &o.Dedup, Usage: "cosine similarity at or above which two properties are duplicates"},
		&ucli.Uint64Flag{Name: "seed", Value: 1, Destination: &o.Seed, Usage: "seed of the text sampling"},
		&ucli.Float64Flag{Name: "min-z", Value: 3.29, Destination: &o.MinZ, Usage: "builtin: least |log-odds z| of a proposed term (lower proposes more, weaker hypotheses)"},
		&ucli.StringFlag{Name: "unpaired", Value: match.UnpairedDrop, Destination: &o.Unpaired, Usage: "drop or keep the texts of prompts only one of the two models answered"},
		&ucli.StringFlag{Name: "lens", Destination: &o.Lens, Usage: "lens `TABLE` from mbd-model lens: also propose hypotheses from its significant tokens"},
		&ucli.Float64Flag{Name: "lens-p", Value: 0.05, Destination: &o.LensP, Usage: "a lens token is significant when its adjusted p is at most `P`"},
		&ucli.IntFlag{Name: "lens-max", Value: 5, Destination: &o.LensMax, Usage: "most hypotheses from the lens (strongest first)"},
		&ucli.StringFlag{Name: "steered", Destination: &o.Steered, Usage: "generations `TABLE` of steered texts: also contrast them, in B's place, with A's texts"},
	)
	return cli.Run(ctx, &ucli.Command{
		Name:      "mbd-hypo",
		Usage:     "propose hypotheses about how model B's behaviour differs from model A's",
		ArgsUsage: "[GENERATIONS ...]",
		Description: `Reads the discovery-split generations of models A and B (validation-split texts are skipped: they
are mbd-validate's) and writes a hypotheses table. Each hypothesis is a property stated without
model names (what judges see) and a direction (B>A: B shows it more).

The assistant is builtin (offline: contrastive log-odds of words and phrases and a word-count test;
cheap and a good first pass) or an LLM reference; keys come from OPENAI_API_KEY, ANTHROPIC_API_KEY
or GEMINI_API_KEY. LLM answers are cached (a rerun makes no calls) and --budget stops cleanly.

--lens adds hypotheses from an activation difference lens (mbd-model lens): the words its mean
difference B - A significantly promotes (B>A) or suppresses (A>B), at most --lens-max, merged with
the text-made ones (near-duplicates dropped; the text-made one is kept). The builtin writes one
"contains 'WORD'" hypothesis per word, which its judge reads like a text-made one, with shares from
the discovery texts when GENERATIONS are given; an LLM is shown the top tokens per block and writes
hypotheses about behaviour. Without GENERATIONS, --lens alone proposes from the lens (labels: --a
and --b, default A and B). --steered adds a region that contrasts A's discovery texts with the
discovery-split texts of a steered generations table, which stand in B's place.

Examples:
  mbd-hypo gens-a.parquet gens-b.parquet -o hypotheses.parquet
  mbd-hypo --matches matches.parquet --clusters clusters.parquet gens-a.parquet gens-b.parquet -o hypotheses.parquet
  mbd-hypo --assistant openai:gpt-4o-mini --budget 2 --samples 10 gens.parquet -o hypotheses.parquet
  mbd-hypo --lens lens.parquet gens-a.parquet gens-b.parquet -o hypotheses.parquet
  mbd-hypo --lens lens.parquet --lens-p 0.01 -o hypotheses.parquet`,
		Flags:  append(flags, o.Assistant.Flags()...),
		Action: cli.Action(o, &o.Generations, Run),
	}, args, stdio)
}

// Validate checks the options before any work.
func (o Options) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Must(len(o.Generations) > 0 || o.Lens != "", "want the GENERATIONS tables of models A and B (or a --lens table)")
	c.Must(o.Steered == "" || len(o.Generations) > 0, "--steered %s: want the GENERATIONS tables too (steered texts are contrasted with A's)", o.Steered)
	c.Must(o.Matches == "" || len(o.Generations) > 0, "--matches: want the GENERATIONS tables too")
	c.Must((o.Matches == "") == (o.Clusters == ""), "give --matches and --clusters together")
	c.Add(o.Labels.Validate())
	c.Count("--regions", o.Regions, 0)
	c.Count("--per-region", o.PerRegion, 1)
	c.Count("--rounds", o.Rounds, 1)
	c.Count("--samples", o.Samples, 1)
	if c.Finite("--dedup", o.Dedup) {
		c.Must(o.Dedup > 0 && o.Dedup <= 1, "--dedup %v: want a number in (0, 1]", o.Dedup)
	}
	c.Above("--min-z", o.MinZ, 0)
	c.OneOf("--unpaired", o.Unpaired, match.UnpairedDrop, match.UnpairedKeep)
	if c.Finite("--lens-p", o.LensP) {
		c.Must(o.LensP > 0 && o.LensP <= 1, "--lens-p %v: want a number in (0, 1]", o.LensP)
	}
	c.Count("--lens-max", o.LensMax, 1)
	o.Assistant.Check(&c)
	var p cli.Paths
	p.In("GENERATIONS", o.Generations...)
	p.In("--matches", o.Matches)
	p.In("--clusters", o.Clusters)
	p.In("--lens", o.Lens)
	p.In("--steered", o.Steered)
	p.Shared("--assistant", backends.LocalFiles(o.Assistant.Ref)...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// Run reads the inputs, proposes hypotheses and writes them.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	var lensRows []schema.LensRow
	if o.Lens != "" {
		var err error
		if lensRows, err = cli.ReadTable[schema.LensRow](env, o.Lens); err != nil {
			return err
		}
	}
	a, b := cmp.Or(o.Labels.A, "A"), cmp.Or(o.Labels.B, "B")
	var regions []hypo.Region
	var all, steeredRegion hypo.Region
	var dropped match.Dropped
	if len(o.Generations) > 0 {
		var gens []schema.Generation
		err := cli.ReadGenerations(env, o.Generations, func(_ string, g schema.Generation) error {
			gens = append(gens, g)
			return nil
		})
		if err != nil {
			return err
		}
		texts, labels := hypo.Discovery(gens)
		first := o.Generations[0]
		if a, b, err = o.Labels.Pick(labels, first); err != nil {
			return err
		}
		if o.Unpaired == match.UnpairedDrop {
			texts, dropped = dropUnpaired(env, texts, a, b)
		}
		var byID map[string]hypo.Text
		all, byID = hypo.All(texts, a, b)
		if len(all.A) == 0 || len(all.B) == 0 {
			return &table.InputError{Path: first, Msg: fmt.Sprintf("no discovery-split texts of %q or of %q (have %d and %d)", a, b, len(all.A), len(all.B))}
		}
		regions = []hypo.Region{all}
		if o.Matches != "" {
			ms, err := cli.ReadTable[schema.Match](env, o.Matches)
			if err != nil {
				return err
			}
			cl, err := cli.ReadTable[schema.Cluster](env, o.Clusters)
			if err != nil {
				return err
			}
			regions = append(regions, hypo.Differing(ms, cl, o.Regions, a, b, byID)...)
		}
		if o.Steered != "" {
			steered, err := cli.ReadTable[schema.Generation](env, o.Steered)
			if err != nil {
				return err
			}
			if steeredRegion = hypo.Steered(all.A, steered); len(steeredRegion.B) == 0 {
				return &table.InputError{Path: o.Steered, Column: "split", Msg: "no discovery-split texts (steered texts are read from the discovery split, as every proposer input)"}
			}
		}
	}

	sess, err := roles.Open(roles.Options(o.Assistant), env.Log)
	if err != nil {
		return cli.BadRef("--assistant", err)
	}
	defer sess.Close()

	var res hypo.Result
	params := hypo.Params{Rounds: o.Rounds, PerRegion: o.PerRegion, Samples: o.Samples, Dedup: o.Dedup, Seed: o.Seed, MinZ: o.MinZ}
	if len(regions) > 0 {
		bar := env.Progress("describing", "regions", int64(len(regions)))
		res, err = hypo.Propose(ctx, sess, regions, params, env.Log, func() { bar.Add(1) })
		if err != nil {
			return err
		}
		bar.Done()
	}
	if o.Steered != "" && !res.BudgetReached {
		// Proposed on their own and merged (hypo.Merge), as the lens's hypotheses are.
		sr, err := hypo.Propose(ctx, sess, []hypo.Region{steeredRegion}, params, env.Log, nil)
		if err != nil {
			return err
		}
		res.Hypotheses = hypo.Merge(res.Hypotheses, sr.Hypotheses, o.Dedup)
		res.Invalid += sr.Invalid
		res.BudgetReached = sr.BudgetReached
		regions = append(regions, steeredRegion)
	}
	lensProposed := 0
	if o.Lens != "" && !res.BudgetReached {
		lr, err := hypo.ProposeLens(ctx, sess, lensRows, hypo.LensParams{MaxP: o.LensP, Max: o.LensMax}, env.Log)
		if err != nil {
			return err
		}
		hypo.Shares(lr.Hypotheses, all.A, all.B)
		lensProposed = len(lr.Hypotheses)
		n := len(res.Hypotheses)
		res.Hypotheses = hypo.Merge(res.Hypotheses, lr.Hypotheses, o.Dedup)
		res.Invalid += lr.Invalid
		res.BudgetReached = res.BudgetReached || lr.BudgetReached
		env.Log.Info("lens", "significant_words", len(hypo.LensWords(lensRows, o.LensP)), "proposed", lensProposed, "kept", len(res.Hypotheses)-n)
	}
	if res.Hypotheses == nil {
		res.Hypotheses = []schema.Hypothesis{}
	}

	m := env.Manifest
	m.Param("a", a)
	m.Param("b", b)
	if len(o.Generations) > 0 {
		m.Param("unpaired", o.Unpaired)
		if o.Unpaired == match.UnpairedDrop {
			m.Param("unpaired_dropped_a", dropped.A)
			m.Param("unpaired_dropped_b", dropped.B)
		}
	}
	if o.Lens != "" {
		m.Param("lens_p", o.LensP)
		m.Param("lens_max", o.LensMax)
		m.Param("lens_proposed", lensProposed)
	}
	m.Param("assistant", sess.Ref())
	m.Param("assistant_usage", sess.Usage())
	m.Param("budget_reached", res.BudgetReached)
	m.Param("invalid_proposer_answers", res.Invalid)
	m.Seed("sampling", o.Seed)
	if err := cli.WriteTable(env, o.Output, res.Hypotheses); err != nil {
		return err
	}
	u := sess.Usage()
	env.Log.Info("proposed", "hypotheses", len(res.Hypotheses), "regions", len(regions), "assistant", sess.Ref(),
		"calls", u.Calls, "cache_hits", u.CacheHits, "cost", fmt.Sprintf("$%.4f", u.Cost), "output", o.Output)
	if o.Output != "-" {
		from := fmt.Sprintf("%d regions", len(regions))
		if o.Lens != "" {
			from += " and the lens"
		}
		fmt.Fprintf(env.Stdout, "%d hypotheses from %s (%s)\n", len(res.Hypotheses), from, sess.Ref())
		for _, h := range res.Hypotheses[:min(len(res.Hypotheses), 10)] {
			fmt.Fprintf(env.Stdout, "  %s  %s\n", h.ID, h.Text)
		}
	}
	if res.BudgetReached {
		return fmt.Errorf("stopped at the assistant budget ($%.2f): %w", o.Assistant.Budget, assistant.ErrBudget)
	}
	return nil
}

// dropUnpaired keeps the discovery texts whose prompt both a and b answered (match.Paired).
func dropUnpaired(env *cli.Env, texts []hypo.Text, a, b string) ([]hypo.Text, match.Dropped) {
	ts := make([]match.Text, len(texts))
	for i, t := range texts {
		ts[i] = match.Text{ID: t.ID, Model: t.Model, PromptID: t.PromptID}
	}
	keep, d := match.Paired(ts, a, b)
	if d.A+d.B == 0 {
		return texts, d
	}
	env.Log.Warn("dropped the texts of prompts only one model answered (--unpaired keep keeps them)", "a", a, "dropped_a", d.A, "b", b, "dropped_b", d.B)
	var kept []hypo.Text
	for _, t := range texts {
		if keep[t.ID] {
			kept = append(kept, t)
		}
	}
	return kept, d
}
