// Package match is mbd-match: clusters → behaviour regions where the two models differ.
//
// Pooled clusterings (both models' texts clustered together) give one region per cluster: the
// counts of A's and B's texts in it, a two-sided Fisher exact test of equal shares (exact at every
// count, so no expected-count rule is needed), the difference of shares with a Newcombe 95% CI,
// Cohen's h, and Benjamini-Hochberg q-values over all regions of the table. Per-model clusterings
// (each model clustered alone) are matched one-to-one by the Hungarian algorithm on centroid cosine
// distance; pairs less similar than --min-similarity are split into only-in-A and only-in-B regions;
// every region also lists its cluster's --nearest clusters of the other model (with similarities),
// and gets the same share test. Regions are ranked by q, then by |h|, and carry
// sample ids of discovery-split texts (most central first) for mbd-hypo.
package match

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/assign"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-match.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
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
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "clusters", Usage: "clusters `TABLE`"},
			&ucli.StringFlag{Name: "centroids", Usage: "centroids `TABLE`"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output matches table (`PATH` or -)"},
			&ucli.StringFlag{Name: "a", Usage: "label of model A (default: the first of the two labels, sorted)"},
			&ucli.StringFlag{Name: "b", Usage: "label of model B (default: the second)"},
			&ucli.Float64Flag{Name: "alpha", Value: 0.05, Usage: "q at or below which a region counts as shifted"},
			&ucli.Float64Flag{Name: "min-similarity", Value: 0.5, Usage: "per-model mode: least centroid cosine similarity of a matched pair"},
			&ucli.IntFlag{Name: "samples", Value: 20, Usage: "discovery-split sample ids per region"},
			&ucli.IntFlag{Name: "nearest", Value: 3, Usage: "per-model mode: nearest clusters of the other model listed per region"},
		},
		Action: run,
	}, args, stdio)
}

type member struct {
	id    string
	model string
	dist  float32
	disc  bool
}

