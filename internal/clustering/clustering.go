// Package clustering is the stage of mbd-cluster: it groups embedded generations (both models
// pooled, each model on its own, or one cluster per prompt), clusters each group with package
// cluster (spherical k-means with k fixed or chosen by silhouette, or Louvain communities of the
// cosine k-NN graph), and gives every cluster a centroid and every text and centroid a place on a
// 2-D map.
//
// A centroid is the renormalised mean of its cluster's vectors, the unit vector with the largest
// summed cosine to them (Dhillon & Modha 2001, "Concept decompositions for large sparse text data
// using clustering", Machine Learning 42): k-means' own centroid, and the same formula for the
// other methods. A text's distance is 1 − cos to its cluster's centroid.
//
// CenterByPrompt optionally replaces each vector by its difference from the mean vector of the
// texts that answer the same prompt, renormalised, so that what the prompt asks for drops out and
// how the answers differ remains.
//
// The map (Place) is one 2-D PCA fitted on all the texts (on a seeded sample of at most
// PCASample of them) and applied to texts and centroids alike.
package clustering

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"github.com/mbd-dev/mbd/internal/cluster"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/vec"
)

// Modes, methods and centerings (the values of mbd-cluster's --mode, --method and --center).
const (
	ModePooled    = "pooled"    // both models' texts clustered together
	ModePerModel  = "per-model" // each model's texts clustered on their own
	ModeByPrompt  = "by-prompt" // one cluster per prompt
	MethodKMeans  = "kmeans"
	MethodLouvain = "louvain"
	CenterNone    = "none"
	CenterPrompt  = "prompt"
)

// Point is what clustering needs of a generation (not its texts: inputs may be large).
type Point struct {
	ID, Model, PromptID string
	Vec                 []float32
}

// Params are the settings of Cluster.
type Params struct {
	Mode       string // ModePooled, ModePerModel or ModeByPrompt
	Method     string // MethodKMeans or MethodLouvain (not used by ModeByPrompt)
	K          int    // k-means: clusters per group; 0 chooses k in [KMin, KMax] by silhouette
	KMin, KMax int
	Seed       uint64
	Restarts   int     // k-means restarts
	MiniBatch  bool    // mini-batch k-means
	Neighbours int     // Louvain: k of the k-NN graph
	Resolution float64 // Louvain: modularity resolution
}

// Result is a clustering of points.
type Result struct {
	Clusters  []schema.Cluster            // one per point, in point order (X and Y are set by Place)
	Centroids []schema.Centroid           // by clustering, then cluster
	Scores    map[string][]cluster.KScore // K = 0: the silhouette of every k tried, by group
}

// Cluster clusters the points of each group (see Groups) and computes the centroids and every
// point's distance to its own. Clusterings are labelled "GROUP:kmeans-kK", "GROUP:louvain-nN" or
// "GROUP:by-prompt". Progress goes to log.
func Cluster(pts []Point, p Params, log *slog.Logger) (*Result, error) {
	if p.Mode != ModePooled && p.Mode != ModePerModel && p.Mode != ModeByPrompt {
		return nil, fmt.Errorf("unknown mode %q", p.Mode)
	}
	if p.Mode != ModeByPrompt && p.Method != MethodKMeans && p.Method != MethodLouvain {
		return nil, fmt.Errorf("unknown method %q", p.Method)
	}
	res := &Result{Clusters: make([]schema.Cluster, len(pts)), Scores: map[string][]cluster.KScore{}}
	names, groups := Groups(pts, p.Mode)
	for _, name := range names {
		idx := groups[name]
		data := make([][]float32, len(idx))
		for j, i := range idx {
			data[j] = pts[i].Vec
		}
		assign, label, err := clusterLive(pts, idx, data, name, p, res, log)
		if err != nil {
			return nil, err
		}
		cvec, sizes := Centroids(data, assign)
		for c := range cvec {
			res.Centroids = append(res.Centroids, schema.Centroid{Clustering: label, Cluster: int32(c), Size: sizes[c], Vector: cvec[c]})
		}
		for j, i := range idx {
			res.Clusters[i] = schema.Cluster{GenerationID: pts[i].ID, Model: pts[i].Model, Clustering: label, Cluster: int32(assign[j]),
				Distance: float32(1 - vec.Dot(data[j], cvec[assign[j]]))}
		}
	}
	return res, nil
}

