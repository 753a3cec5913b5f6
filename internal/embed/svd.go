package embed

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// exactLimit is the largest smaller-side size of the TF-IDF matrix decomposed exactly; above it
// truncatedSVD uses the randomized algorithm.
const exactLimit = 500

// Randomized SVD settings (Halko, Martinsson & Tropp 2011): extra sampled directions and power
// iterations (scikit-learn's TruncatedSVD uses 10 and 5).
const (
	oversample = 16
	powerIters = 6
)

// relTol drops components whose squared singular value is below relTol times the largest: they
// are numerically zero in the Gram-matrix eigendecompositions used here.
const relTol = 1e-10

// truncatedSVD returns the top min(dim, rank) right singular vectors of a as a cols×k row-major
// matrix, with their singular values (largest first). The sign of each vector is fixed so that its
// largest-magnitude entry (the first such) is positive.
func truncatedSVD(a *csr, dim int, seed uint64) ([]float64, []float64) {
	r := min(a.rows, a.cols)
	var v []float64
	var sigma []float64
	if r <= exactLimit {
		v, sigma = exactSVD(a, dim)
	} else {
		v, sigma = randomizedSVD(a, dim, seed)
	}
	fixSigns(v, a.cols, len(sigma))
	return v, sigma
}

// exactSVD decomposes the smaller Gram matrix.
func exactSVD(a *csr, dim int) ([]float64, []float64) {
	if a.rows <= a.cols {
		// G = A·Aᵀ, summed term by term over each term's postings.
		n := a.rows
		type post struct {
			i int
			v float64
		}
		cols := make([][]post, a.cols)
		for i := 0; i < n; i++ {
			for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
				cols[a.idx[p]] = append(cols[a.idx[p]], post{i, a.val[p]})
			}
		}
		g := make([]float64, n*n)
		for _, ps := range cols {
			for x, p := range ps {
				for _, q := range ps[x:] {
					g[p.i*n+q.i] += p.v * q.v
				}
			}
		}
		for i := 0; i < n; i++ { // mirror the upper triangle
			for j := i + 1; j < n; j++ {
				g[j*n+i] = g[i*n+j]
			}
		}
		u, lambda := topEigen(g, n, dim)
		k := len(lambda)
		sigma := make([]float64, k)
		for c := range sigma {
			sigma[c] = math.Sqrt(lambda[c])
		}
		// V = Aᵀ·U·Σ⁻¹.
		v := make([]float64, a.cols*k)
		for i := 0; i < n; i++ {
			ui := u[i*k : (i+1)*k]
			for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
				vt := v[int(a.idx[p])*k : int(a.idx[p])*k+k]
				w := a.val[p]
				for c := range vt {
					vt[c] += w * ui[c]
				}
			}
		}
		scaleCols(v, a.cols, k, sigma)
		return v, sigma
	}
	// G = Aᵀ·A, summed text by text; its eigenvectors are V.
	m := a.cols
	g := make([]float64, m*m)
	for i := 0; i < a.rows; i++ {
		for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
			for q := p; q < a.ptr[i+1]; q++ {
				g[int(a.idx[p])*m+int(a.idx[q])] += a.val[p] * a.val[q]
			}
		}
	}
	for i := 0; i < m; i++ {
		for j := i + 1; j < m; j++ {
			g[j*m+i] = g[i*m+j]
		}
	}
	v, lambda := topEigen(g, m, dim)
	sigma := make([]float64, len(lambda))
	for c := range sigma {
		sigma[c] = math.Sqrt(lambda[c])
	}
	return v, sigma
}

// topEigen returns the eigenvectors (n×k row-major) and eigenvalues, largest first, of the
// symmetric n×n matrix g for its k ≤ dim largest eigenvalues above relTol times the largest.
func topEigen(g []float64, n, dim int) ([]float64, []float64) {
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(n, g), true) {
		return make([]float64, 0), nil
	}
	vals := es.Values(nil) // ascending
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	top := vals[n-1]
	var lambda []float64
	for c := n - 1; c >= 0 && len(lambda) < dim; c-- {
		if top <= 0 || vals[c] <= relTol*top {
			break
		}
		lambda = append(lambda, vals[c])
	}
	k := len(lambda)
	out := make([]float64, n*k)
	for i := 0; i < n; i++ {
		for c := 0; c < k; c++ {
			out[i*k+c] = vecs.At(i, n-1-c)
		}
	}
	return out, lambda
}

