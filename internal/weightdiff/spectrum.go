package weightdiff

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// matrixSource is an m×n matrix read in blocks of whole rows, as often as needed; a weight
// difference is re-read (and re-dequantized) from the two files rather than held in memory.
type matrixSource interface {
	Dims() (rows, cols int)
	// Blocks calls fn with consecutive blocks of rows, from the first: r0 is the index of the
	// block's first row and blk holds its rows, row-major (len(blk) is a multiple of cols). blk is
	// only valid during the call.
	Blocks(fn func(r0 int, blk []float64) error) error
}

// spectrum is what spectrumOf finds about a matrix D.
type spectrum struct {
	Singular   []float64 // the Top largest singular values, largest first
	Rank90     int       // fewest directions holding 90% of ||D||_F²; -1 when unknown (randomized, beyond the sketch)
	TopEnergy  float64   // share of ||D||_F² in Singular
	Rank1Error float64   // ||D - D1||_F / ||D||_F
	Method     string    // "exact" or "randomized"
}

// energyShare is the share of a difference's energy its rank90 directions hold.
const energyShare = 0.9

// spectrumOf computes the leading singular values of the matrix src and what follows from them;
// energy is ||src||_F², computed by the caller in the same pass as the norms.
//
// Exact, when min(m, n) <= ExactMax: the eigenvalues of the smaller Gram matrix (DᵀD, n×n, summed
// over blocks of rows when n <= m; DDᵀ, m×m, from the whole matrix held in memory otherwise). Cost:
// max(m,n)·min(m,n)² multiply-adds for the Gram matrix and about 4/3·min(m,n)³ flops for its
// eigenvalues; memory 8·min(m,n)² bytes, plus 8·m·n when m < n (then m <= ExactMax).
//
// Randomized otherwise (Halko, Martinsson & Tropp 2011, algorithm 4.4): Y = DΩ for a Gaussian
// n×l test matrix Ω, l = min(Sketch, m, n), re-orthonormalised through PowerIters rounds of
// Y ← D(DᵀY), then the singular values of QᵀD. 2·PowerIters + 2 passes over D of m·n·l
// multiply-adds each; memory 8·(m+n)·l bytes. The values found are lower bounds of the true ones,
// close for the leading ones when the spectrum decays; Rank90 is known only if the l directions
// hold 90% of the energy (and is then an upper bound); Rank1Error is an upper bound.
func spectrumOf(src matrixSource, energy float64, o Options) (spectrum, error) {
	m, n := src.Dims()
	k := min(m, n)
	if energy == 0 || k == 0 {
		return spectrum{Singular: make([]float64, min(o.Top, k)), Rank90: 0, TopEnergy: 1, Rank1Error: 0, Method: "exact"}, nil
	}
	var sv []float64
	var err error
	method := "exact"
	if k <= o.ExactMax {
		sv, err = exactSingularValues(src)
	} else {
		method = "randomized"
		sv, err = randomizedSingularValues(src, o)
	}
	if err != nil {
		return spectrum{}, err
	}
	s := spectrum{Method: method, Rank90: -1}
	var cum float64
	for i, v := range sv {
		cum += v * v
		if s.Rank90 < 0 && cum >= energyShare*energy {
			s.Rank90 = i + 1
		}
		if i+1 == min(o.Top, len(sv)) {
			s.TopEnergy = min(1, cum/energy)
		}
	}
	if s.Rank90 < 0 && method == "exact" {
		s.Rank90 = len(sv) // only by rounding: the eigenvalues sum to the energy
	}
	s.Singular = sv[:min(o.Top, len(sv))]
	s.Rank1Error = math.Sqrt(max(0, 1-sv[0]*sv[0]/energy))
	return s, nil
}

