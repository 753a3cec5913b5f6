package clustering

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/mbd-dev/mbd/internal/cluster"
	"github.com/mbd-dev/mbd/internal/vec"
)

// CenterByPrompt replaces each point's vector by its difference from the mean vector of its
// prompt's points, renormalised (a zero difference becomes the zero vector). Every prompt needs
// two points or more.
func CenterByPrompt(pts []Point) error {
	byPrompt := map[string][]int{}
	for i, p := range pts {
		byPrompt[p.PromptID] = append(byPrompt[p.PromptID], i)
	}
	for id, idx := range byPrompt {
		if len(idx) < 2 {
			return fmt.Errorf("prompt %s has only one text (generation %s): centering needs two or more per prompt", id, pts[idx[0]].ID)
		}
		mean := make([]float64, len(pts[idx[0]].Vec))
		for _, i := range idx {
			for d, x := range pts[i].Vec {
				mean[d] += float64(x)
			}
		}
		for d := range mean {
			mean[d] /= float64(len(idx))
		}
		for _, i := range idx {
			r := make([]float64, len(mean))
			norm := 0.0
			for d, x := range pts[i].Vec {
				r[d] = float64(x) - mean[d]
				norm += r[d] * r[d]
			}
			if norm < 1e-12 {
				pts[i].Vec = make([]float32, len(r))
				continue
			}
			pts[i].Vec = vec.Unit(r)
		}
	}
	return nil
}

// PCASample bounds the points the 2-D map is fitted on: the SVD of all of them would copy the data
// twice in float64 (measured: 9.4 GB peak for 1M × 384). A seeded sample of this size estimates two
// axes closely; every point is then projected.
const PCASample = 20000

// Place sets the map coordinates (X, Y) of every cluster row and centroid of res: a 2-D PCA of
// the points' vectors (fitted on a seeded sample of PCASample points when there are more),
// applied to the centroids too. res.Clusters[i] is the row of pts[i].
func Place(pts []Point, res *Result, seed uint64) error {
	all := make([][]float32, len(pts))
	for i, p := range pts {
		all[i] = p.Vec
	}
	cv := make([][]float32, len(res.Centroids))
	for i, c := range res.Centroids {
		cv[i] = c.Vector
	}
	txy, cxy, err := pcaMap(all, cv, seed)
	if err != nil {
		return err
	}
	for i := range res.Clusters {
		res.Clusters[i].X, res.Clusters[i].Y = float32(txy[i][0]), float32(txy[i][1])
	}
	for i := range res.Centroids {
		res.Centroids[i].X, res.Centroids[i].Y = float32(cxy[i][0]), float32(cxy[i][1])
	}
	return nil
}

func pcaMap(all, centroids [][]float32, seed uint64) (txy, cxy [][2]float64, err error) {
	fit := all
	if len(all) > PCASample {
		r := rand.New(rand.NewPCG(seed, 0x70ca))
		idx := r.Perm(len(all))[:PCASample]
		sort.Ints(idx)
		fit = make([][]float32, PCASample)
		for i, j := range idx {
			fit[i] = all[j]
		}
	}
	p, err := cluster.FitPCA(fit)
	if err != nil {
		return nil, nil, err
	}
	if txy, err = p.Project(all); err != nil {
		return nil, nil, err
	}
	cxy, err = p.Project(centroids)
	return txy, cxy, err
}