// randomizedSVD is Halko et al.'s randomized range finder with power iterations (Algorithm 4.3,
// with the text-side block orthonormalised after every A·Aᵀ product as in their subspace
// iteration, Algorithm 4.4, which also orthonormalises the term side) followed by the direct SVD
// of the small projected matrix (Algorithm 5.1), done through the eigendecomposition of its l×l
// Gram matrix.
func randomizedSVD(a *csr, dim int, seed uint64) ([]float64, []float64) {
	r := min(a.rows, a.cols)
	k := min(dim, r)
	l := min(k+oversample, r)
	rng := rand.New(rand.NewPCG(seed, 0x6d62642d6c7361)) // "mbd-lsa"
	omega := make([]float64, a.cols*l)
	for i := range omega {
		omega[i] = rng.NormFloat64()
	}
	y := spMul(a, omega, l)
	orthonormalize(y, a.rows, l)
	for it := 0; it < powerIters; it++ {
		// Only the text-side block is re-orthonormalised: each step then amplifies by at most
		// σ₁²/σₗ², harmless in float64, and the term side (often 100k+ rows) is left alone.
		y = spMul(a, spTMul(a, y, l), l)
		orthonormalize(y, a.rows, l)
	}
	bt := spTMul(a, y, l) // Bᵀ = Aᵀ·Q, cols×l
	btM := mat.NewDense(a.cols, l, bt)
	var g mat.Dense
	g.Mul(btM.T(), btM)
	gs := make([]float64, l*l)
	for i := 0; i < l; i++ {
		for j := 0; j < l; j++ {
			gs[i*l+j] = (g.At(i, j) + g.At(j, i)) / 2
		}
	}
	w, lambda := topEigen(gs, l, k)
	kk := len(lambda)
	sigma := make([]float64, kk)
	for c := range sigma {
		sigma[c] = math.Sqrt(lambda[c])
	}
	// V = Bᵀ·W·Σ⁻¹.
	var vM mat.Dense
	vM.Mul(btM, mat.NewDense(l, kk, w))
	v := make([]float64, a.cols*kk)
	for i := 0; i < a.cols; i++ {
		for c := 0; c < kk; c++ {
			v[i*kk+c] = vM.At(i, c)
		}
	}
	scaleCols(v, a.cols, kk, sigma)
	return v, sigma
}

// spMul returns A·X for X cols×l (row-major), as rows×l.
func spMul(a *csr, x []float64, l int) []float64 {
	out := make([]float64, a.rows*l)
	for i := 0; i < a.rows; i++ {
		oi := out[i*l : (i+1)*l]
		for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
			w := a.val[p]
			xt := x[int(a.idx[p])*l : int(a.idx[p])*l+l]
			for c := range oi {
				oi[c] += w * xt[c]
			}
		}
	}
	return out
}

// spTMul returns Aᵀ·Y for Y rows×l (row-major), as cols×l.
func spTMul(a *csr, y []float64, l int) []float64 {
	out := make([]float64, a.cols*l)
	for i := 0; i < a.rows; i++ {
		yi := y[i*l : (i+1)*l]
		for p := a.ptr[i]; p < a.ptr[i+1]; p++ {
			w := a.val[p]
			ot := out[int(a.idx[p])*l : int(a.idx[p])*l+l]
			for c := range ot {
				ot[c] += w * yi[c]
			}
		}
	}
	return out
}

// orthonormalize replaces the columns of the m×l row-major matrix x (m ≥ l) by an orthonormal
// basis of their span (Householder QR).
func orthonormalize(x []float64, m, l int) {
	g := blas64.General{Rows: m, Cols: l, Stride: l, Data: x}
	tau := make([]float64, l)
	work := make([]float64, 1)
	lapack64.Geqrf(g, tau, work, -1)
	work = make([]float64, max(int(work[0]), l))
	lapack64.Geqrf(g, tau, work, len(work))
	lapack64.Orgqr(g, tau, work, -1)
	if int(work[0]) > len(work) {
		work = make([]float64, int(work[0]))
	}
	lapack64.Orgqr(g, tau, work, len(work))
}

// scaleCols divides column c of the m×k row-major matrix v by s[c].
func scaleCols(v []float64, m, k int, s []float64) {
	for i := 0; i < m; i++ {
		for c := 0; c < k; c++ {
			v[i*k+c] /= s[c]
		}
	}
}

// fixSigns flips columns of the m×k row-major matrix v so that each column's largest-magnitude
// entry (the first, on ties) is positive.
func fixSigns(v []float64, m, k int) {
	for c := 0; c < k; c++ {
		best, at := -1.0, 0
		for i := 0; i < m; i++ {
			if x := math.Abs(v[i*k+c]); x > best {
				best, at = x, i
			}
		}
		if v[at*k+c] < 0 {
			for i := 0; i < m; i++ {
				v[i*k+c] = -v[i*k+c]
			}
		}
	}
}