func run(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, cp, cnp := cmd.String("output"), cmd.String("clusters"), cmd.String("centroids")
	switch {
	case out == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case cp == "" || cnp == "":
		return cli.Usagef("give --clusters and --centroids from mbd-cluster")
	case cmd.NArg() == 0:
		return cli.Usagef("want the GENERATIONS tables that were clustered")
	}
	split := map[string]string{}
	for _, path := range cmd.Args().Slice() {
		rows, err := table.ReadAll[schema.Generation](path, nil)
		if err != nil {
			return err
		}
		for _, g := range rows {
			split[g.ID] = g.Split
		}
	}
	cl, err := table.ReadAll[schema.Cluster](cp, env.Stdin)
	if err != nil {
		return err
	}
	cents, err := table.ReadAll[schema.Centroid](cnp, nil)
	if err != nil {
		return err
	}
	if len(cl) == 0 {
		return &table.InputError{Path: cp, Msg: "no rows"}
	}

	labels := map[string]bool{}
	for _, c := range cl {
		labels[c.Model] = true
	}
	a, b := cmd.String("a"), cmd.String("b")
	if a == "" || b == "" {
		var ls []string
		for l := range labels {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		if len(ls) != 2 {
			return &table.InputError{Path: cp, Column: "model", Msg: fmt.Sprintf("holds %d model labels %v; name the two to compare with --a and --b", len(ls), ls)}
		}
		a, b = ls[0], ls[1]
	}
	if !labels[a] || !labels[b] {
		return &table.InputError{Path: cp, Column: "model", Msg: fmt.Sprintf("has no texts of model %q or %q", a, b)}
	}

	// Members of each (clustering, cluster).
	type key struct {
		clustering string
		cluster    int32
	}
	members := map[key][]member{}
	var totalA, totalB int64
	pooled := true
	for _, c := range cl {
		if c.Model != a && c.Model != b {
			continue
		}
		s, ok := split[c.GenerationID]
		if !ok {
			return &table.InputError{Path: cp, Msg: fmt.Sprintf("generation %s is in none of the GENERATIONS tables", c.GenerationID)}
		}
		if !strings.HasPrefix(c.Clustering, "pooled") {
			pooled = false
		}
		k := key{c.Clustering, c.Cluster}
		members[k] = append(members[k], member{id: c.GenerationID, model: c.Model, dist: c.Distance, disc: s == prompts.Discovery})
		if c.Model == a {
			totalA++
		} else {
			totalB++
		}
	}

	var regions []schema.Match
	var regionMembers [][]member
	countOf := func(ms []member, label string) int64 {
		var n int64
		for _, m := range ms {
			if m.model == label {
				n++
			}
		}
		return n
	}
	if pooled {
		keys := make([]key, 0, len(members))
		for k := range members {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].clustering != keys[j].clustering {
				return keys[i].clustering < keys[j].clustering
			}
			return keys[i].cluster < keys[j].cluster
		})
		for _, k := range keys {
			c := k.cluster
			ms := members[k]
			regions = append(regions, schema.Match{ClusterA: &c, ClusterB: &c, CountA: countOf(ms, a), CountB: countOf(ms, b)})
			regionMembers = append(regionMembers, ms)
		}
	} else {
		// Centroids of A's and B's clusterings, matched by the Hungarian algorithm.
		var ca, cb []schema.Centroid
		for _, c := range cents {
			switch {
			case strings.HasPrefix(c.Clustering, "per-model:"+a+":"):
				ca = append(ca, c)
			case strings.HasPrefix(c.Clustering, "per-model:"+b+":"):
				cb = append(cb, c)
			}
		}
		if len(ca) == 0 || len(cb) == 0 {
			return &table.InputError{Path: cnp, Msg: fmt.Sprintf("has no per-model centroids of %q and %q", a, b)}
		}
		cost := make([][]float64, len(ca))
		for i := range ca {
			cost[i] = make([]float64, len(cb))
			for j := range cb {
				cost[i][j] = 1 - cosine(ca[i].Vector, cb[j].Vector)
			}
		}
		rowToCol, _, err := assign.Solve(cost)
		if err != nil {
			return err
		}
		minSim := cmd.Float64("min-similarity")
		kn := int(cmd.Int("nearest"))
		// nearestOf lists the K clusters of other nearest to c (by centroid cosine).
		nearestOf := func(c schema.Centroid, other []schema.Centroid) ([]int32, []float64) {
			sims := make([]float64, len(other))
			idx := make([]int, len(other))
			for j := range other {
				sims[j], idx[j] = cosine(c.Vector, other[j].Vector), j
			}
			sort.SliceStable(idx, func(x, y int) bool { return sims[idx[x]] > sims[idx[y]] })
			var ids []int32
			var ss []float64
			for _, j := range idx[:min(kn, len(idx))] {
				ids, ss = append(ids, other[j].Cluster), append(ss, sims[j])
			}
			return ids, ss
		}
		usedB := make([]bool, len(cb))
		for i, j := range rowToCol {
			ia := ca[i].Cluster
			msA := members[key{ca[i].Clustering, ia}]
			near, nearSim := nearestOf(ca[i], cb)
			if j >= 0 && 1-cost[i][j] >= minSim {
				usedB[j] = true
				ib := cb[j].Cluster
				sim := 1 - cost[i][j]
				msB := members[key{cb[j].Clustering, ib}]
				regions = append(regions, schema.Match{ClusterA: &ia, ClusterB: &ib, Similarity: &sim, CountA: int64(len(msA)), CountB: int64(len(msB)), Nearest: near, NearestSim: nearSim})
				regionMembers = append(regionMembers, append(append([]member{}, msA...), msB...))
				continue
			}
			regions = append(regions, schema.Match{ClusterA: &ia, CountA: int64(len(msA)), Nearest: near, NearestSim: nearSim})
			regionMembers = append(regionMembers, msA)
		}
		for j := range cb {
			if !usedB[j] {
				ib := cb[j].Cluster
				msB := members[key{cb[j].Clustering, ib}]
				near, nearSim := nearestOf(cb[j], ca)
				regions = append(regions, schema.Match{ClusterB: &ib, CountB: int64(len(msB)), Nearest: near, NearestSim: nearSim})
				regionMembers = append(regionMembers, msB)
			}
		}
	}

	// Share tests, effect sizes, q-values.
	ps := make([]float64, len(regions))
	for i := range regions {
		r := &regions[i]
		r.Region = int32(i)
		r.TotalA, r.TotalB = totalA, totalB
		p, err := stats.FisherExact2x2(int(r.CountA), int(totalA-r.CountA), int(r.CountB), int(totalB-r.CountB))
		if err != nil {
			return fmt.Errorf("region %d: %w", i, err)
		}
		shareA, shareB := float64(r.CountA)/float64(totalA), float64(r.CountB)/float64(totalB)
		h, err := stats.CohenH(shareB, shareA)
		if err != nil {
			return fmt.Errorf("region %d: %w", i, err)
		}
		r.Test, r.P, r.ShareDiff, r.CohensH = "fisher", p, shareB-shareA, h
		ps[i] = p
	}
	qs, err := stats.BHAdjust(ps)
	if err != nil {
		return err
	}
	alpha := cmd.Float64("alpha")
	for i := range regions {
		r := &regions[i]
		r.Q = qs[i]
		switch {
		case r.ClusterB == nil || (r.CountB == 0 && r.Q <= alpha):
			r.Category = "only-in-A"
		case r.ClusterA == nil || (r.CountA == 0 && r.Q <= alpha):
			r.Category = "only-in-B"
		case r.Q <= alpha:
			r.Category = "shifted"
		default:
			r.Category = "same"
		}
		// Discovery-split samples, most central first, alternating models when both are there.
		ms := append([]member(nil), regionMembers[i]...)
		sort.SliceStable(ms, func(x, y int) bool {
			if ms[x].dist != ms[y].dist {
				return ms[x].dist < ms[y].dist
			}
			return ms[x].id < ms[y].id
		})
		var ids []string
		for _, m := range ms {
			if m.disc && len(ids) < int(cmd.Int("samples")) {
				ids = append(ids, m.id)
			}
		}
		r.SampleIDs = ids
	}
	order := make([]int, len(regions))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		rx, ry := regions[order[x]], regions[order[y]]
		if rx.Q != ry.Q {
			return rx.Q < ry.Q
		}
		return math.Abs(rx.CohensH) > math.Abs(ry.CohensH)
	})
	for rank, i := range order {
		regions[i].Rank = int32(rank + 1)
	}

	w, err := table.Create[schema.Match](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, i := range order {
		if err := w.Write(regions[i]); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	m := env.Manifest
	m.Param("a", a)
	m.Param("b", b)
	m.Param("alpha", alpha)
	m.Param("mode", map[bool]string{true: "pooled", false: "per-model"}[pooled])
	if err := m.WriteFor(out, schema.Matches.ID(), w.Rows()); err != nil {
		return err
	}
	shifted := 0
	for _, r := range regions {
		if r.Category != "same" {
			shifted++
		}
	}
	env.Log.Info("matched", "regions", len(regions), "differing", shifted, "a", a, "b", b, "output", out)
	if out != "-" {
		fmt.Fprintf(env.Stdout, "%d regions, %d where %s and %s differ (q <= %g)\n", len(regions), shifted, a, b, alpha)
		for _, i := range order[:min(5, len(order))] {
			r := regions[i]
			fmt.Fprintf(env.Stdout, "  #%d %-9s %s %d/%d  %s %d/%d  h=%+.2f  q=%.3g\n", r.Rank, r.Category, a, r.CountA, r.TotalA, b, r.CountB, r.TotalB, r.CohensH, r.Q)
		}
	}
	return nil
}

func cosine(x, y []float32) float64 {
	var d, nx, ny float64
	for i := range x {
		d += float64(x[i]) * float64(y[i])
		nx += float64(x[i]) * float64(x[i])
		ny += float64(y[i]) * float64(y[i])
	}
	if nx == 0 || ny == 0 {
		return 0
	}
	return d / math.Sqrt(nx*ny)
}