// clusterLive clusters the group's texts that have a direction and puts those with the zero vector
// (an embedder's answer for a text with no known term, such as an empty or garbled answer) in one
// cluster of their own, numbered after the others: its centroid is the zero vector and their
// distance 1. A model that gives such answers more often then shows as a region like any other.
func clusterLive(pts []Point, idx []int, data [][]float32, name string, p Params, res *Result, log *slog.Logger) ([]int, string, error) {
	if p.Mode == ModeByPrompt {
		return clusterGroup(pts, idx, data, name, p, res, log)
	}
	var live []int
	for j, v := range data {
		if slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
			live = append(live, j)
		}
	}
	if len(live) == len(data) {
		return clusterGroup(pts, idx, data, name, p, res, log)
	}
	log.Warn("texts with the zero vector (no known term) form a cluster of their own", "clustering", name, "texts", len(data)-len(live))
	assign := make([]int, len(data))
	if len(live) == 0 {
		return assign, name + ":empty", nil
	}
	sub, subIdx := make([][]float32, len(live)), make([]int, len(live))
	for k, j := range live {
		sub[k], subIdx[k] = data[j], idx[j]
	}
	a, label, err := clusterGroup(pts, subIdx, sub, name, p, res, log)
	if err != nil {
		return nil, "", err
	}
	empty := slices.Max(a) + 1
	for j := range assign {
		assign[j] = empty
	}
	for k, j := range live {
		assign[j] = a[k]
	}
	return assign, label, nil
}

// clusterGroup clusters one group's data and returns the assignment and the clustering's label.
func clusterGroup(pts []Point, idx []int, data [][]float32, name string, p Params, res *Result, log *slog.Logger) ([]int, string, error) {
	switch {
	case p.Mode == ModeByPrompt:
		return ByPrompt(pts, idx), name + ":by-prompt", nil
	case p.Method == MethodLouvain:
		r, err := cluster.Louvain(data, cluster.GraphOptions{Neighbours: p.Neighbours, Resolution: p.Resolution, Seed: p.Seed})
		if err != nil {
			return nil, "", err
		}
		log.Info("louvain", "clustering", name, "communities", r.Communities, "modularity", fmt.Sprintf("%.3f", r.Modularity))
		return r.Assign, fmt.Sprintf("%s:louvain-n%d", name, p.Neighbours), nil
	}
	opt := cluster.Options{K: p.K, Seed: p.Seed, Restarts: p.Restarts, MiniBatch: p.MiniBatch}
	if p.K != 0 {
		r, err := cluster.KMeans(data, opt)
		if err != nil {
			return nil, "", err
		}
		return r.Assign, fmt.Sprintf("%s:kmeans-k%d", name, p.K), nil
	}
	r, k, scores, err := cluster.ChooseK(data, p.KMin, min(p.KMax, len(data)-1), opt, 0)
	if err != nil {
		return nil, "", err
	}
	res.Scores[name] = scores
	log.Info("chose k by silhouette", "clustering", name, "k", k)
	return r.Assign, fmt.Sprintf("%s:kmeans-k%d", name, k), nil
}

// Groups splits the points into the groups clustered separately: one ("pooled") unless mode is
// ModePerModel, which gives one per model ("per-model:MODEL"). Names come back sorted; each group
// lists its points' indices in order.
func Groups(pts []Point, mode string) ([]string, map[string][]int) {
	groups := map[string][]int{}
	var names []string
	for i, p := range pts {
		name := ModePooled
		if mode == ModePerModel {
			name = ModePerModel + ":" + p.Model
		}
		if _, ok := groups[name]; !ok {
			names = append(names, name)
		}
		groups[name] = append(groups[name], i)
	}
	sort.Strings(names)
	return names, groups
}

// ByPrompt assigns the points idx of pts one cluster per prompt, numbered in order of each
// prompt's first point.
func ByPrompt(pts []Point, idx []int) []int {
	ids := map[string]int{}
	a := make([]int, len(idx))
	for j, i := range idx {
		id, ok := ids[pts[i].PromptID]
		if !ok {
			id = len(ids)
			ids[pts[i].PromptID] = id
		}
		a[j] = id
	}
	return a
}

// Centroids returns the renormalised mean of each cluster's vectors (clusters 0 to the largest in
// assign; a cluster with no points, or whose mean is zero, gets the zero vector) and its size.
func Centroids(data [][]float32, assign []int) ([][]float32, []int64) {
	nc := 0
	for _, c := range assign {
		nc = max(nc, c+1)
	}
	d := 0
	if len(data) > 0 {
		d = len(data[0])
	}
	sums := make([][]float64, nc)
	sizes := make([]int64, nc)
	for c := range sums {
		sums[c] = make([]float64, d)
	}
	for j, c := range assign {
		for t, x := range data[j] {
			sums[c][t] += float64(x)
		}
		sizes[c]++
	}
	cvec := make([][]float32, nc)
	for c := range sums {
		cvec[c] = vec.Unit(sums[c])
	}
	return cvec, sizes
}
