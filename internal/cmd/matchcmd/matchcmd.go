// Package matchcmd is the command line of mbd-match: its flags, their checks, and the run that
// reads the clusters, centroids and generations, calls match.Regions and writes the matches table.
package matchcmd

import (
	"context"
	"fmt"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/match"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Options are the options of mbd-match.
type Options struct {
	Clusters      string // --clusters
	Centroids     string // --centroids
	Output        string // -o
	Labels        cli.Labels
	Alpha         float64  // --alpha
	MinSimilarity float64  // --min-similarity
	Samples       int      // --samples
	Nearest       int      // --nearest
	Generations   []string // GENERATIONS arguments
}

// Main is mbd-match.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	o := &Options{}
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "clusters", Destination: &o.Clusters, Usage: "clusters `TABLE`"},
		&ucli.StringFlag{Name: "centroids", Destination: &o.Centroids, Usage: "centroids `TABLE`"},
		cli.OutputFlag(&o.Output, "output matches table (`PATH` or -)"),
	}
	flags = append(flags, o.Labels.Flags()...)
	flags = append(flags,
		&ucli.Float64Flag{Name: "alpha", Value: 0.05, Destination: &o.Alpha, Usage: "q at or below which a region counts as shifted"},
		&ucli.Float64Flag{Name: "min-similarity", Value: 0.5, Destination: &o.MinSimilarity, Usage: "per-model mode: least centroid cosine similarity of a matched pair"},
		&ucli.IntFlag{Name: "samples", Value: 20, Destination: &o.Samples, Usage: "discovery-split sample ids per region"},
		&ucli.IntFlag{Name: "nearest", Value: 3, Destination: &o.Nearest, Usage: "per-model mode: nearest clusters of the other model listed per region"},
	)
	return cli.Run(ctx, &ucli.Command{
		Name:      "mbd-match",
		Usage:     "find the behaviour regions where two models differ",
		ArgsUsage: "GENERATIONS ...",
		Description: `Reads --clusters and --centroids from mbd-cluster and the GENERATIONS they came from (for splits),
and writes a matches table: one row per region with both models' counts, a Fisher exact test of
equal shares, Cohen's h, Benjamini-Hochberg q-values over all regions, a category (same, shifted,
only-in-A, only-in-B), a rank, and up to --samples discovery-split generation ids.

Examples:
  mbd-match --clusters clusters.parquet --centroids centroids.parquet gens-a.parquet gens-b.parquet -o matches.parquet
  mbd-match --a base --b tuned --min-similarity 0.6 --clusters pm.parquet --centroids pmc.parquet gens.parquet -o matches.parquet`,
		Flags:  flags,
		Action: cli.Action(o, &o.Generations, Run),
	}, args, stdio)
}

// Validate checks the options before any work.
func (o Options) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Must(o.Clusters != "" && o.Centroids != "", "give --clusters and --centroids from mbd-cluster")
	c.Must(len(o.Generations) > 0, "want the GENERATIONS tables that were clustered")
	c.Add(o.Labels.Validate())
	c.Open("--alpha", o.Alpha, 0, 1)
	c.Between("--min-similarity", o.MinSimilarity, -1, 1)
	c.Count("--samples", o.Samples, 0)
	c.Count("--nearest", o.Nearest, 0)
	var p cli.Paths
	p.In("--clusters", o.Clusters)
	p.In("--centroids", o.Centroids)
	p.In("GENERATIONS", o.Generations...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// Run reads the inputs, finds the regions and writes them.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	cl, err := cli.ReadTable[schema.Cluster](env, o.Clusters)
	if err != nil {
		return err
	}
	cents, err := cli.ReadTable[schema.Centroid](env, o.Centroids)
	if err != nil {
		return err
	}
	splits := map[string]string{}
	err = cli.ReadGenerations(env, o.Generations, func(_ string, g schema.Generation) error {
		splits[g.ID] = g.Split
		return nil
	})
	if err != nil {
		return err
	}
	if len(cl) == 0 {
		return &table.InputError{Path: o.Clusters, Msg: "no rows"}
	}
	a, b, err := o.Labels.Pick(match.Labels(cl), o.Clusters)
	if err != nil {
		return err
	}
	res, err := match.Regions(match.Input{Clusters: cl, Centroids: cents, Splits: splits, ClustersPath: o.Clusters, CentroidsPath: o.Centroids},
		match.Params{A: a, B: b, Alpha: o.Alpha, MinSimilarity: o.MinSimilarity, Samples: o.Samples, Nearest: o.Nearest})
	if err != nil {
		return err
	}

	m := env.Manifest
	m.Param("a", a)
	m.Param("b", b)
	m.Param("alpha", o.Alpha)
	m.Param("mode", map[bool]string{true: "pooled", false: "per-model"}[res.Pooled])
	if err := cli.WriteTable(env, o.Output, res.Regions); err != nil {
		return err
	}
	differing := match.Differing(res.Regions)
	env.Log.Info("matched", "regions", len(res.Regions), "differing", differing, "a", a, "b", b, "output", o.Output)
	if o.Output != "-" {
		fmt.Fprintf(env.Stdout, "%d regions, %d where %s and %s differ (q <= %g)\n", len(res.Regions), differing, a, b, o.Alpha)
		for _, r := range res.Regions[:min(5, len(res.Regions))] {
			fmt.Fprintf(env.Stdout, "  #%d %-9s %s %d/%d  %s %d/%d  h=%+.2f  q=%.3g\n", r.Rank, r.Category, a, r.CountA, r.TotalA, b, r.CountB, r.TotalB, r.CohensH, r.Q)
		}
	}
	return nil
}
