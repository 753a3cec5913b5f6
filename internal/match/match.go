// Package match finds the behaviour regions where two models differ, from a clustering of their
// texts (the stage of mbd-match).
//
// Pooled clusterings (both models' texts clustered together) give one region per cluster: the
// counts of A's and B's texts in it, a two-sided Fisher exact test of equal shares (exact at every
// count, so no expected-count rule is needed), the difference of shares, Cohen's h (the
// difference of arcsine-transformed shares), and Benjamini-Hochberg q-values over all regions of
// the table. Per-model clusterings (each model
// clustered alone) are matched one-to-one by the Hungarian algorithm on centroid cosine distance;
// pairs less similar than Params.MinSimilarity are split into only-in-A and only-in-B regions;
// every region also lists its cluster's Params.Nearest clusters of the other model (with
// similarities), and gets the same share test. Regions are ranked by q, then by |h|, and carry
// sample ids of discovery-split texts (most central first) for mbd-hypo.
//
// Shares compare like with like only when both models answered the same prompts: Paired, which
// mbd-cluster and mbd-hypo apply by default, keeps the texts of prompts both models answered, so
// that a prompt set one model lacks (a whole topic) does not show as a region of the other.
package match

import (
	"fmt"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// TestFisher is the share test recorded in schema.Match.Test.
const TestFisher = "fisher"

// Params are the settings of Regions.
type Params struct {
	A, B          string  // model labels compared (both present in the clusters)
	Alpha         float64 // q at or below which a region's shares differ, in (0, 1)
	MinSimilarity float64 // per-model: least centroid cosine similarity of a matched pair
	Samples       int     // discovery-split sample ids per region
	Nearest       int     // per-model: clusters of the other model listed per region
}

// Input is a clustering from mbd-cluster and the split of every generation clustered.
type Input struct {
	Clusters      []schema.Cluster
	Centroids     []schema.Centroid
	Splits        map[string]string // generation id → split
	ClustersPath  string            // named in errors
	CentroidsPath string
}

// Result is the regions of a clustering, best ranked first.
type Result struct {
	Regions []schema.Match
	Pooled  bool // a pooled clustering (otherwise per-model)
}

// Labels returns the model labels present in clusters.
func Labels(clusters []schema.Cluster) map[string]bool {
	labels := map[string]bool{}
	for _, c := range clusters {
		labels[c.Model] = true
	}
	return labels
}

// Regions finds the regions of in's clustering and tests, categorises, samples and ranks them. A
// generation missing from in.Splits, a model without texts, or per-model centroids missing for a
// model are InputErrors naming the table.
func Regions(in Input, p Params) (*Result, error) {
	g, err := group(in, p.A, p.B)
	if err != nil {
		return nil, err
	}
	var regions []schema.Match
	var members [][]member
	if g.pooled {
		regions, members = pooledRegions(g.members, p.A, p.B)
	} else {
		ca, cb := perModelCentroids(in.Centroids, p.A, p.B)
		if len(ca) == 0 || len(cb) == 0 {
			return nil, &table.InputError{Path: in.CentroidsPath, Msg: fmt.Sprintf("has no per-model centroids of %q and %q", p.A, p.B)}
		}
		if regions, members, err = pairedRegions(ca, cb, g.members, p.MinSimilarity, p.Nearest); err != nil {
			return nil, err
		}
	}
	if err := test(regions, g.totalA, g.totalB); err != nil {
		return nil, err
	}
	for i := range regions {
		regions[i].Category = Category(regions[i], p.Alpha)
		regions[i].SampleIDs = samples(members[i], p.Samples)
	}
	return &Result{Regions: rank(regions), Pooled: g.pooled}, nil
}

// member is a clustered text of model A or B.
type member struct {
	id    string
	model string
	dist  float32
	disc  bool // discovery split
}

// clusterKey names a cluster of a clustering.
type clusterKey struct {
	clustering string
	cluster    int32
}

// grouping is the texts of models a and b by cluster.
type grouping struct {
	members        map[clusterKey][]member
	totalA, totalB int64
	pooled         bool // every clustering of a's and b's texts is pooled
}

func group(in Input, a, b string) (*grouping, error) {
	g := &grouping{members: map[clusterKey][]member{}, pooled: true}
	for _, c := range in.Clusters {
		if c.Model != a && c.Model != b {
			continue
		}
		s, ok := in.Splits[c.GenerationID]
		if !ok {
			return nil, &table.InputError{Path: in.ClustersPath, Msg: fmt.Sprintf("generation %s is in none of the GENERATIONS tables", c.GenerationID)}
		}
		if !strings.HasPrefix(c.Clustering, "pooled") {
			g.pooled = false
		}
		k := clusterKey{c.Clustering, c.Cluster}
		g.members[k] = append(g.members[k], member{id: c.GenerationID, model: c.Model, dist: c.Distance, disc: s == schema.SplitDiscovery})
		if c.Model == a {
			g.totalA++
		} else {
			g.totalB++
		}
	}
	if g.totalA == 0 || g.totalB == 0 {
		return nil, &table.InputError{Path: in.ClustersPath, Column: "model", Msg: fmt.Sprintf("has no texts of model %q or %q", a, b)}
	}
	return g, nil
}
