package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/community"
	"gonum.org/v1/gonum/graph/iterator"
)

// GraphOptions configures Louvain.
type GraphOptions struct {
	// Neighbours is k of the k-NN graph (default 15).
	Neighbours int
	// Resolution is the modularity resolution γ (default 1); larger
	// values give more, smaller communities.
	Resolution float64
	// Seed seeds the Louvain node order (PCG).
	Seed uint64
	// Workers parallelises the neighbour search; 0 means GOMAXPROCS.
	Workers int
}

// GraphResult is a partition found by Louvain.
type GraphResult struct {
	// Assign[i] is the community of point i. Communities are numbered in
	// order of their lowest-index point.
	Assign []int
	// Communities is the number of communities.
	Communities int
	// Modularity is Q of the partition on the k-NN graph.
	Modularity float64
}

// Louvain partitions L2-normalised points by Louvain modularity
// optimisation on their symmetrised cosine k-NN graph (see the package
// documentation). The neighbour search is exact and O(n²·d), so it suits
// inputs up to some tens of thousands of points. Deterministic for a seed.
func Louvain(data [][]float32, opt GraphOptions) (*GraphResult, error) {
	if _, err := checkData(data, true); err != nil {
		return nil, err
	}
	if opt.Neighbours <= 0 {
		opt.Neighbours = 15
	}
	if opt.Resolution == 0 {
		opt.Resolution = 1
	}
	if !(opt.Resolution > 0) || math.IsInf(opt.Resolution, 0) {
		return nil, fmt.Errorf("cluster: resolution %v: want a finite number > 0", opt.Resolution)
	}
	n := len(data)
	res := &GraphResult{Assign: make([]int, n)}
	if n == 1 {
		res.Communities = 1
		return res, nil
	}
	g := knnGraphOf(data, opt.Neighbours, resolveWorkers(opt.Workers))
	reduced := community.Modularize(g, opt.Resolution, rand.NewPCG(opt.Seed, 0x10a1))
	comms := reduced.Communities()
	// Canonical labels: order communities by their lowest point index.
	type comm struct{ first, label int }
	order := make([]comm, 0, len(comms))
	for c, nodes := range comms {
		if len(nodes) == 0 {
			continue
		}
		first := n
		for _, v := range nodes {
			first = min(first, int(v.ID()))
		}
		order = append(order, comm{first, c})
	}
	sort.Slice(order, func(a, b int) bool { return order[a].first < order[b].first })
	for lab, c := range order {
		for _, v := range comms[c.label] {
			res.Assign[v.ID()] = lab
		}
	}
	res.Communities = len(order)
	res.Modularity = community.Q(g, comms, opt.Resolution)
	return res, nil
}

// knnGraph is an undirected weighted graph with nodes 0..n−1 whose
// adjacency lists are sorted, so every iteration order is fixed.
type knnGraph struct {
	adj [][]int32
	w   [][]float64
}

