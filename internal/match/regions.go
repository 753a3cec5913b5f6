package match

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mbd-dev/mbd/internal/assign"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/stats"
	"github.com/mbd-dev/mbd/internal/vec"
)

// pooledRegions makes one region per cluster, in (clustering, cluster) order, with the counts of
// a's and b's members.
func pooledRegions(members map[clusterKey][]member, a, b string) ([]schema.Match, [][]member) {
	keys := make([]clusterKey, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].clustering != keys[j].clustering {
			return keys[i].clustering < keys[j].clustering
		}
		return keys[i].cluster < keys[j].cluster
	})
	regions := make([]schema.Match, 0, len(keys))
	regionMembers := make([][]member, 0, len(keys))
	for _, k := range keys {
		c := k.cluster
		ms := members[k]
		regions = append(regions, schema.Match{ClusterA: &c, ClusterB: &c, CountA: count(ms, a), CountB: count(ms, b)})
		regionMembers = append(regionMembers, ms)
	}
	return regions, regionMembers
}

func count(ms []member, label string) int64 {
	var n int64
	for _, m := range ms {
		if m.model == label {
			n++
		}
	}
	return n
}

// perModelCentroids returns the centroids of a's and of b's per-model clusterings, in table order.
func perModelCentroids(cents []schema.Centroid, a, b string) (ca, cb []schema.Centroid) {
	for _, c := range cents {
		switch {
		case strings.HasPrefix(c.Clustering, "per-model:"+a+":"):
			ca = append(ca, c)
		case strings.HasPrefix(c.Clustering, "per-model:"+b+":"):
			cb = append(cb, c)
		}
	}
	return ca, cb
}

// pairedRegions matches a's clusters (ca) to b's (cb) one-to-one by the Hungarian algorithm on
// centroid cosine distance. A pair at least minSim similar is one region; every other cluster is
// a region of its own model only. Each region lists the nearest clusters of the other model.
func pairedRegions(ca, cb []schema.Centroid, members map[clusterKey][]member, minSim float64, nearest int) ([]schema.Match, [][]member, error) {
	cost := make([][]float64, len(ca))
	for i := range ca {
		cost[i] = make([]float64, len(cb))
		for j := range cb {
			cost[i][j] = 1 - vec.Cosine(ca[i].Vector, cb[j].Vector)
		}
	}
	rowToCol, _, err := assign.Solve(cost)
	if err != nil {
		return nil, nil, err
	}
	var regions []schema.Match
	var regionMembers [][]member
	usedB := make([]bool, len(cb))
	for i, j := range rowToCol {
		ia := ca[i].Cluster
		msA := members[clusterKey{ca[i].Clustering, ia}]
		near, nearSim := Nearest(ca[i], cb, nearest)
		if j >= 0 && 1-cost[i][j] >= minSim {
			usedB[j] = true
			ib := cb[j].Cluster
			sim := 1 - cost[i][j]
			msB := members[clusterKey{cb[j].Clustering, ib}]
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
			msB := members[clusterKey{cb[j].Clustering, ib}]
			near, nearSim := Nearest(cb[j], ca, nearest)
			regions = append(regions, schema.Match{ClusterB: &ib, CountB: int64(len(msB)), Nearest: near, NearestSim: nearSim})
			regionMembers = append(regionMembers, msB)
		}
	}
	return regions, regionMembers, nil
}

// Nearest lists the (at most) k clusters of other whose centroids are most cosine-similar to c's,
// most similar first (table order on ties), with their similarities.
func Nearest(c schema.Centroid, other []schema.Centroid, k int) ([]int32, []float64) {
	sims := make([]float64, len(other))
	idx := make([]int, len(other))
	for j := range other {
		sims[j], idx[j] = vec.Cosine(c.Vector, other[j].Vector), j
	}
	sort.SliceStable(idx, func(x, y int) bool { return sims[idx[x]] > sims[idx[y]] })
	var ids []int32
	var ss []float64
	for _, j := range idx[:min(max(k, 0), len(idx))] {
		ids, ss = append(ids, other[j].Cluster), append(ss, sims[j])
	}
	return ids, ss
}

// test numbers the regions and fills in the totals, the Fisher exact test of equal shares, the
// difference of shares, Cohen's h (B minus A) and the Benjamini-Hochberg q-values.
func test(regions []schema.Match, totalA, totalB int64) error {
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
		r.Test, r.P, r.ShareDiff, r.CohensH = TestFisher, p, shareB-shareA, h
		ps[i] = p
	}
	qs, err := stats.BHAdjust(ps)
	if err != nil {
		return err
	}
	for i := range regions {
		regions[i].Q = qs[i]
	}
	return nil
}

// Category is the category of a tested region at significance level alpha: a region with no
// cluster of one model, or significantly shifted with no texts of one model, is only-in the
// other; otherwise it is shifted when q ≤ alpha and the same when not.
func Category(r schema.Match, alpha float64) string {
	switch {
	case r.ClusterB == nil || (r.CountB == 0 && r.Q <= alpha):
		return schema.CategoryOnlyInA
	case r.ClusterA == nil || (r.CountA == 0 && r.Q <= alpha):
		return schema.CategoryOnlyInB
	case r.Q <= alpha:
		return schema.CategoryShifted
	default:
		return schema.CategorySame
	}
}

// samples returns the ids of up to n discovery-split members, most central (least distance to the
// centroid) first, ties by id.
func samples(members []member, n int) []string {
	ms := append([]member(nil), members...)
	sort.SliceStable(ms, func(x, y int) bool {
		if ms[x].dist != ms[y].dist {
			return ms[x].dist < ms[y].dist
		}
		return ms[x].id < ms[y].id
	})
	var ids []string
	for _, m := range ms {
		if m.disc && len(ids) < n {
			ids = append(ids, m.id)
		}
	}
	return ids
}

// rank sets each region's rank (by q, then by |h| descending, then by region) and returns the
// regions in rank order.
func rank(regions []schema.Match) []schema.Match {
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
	out := make([]schema.Match, len(regions))
	for r, i := range order {
		regions[i].Rank = int32(r + 1)
		out[r] = regions[i]
	}
	return out
}

// Differing counts the regions whose category is not schema.CategorySame.
func Differing(regions []schema.Match) int {
	n := 0
	for _, r := range regions {
		if r.Category != schema.CategorySame {
			n++
		}
	}
	return n
}
