package cluster

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// PCA is a fitted 2-D principal component projection.
type PCA struct {
	// Mean is the mean of the fitted data.
	Mean []float64
	// Axes are the first two principal axes (unit vectors; an axis is all
	// zero when the data has rank below its index + 1). The sign of each
	// is fixed so that its largest-magnitude coordinate (lowest index on
	// ties) is positive.
	Axes [2][]float64
	// Variance is the variance of the data along each axis (σ²/(n−1), or
	// σ² when n = 1).
	Variance [2]float64
}

// FitPCA fits a 2-D PCA to the rows of data (any vectors, not necessarily
// normalised) by the thin SVD of the centred n×d data matrix.
func FitPCA(data [][]float32) (*PCA, error) {
	d, err := checkData(data, false)
	if err != nil {
		return nil, err
	}
	n := len(data)
	p := &PCA{Mean: make([]float64, d)}
	for _, x := range data {
		for t, v := range x {
			p.Mean[t] += float64(v)
		}
	}
	for t := range p.Mean {
		p.Mean[t] /= float64(n)
	}
	a := mat.NewDense(n, d, nil)
	for i, x := range data {
		row := a.RawRowView(i)
		for t, v := range x {
			row[t] = float64(v) - p.Mean[t]
		}
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThinV) {
		return nil, errors.New("cluster: PCA: SVD did not converge")
	}
	var v mat.Dense
	svd.VTo(&v)
	sv := svd.Values(nil)
	_, r := v.Dims()
	denom := float64(max(n-1, 1))
	for c := range 2 {
		axis := make([]float64, d)
		if c < r && sv[c] > 0 {
			mat.Col(axis, c, &v)
			big := 0
			for t, x := range axis {
				if math.Abs(x) > math.Abs(axis[big]) {
					big = t
				}
			}
			if axis[big] < 0 {
				for t := range axis {
					axis[t] = -axis[t]
				}
			}
			p.Variance[c] = sv[c] * sv[c] / denom
		}
		p.Axes[c] = axis
	}
	return p, nil
}

// Project returns the 2-D coordinates of rows (of the fitted dimension).
func (p *PCA) Project(rows [][]float32) ([][2]float64, error) {
	out := make([][2]float64, len(rows))
	for i, x := range rows {
		if len(x) != len(p.Mean) {
			return nil, fmt.Errorf("cluster: PCA: row %d has dimension %d, fitted %d", i, len(x), len(p.Mean))
		}
		for c := range 2 {
			var s float64
			for t, v := range x {
				s += (float64(v) - p.Mean[t]) * p.Axes[c][t]
			}
			out[i][c] = s
		}
	}
	return out, nil
}

// PCA2 fits a PCA on texts and projects both texts and centroids with the
// same mean and axes.
func PCA2(texts, centroids [][]float32) (textXY, centroidXY [][2]float64, err error) {
	p, err := FitPCA(texts)
	if err != nil {
		return nil, nil, err
	}
	if textXY, err = p.Project(texts); err != nil {
		return nil, nil, err
	}
	if centroidXY, err = p.Project(centroids); err != nil {
		return nil, nil, err
	}
	return textXY, centroidXY, nil
}
