// Package clustercmd is the command line of mbd-cluster: its flags, their checks, and the run that
// reads the embeddings and the generations they embed, calls package clustering and writes the
// clusters and centroids tables.
package clustercmd

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/clustering"
	"github.com/mbd-dev/mbd/internal/match"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Options are the options of mbd-cluster.
type Options struct {
	Embeddings  string   // --embeddings
	Output      string   // -o
	Centroids   string   // --centroids
	Mode        string   // --mode
	Method      string   // --method
	Center      string   // --center
	K           string   // --k: a whole number, or auto
	KMin        int      // --k-min
	KMax        int      // --k-max
	Seed        uint64   // --seed
	Restarts    int      // --restarts
	MiniBatch   bool     // --mini-batch
	Neighbours  int      // --neighbours
	Resolution  float64  // --resolution
	Unpaired    string   // --unpaired
	Generations []string // GENERATIONS arguments
}

// Main is mbd-cluster.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	o := &Options{}
	return cli.Run(ctx, &ucli.Command{
		Name:      "mbd-cluster",
		Usage:     "cluster embedded generations into behaviour regions",
		ArgsUsage: "GENERATIONS ...",
		Description: `Clusters the generations' vectors from --embeddings (cosine geometry on L2-normalised vectors).
GENERATIONS give each text's model label and prompt.

Modes: pooled (both models' texts clustered together: the standard for comparing shares), per-model
(each model clustered on its own, for mbd-match's assignment), by-prompt (one cluster per prompt).
Methods: kmeans (k-means++, seeded restarts; --k auto picks k in [--k-min, --k-max] by the mean
cosine silhouette on a sample) and louvain (modularity communities of the cosine k-NN graph, for
shapes k-means handles badly). Every text and centroid also gets a 2-D position (PCA of all texts).

--center prompt clusters what is left of each vector after subtracting the mean vector of all texts
(of every model) that answer the same prompt, renormalised. When both models answer the same
prompts, this removes what the prompt asks for (its topic, its task) and leaves how the answers
differ, so a behaviour that cuts across topics (a phrase, a habit, a format) forms its own region
instead of hiding inside topic regions. It needs at least two texts per prompt; texts identical to
their prompt's mean keep a zero vector.

Examples:
  mbd-cluster --embeddings emb.parquet gens-a.parquet gens-b.parquet -o clusters.parquet --centroids centroids.parquet
  mbd-cluster --mode per-model --k 12 --embeddings emb.parquet gens.parquet -o c.parquet --centroids cent.parquet
  mbd-cluster --center prompt --embeddings emb.parquet gens-a.parquet gens-b.parquet -o c.parquet --centroids cent.parquet
  mbd-cluster --method louvain --neighbours 15 --embeddings emb.parquet gens.parquet -o c.parquet --centroids cent.parquet`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "embeddings", Destination: &o.Embeddings, Usage: "embeddings `TABLE`"},
			cli.OutputFlag(&o.Output, "output clusters table (`PATH` or -)"),
			&ucli.StringFlag{Name: "centroids", Destination: &o.Centroids, Usage: "output centroids table `PATH`"},
			&ucli.StringFlag{Name: "mode", Value: clustering.ModePooled, Destination: &o.Mode, Usage: "pooled, per-model or by-prompt"},
			&ucli.StringFlag{Name: "method", Value: clustering.MethodKMeans, Destination: &o.Method, Usage: "kmeans or louvain"},
			&ucli.StringFlag{Name: "center", Value: clustering.CenterNone, Destination: &o.Center, Usage: "none, or prompt: cluster each text's difference from its prompt's mean vector"},
			&ucli.StringFlag{Name: "k", Value: "auto", Destination: &o.K, Usage: "clusters per clustering, or auto"},
			&ucli.IntFlag{Name: "k-min", Value: 2, Destination: &o.KMin, Usage: "smallest k tried by --k auto"},
			&ucli.IntFlag{Name: "k-max", Value: 20, Destination: &o.KMax, Usage: "largest k tried by --k auto"},
			&ucli.Uint64Flag{Name: "seed", Value: 1, Destination: &o.Seed, Usage: "seed"},
			&ucli.IntFlag{Name: "restarts", Value: 5, Destination: &o.Restarts, Usage: "k-means restarts"},
			&ucli.BoolFlag{Name: "mini-batch", Destination: &o.MiniBatch, Usage: "mini-batch k-means (large inputs)"},
			&ucli.IntFlag{Name: "neighbours", Value: 15, Destination: &o.Neighbours, Usage: "k of the k-NN graph (louvain)"},
			&ucli.Float64Flag{Name: "resolution", Value: 1, Destination: &o.Resolution, Usage: "modularity resolution (louvain)"},
			&ucli.StringFlag{Name: "unpaired", Value: match.UnpairedDrop, Destination: &o.Unpaired, Usage: "drop or keep the texts of prompts only one of the two models answered"},
		},
		Action: cli.Action(o, &o.Generations, Run),
	}, args, stdio)
}

// k returns --k as a number (0 for auto).
func (o Options) k() (int, error) {
	if o.K == "auto" {
		return 0, nil
	}
	n, err := strconv.Atoi(o.K)
	if err != nil || n < 1 {
		return 0, cli.Usagef("--k %q: want a whole number >= 1 or auto", o.K)
	}
	return n, nil
}