// knnGraphOf builds the symmetrised k-NN graph of data: i–j is an edge when j is
// one of i's k most similar points or i one of j's (ties: lower index), with
// weight cos(i, j); pairs with cos ≤ 0 get no edge.
func knnGraphOf(data [][]float32, k, workers int) *knnGraph {
	n := len(data)
	k = min(k, n-1)
	nb := make([][]int32, n)
	sims := make([][]float32, n)
	forBlocks(n, 32, workers, func(_, lo, hi int) {
		idx := make([]int32, 0, k+1)
		sim := make([]float32, 0, k+1)
		for i := lo; i < hi; i++ {
			idx, sim = idx[:0], sim[:0]
			x := data[i]
			for j := range n {
				if j == i {
					continue
				}
				s := dot(x, data[j])
				if len(idx) == k && s <= sim[k-1] {
					continue
				}
				// Insert keeping descending similarity; equal
				// similarities keep the earlier (lower) index first.
				p := len(idx)
				for p > 0 && sim[p-1] < s {
					p--
				}
				idx = append(idx, 0)
				sim = append(sim, 0)
				copy(idx[p+1:], idx[p:])
				copy(sim[p+1:], sim[p:])
				idx[p], sim[p] = int32(j), s
				if len(idx) > k {
					idx, sim = idx[:k], sim[:k]
				}
			}
			nb[i] = append([]int32(nil), idx...)
			sims[i] = append([]float32(nil), sim...)
		}
	})
	type edge struct {
		to int32
		w  float64
	}
	lists := make([][]edge, n)
	for i := range n {
		for t, j := range nb[i] {
			if sims[i][t] <= 0 {
				continue
			}
			w := float64(sims[i][t])
			lists[i] = append(lists[i], edge{j, w})
			lists[j] = append(lists[j], edge{int32(i), w})
		}
	}
	g := &knnGraph{adj: make([][]int32, n), w: make([][]float64, n)}
	for i, l := range lists {
		sort.Slice(l, func(a, b int) bool { return l[a].to < l[b].to })
		for t, e := range l {
			if t > 0 && l[t-1].to == e.to {
				continue // mutual neighbours: same edge, same weight
			}
			g.adj[i] = append(g.adj[i], e.to)
			g.w[i] = append(g.w[i], e.w)
		}
	}
	return g
}

type node int64

func (v node) ID() int64 { return int64(v) }

type wedge struct {
	from, to node
	w        float64
}

func (e wedge) From() graph.Node         { return e.from }
func (e wedge) To() graph.Node           { return e.to }
func (e wedge) ReversedEdge() graph.Edge { return wedge{e.to, e.from, e.w} }
func (e wedge) Weight() float64          { return e.w }

var _ graph.WeightedUndirected = (*knnGraph)(nil)

func (g *knnGraph) has(id int64) bool { return id >= 0 && id < int64(len(g.adj)) }

func (g *knnGraph) Node(id int64) graph.Node {
	if g.has(id) {
		return node(id)
	}
	return nil
}

func (g *knnGraph) Nodes() graph.Nodes {
	nodes := make([]graph.Node, len(g.adj))
	for i := range nodes {
		nodes[i] = node(i)
	}
	return iterator.NewOrderedNodes(nodes)
}

func (g *knnGraph) From(id int64) graph.Nodes {
	if !g.has(id) {
		return graph.Empty
	}
	nodes := make([]graph.Node, len(g.adj[id]))
	for t, j := range g.adj[id] {
		nodes[t] = node(j)
	}
	return iterator.NewOrderedNodes(nodes)
}

// find returns the position of y in x's adjacency list or -1.
func (g *knnGraph) find(x, y int64) int {
	if !g.has(x) || !g.has(y) {
		return -1
	}
	l := g.adj[x]
	t := sort.Search(len(l), func(a int) bool { return int64(l[a]) >= y })
	if t < len(l) && int64(l[t]) == y {
		return t
	}
	return -1
}

func (g *knnGraph) HasEdgeBetween(x, y int64) bool { return g.find(x, y) >= 0 }

func (g *knnGraph) Edge(u, v int64) graph.Edge { return g.WeightedEdge(u, v) }

func (g *knnGraph) EdgeBetween(x, y int64) graph.Edge { return g.WeightedEdge(x, y) }

func (g *knnGraph) WeightedEdgeBetween(x, y int64) graph.WeightedEdge { return g.WeightedEdge(x, y) }

func (g *knnGraph) WeightedEdge(u, v int64) graph.WeightedEdge {
	t := g.find(u, v)
	if t < 0 {
		return nil
	}
	return wedge{node(u), node(v), g.w[u][t]}
}

// Weight returns the edge weight, or (0, true) for x == y (no self loops).
func (g *knnGraph) Weight(x, y int64) (float64, bool) {
	if x == y {
		return 0, g.has(x)
	}
	t := g.find(x, y)
	if t < 0 {
		return 0, false
	}
	return g.w[x][t], true
}