// exactSingularValues returns all min(m, n) singular values of src, largest first, from the
// eigenvalues of its smaller Gram matrix.
func exactSingularValues(src matrixSource) ([]float64, error) {
	m, n := src.Dims()
	var g blas64.Symmetric
	if n <= m {
		g = blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: make([]float64, n*n)}
		err := src.Blocks(func(_ int, blk []float64) error {
			blas64.Syrk(blas.Trans, 1, blas64.General{Rows: len(blk) / n, Cols: n, Stride: n, Data: blk}, 1, g)
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		all := make([]float64, m*n)
		err := src.Blocks(func(r0 int, blk []float64) error {
			copy(all[r0*n:], blk)
			return nil
		})
		if err != nil {
			return nil, err
		}
		g = blas64.Symmetric{Uplo: blas.Upper, N: m, Stride: m, Data: make([]float64, m*m)}
		blas64.Syrk(blas.NoTrans, 1, blas64.General{Rows: m, Cols: n, Stride: n, Data: all}, 0, g)
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(g.N, g.Data), false) {
		return nil, fmt.Errorf("the eigenvalues of the %d×%d Gram matrix did not converge", g.N, g.N)
	}
	vals := eig.Values(nil)
	slices.SortFunc(vals, func(a, b float64) int { return cmp.Compare(b, a) })
	for i, v := range vals {
		vals[i] = math.Sqrt(max(0, v))
	}
	return vals, nil
}

// randomizedSingularValues returns estimates of the l = min(Sketch, m, n) largest singular values of
// src, largest first (see spectrumOf).
func randomizedSingularValues(src matrixSource, o Options) ([]float64, error) {
	m, n := src.Dims()
	l := max(1, min(o.Sketch, m, n))
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d62642d73766421)) // "mbd-svd!"
	z := blas64.General{Rows: n, Cols: l, Stride: l, Data: make([]float64, n*l)}
	for i := range z.Data {
		z.Data[i] = rng.NormFloat64()
	}
	y := blas64.General{Rows: m, Cols: l, Stride: l, Data: make([]float64, m*l)}
	// y = D z
	mulD := func() error {
		return src.Blocks(func(r0 int, blk []float64) error {
			rows := len(blk) / n
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, blas64.General{Rows: rows, Cols: n, Stride: n, Data: blk}, z, 0,
				blas64.General{Rows: rows, Cols: l, Stride: l, Data: y.Data[r0*l : (r0+rows)*l]})
			return nil
		})
	}
	// z = Dᵀ y
	mulDT := func() error {
		clear(z.Data)
		return src.Blocks(func(r0 int, blk []float64) error {
			rows := len(blk) / n
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, blas64.General{Rows: rows, Cols: n, Stride: n, Data: blk},
				blas64.General{Rows: rows, Cols: l, Stride: l, Data: y.Data[r0*l : (r0+rows)*l]}, 1, z)
			return nil
		})
	}
	if err := mulD(); err != nil {
		return nil, err
	}
	orthonormalize(y)
	for range o.PowerIters {
		if err := mulDT(); err != nil {
			return nil, err
		}
		orthonormalize(z)
		if err := mulD(); err != nil {
			return nil, err
		}
		orthonormalize(y)
	}
	// z = DᵀQ is (QᵀD)ᵀ: its singular values estimate D's.
	if err := mulDT(); err != nil {
		return nil, err
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(n, l, z.Data), mat.SVDNone) {
		return nil, fmt.Errorf("the SVD of the %d×%d sketch did not converge", n, l)
	}
	return svd.Values(nil), nil // largest first
}

// orthonormalize replaces the columns of a (rows >= cols) by an orthonormal basis of their span
// (Householder QR, then the thin Q).
func orthonormalize(a blas64.General) {
	tau := make([]float64, a.Cols)
	work := make([]float64, 1)
	lapack64.Geqrf(a, tau, work, -1)
	lwork := int(work[0])
	lapack64.Orgqr(a, tau, work, -1)
	lwork = max(lwork, int(work[0]), a.Cols)
	work = make([]float64, lwork)
	lapack64.Geqrf(a, tau, work, lwork)
	lapack64.Orgqr(a, tau, work, lwork)
}