// Validate checks the options before any work.
func (o Options) Validate() error {
	var c cli.Check
	c.Must(o.Output != "" && o.Centroids != "", "give -o CLUSTERS and --centroids CENTROIDS")
	c.Must(o.Embeddings != "", "no embeddings: give --embeddings TABLE")
	c.Must(len(o.Generations) > 0, "want the GENERATIONS tables that were embedded")
	c.OneOf("--mode", o.Mode, clustering.ModePooled, clustering.ModePerModel, clustering.ModeByPrompt)
	c.OneOf("--method", o.Method, clustering.MethodKMeans, clustering.MethodLouvain)
	c.OneOf("--center", o.Center, clustering.CenterNone, clustering.CenterPrompt)
	c.OneOf("--unpaired", o.Unpaired, match.UnpairedDrop, match.UnpairedKeep)
	c.Must(o.Centroids != "-", "--centroids -: the centroids table needs a PATH (only -o may be -)")
	_, err := o.k()
	c.Add(err)
	c.Count("--k-min", o.KMin, 2)
	c.Count("--k-max", o.KMax, max(o.KMin, 2))
	c.Count("--restarts", o.Restarts, 1)
	c.Count("--neighbours", o.Neighbours, 1)
	c.Above("--resolution", o.Resolution, 0)
	var p cli.Paths
	p.In("--embeddings", o.Embeddings)
	p.In("GENERATIONS", o.Generations...)
	p.Out("-o", o.Output)
	p.Out("--centroids", o.Centroids)
	c.Add(p.Err())
	return c.Err()
}

// Run reads the inputs, clusters and writes the clusters and centroids tables.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	k, _ := o.k()
	embs, err := cli.ReadTable[schema.Embedding](env, o.Embeddings)
	if err != nil {
		return err
	}
	vecs := make(map[string][]float32, len(embs))
	for _, e := range embs {
		vecs[e.GenerationID] = e.Vector
	}
	embs = nil
	var pts []clustering.Point
	err = cli.ReadGenerations(env, o.Generations, func(path string, g schema.Generation) error {
		v, ok := vecs[g.ID]
		if !ok {
			return &table.InputError{Path: o.Embeddings, Msg: fmt.Sprintf("has no vector for generation %s of %s", g.ID, path)}
		}
		pts = append(pts, clustering.Point{ID: g.ID, Model: g.Model, PromptID: g.PromptID, Vec: v})
		return nil
	})
	if err != nil {
		return err
	}
	vecs = nil
	var dropped match.Dropped
	var paired bool
	if o.Unpaired == match.UnpairedDrop {
		pts, dropped, paired = dropUnpaired(env, pts)
	}
	first := o.Generations[0]
	if len(pts) == 0 {
		return &table.InputError{Path: first, Msg: "no generations"}
	}
	if o.Center == clustering.CenterPrompt {
		if err := clustering.CenterByPrompt(pts); err != nil {
			return &table.InputError{Path: first, Msg: "cannot center by prompt", Err: err}
		}
	}
	res, err := clustering.Cluster(pts, clustering.Params{Mode: o.Mode, Method: o.Method, K: k, KMin: o.KMin, KMax: o.KMax, Seed: o.Seed,
		Restarts: o.Restarts, MiniBatch: o.MiniBatch, Neighbours: o.Neighbours, Resolution: o.Resolution}, env.Log)
	if err != nil {
		return &table.InputError{Path: o.Embeddings, Msg: "cannot cluster", Err: err}
	}
	if err := clustering.Place(pts, res, o.Seed); err != nil {
		return &table.InputError{Path: o.Embeddings, Msg: "cannot make the 2-D map", Err: err}
	}

	cw, err := table.Create[schema.Centroid](o.Centroids, nil)
	if err != nil {
		return err
	}
	defer cw.Abort()
	if err := cw.Write(res.Centroids...); err != nil {
		return err
	}
	w, err := table.Create[schema.Cluster](o.Output, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Write(res.Clusters...); err != nil {
		return err
	}
	if err := cw.Commit(); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	m := env.Manifest
	m.Param("mode", o.Mode)
	m.Param("method", o.Method)
	m.Param("center", o.Center)
	m.Param("k", o.K)
	m.Param("unpaired", o.Unpaired)
	if paired {
		m.Param("unpaired_dropped_a", dropped.A)
		m.Param("unpaired_dropped_b", dropped.B)
	}
	names := make([]string, 0, len(res.Scores))
	for name := range res.Scores {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m.Param("silhouette_"+name, res.Scores[name])
	}
	m.Seed("kmeans", o.Seed)
	if err := m.WriteFor(o.Centroids, schema.Centroids.ID(), cw.Rows()); err != nil {
		return err
	}
	if err := m.WriteFor(o.Output, schema.Clusters.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("clustered", "texts", len(pts), "clusters", len(res.Centroids), "output", o.Output)
	return nil
}

// dropUnpaired keeps the points whose prompt both models answered (match.Paired), A and B being
// the two model labels present in sorted order, as mbd-match picks them by default. With other
// than two labels nothing is paired and every point is kept (paired false).
func dropUnpaired(env *cli.Env, pts []clustering.Point) ([]clustering.Point, match.Dropped, bool) {
	present := map[string]bool{}
	texts := make([]match.Text, len(pts))
	for i, p := range pts {
		present[p.Model] = true
		texts[i] = match.Text{ID: p.ID, Model: p.Model, PromptID: p.PromptID}
	}
	if len(present) != 2 {
		if len(present) > 2 {
			env.Log.Warn("--unpaired drop pairs two models; every text is kept", "models", len(present))
		}
		return pts, match.Dropped{}, false
	}
	labels := slices.Sorted(maps.Keys(present))
	a, b := labels[0], labels[1]
	keep, d := match.Paired(texts, a, b)
	if d.A+d.B == 0 {
		return pts, d, true
	}
	env.Log.Warn("dropped the texts of prompts only one model answered (--unpaired keep keeps them)", "a", a, "dropped_a", d.A, "b", b, "dropped_b", d.B)
	kept := pts[:0]
	for _, p := range pts {
		if keep[p.ID] {
			kept = append(kept, p)
		}
	}
	return kept, d, true
}
