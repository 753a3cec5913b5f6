package cluster

import (
	"math"
	"sync"
)

// The k-means inner loops (assignment and k-means++ seeding) are dense
// products X·Cᵀ of a block of points with a block of centroids (on unit
// vectors cosine is the dot product). They run on a register-blocked kernel,
// dots3, which computes the dot products of three points with groups of four
// centroids at a time (twelve accumulators of eight float32 lanes, every load
// used three or four times) while prefetching the next three points: in
// assembly with AVX2 and FMA on amd64 CPUs that have them, otherwise in Go
// (build tag purego forces Go). The two differ only in rounding; a given
// machine always takes the same path, so results stay deterministic per seed.
// The centroid matrices are padded with zero rows to a multiple of four; the
// padded rows are never selected.

// padK rounds k up to a multiple of 4, the centroid group size of dots3.
func padK(k int) int { return (k + 3) &^ 3 }

// dots3 sets out[(3g+r)*4+j] = x_r · c_{4g+j} for r < 3, g < kp/4, j < 4,
// where c_i = cent[i*d : (i+1)*d]. kp must be a multiple of 4, len(cent) ≥
// kp*d, len(out) ≥ 3*kp and every x_r must have length ≥ d. The summation
// order is fixed for a given CPU feature set (it does not depend on the
// calling goroutine or on the other rows).
//
// next, if not nil, holds the three points of the following call; the
// kernel prefetches them into the cache while it works on these.
func dots3(x0, x1, x2 []float32, next *[3][]float32, cent []float32, kp, d int, out []float32) {
	k4 := kp / 4
	if k4 == 0 {
		return
	}
	x0, x1, x2 = x0[:d], x1[:d], x2[:d]
	cent = cent[:kp*d]
	out = out[:3*kp]
	d8 := d / 8
	if !useAVX2 || d8 == 0 {
		dots3Go(x0, x1, x2, cent, kp, d, out)
		return
	}
	p0, p1, p2, pf := &x0[0], &x1[0], &x2[0], 0
	if next != nil {
		p0, p1, p2 = &next[0][:d][0], &next[1][:d][0], &next[2][:d][0]
		pf = k4 // during the last tile, so that they arrive just in time
	}
	dots3x4AVX2(&x0[0], &x1[0], &x2[0], &cent[0], d8, k4, d, &out[0], p0, p1, p2, pf)
	if t0 := d8 * 8; t0 < d {
		xs := [3][]float32{x0[t0:], x1[t0:], x2[t0:]}
		for c := range kp {
			cc := cent[c*d+t0 : (c+1)*d]
			g, j := c/4, c%4
			for r, x := range xs {
				var s float32
				for t, v := range x {
					s += v * cc[t]
				}
				out[(3*g+r)*4+j] += s
			}
		}
	}
}

// dots3Go is the portable dots3: one point against four centroids at a time,
// four scalar accumulators.
func dots3Go(x0, x1, x2, cent []float32, kp, d int, out []float32) {
	xs := [3][]float32{x0[:d], x1[:d], x2[:d]}
	for g := range kp / 4 {
		c0 := cent[(4*g)*d : (4*g+1)*d]
		c1 := cent[(4*g+1)*d : (4*g+2)*d]
		c2 := cent[(4*g+2)*d : (4*g+3)*d]
		c3 := cent[(4*g+3)*d : (4*g+4)*d]
		for r, x := range xs {
			var s0, s1, s2, s3 float32
			for t, v := range x {
				s0 += v * c0[t]
				s1 += v * c1[t]
				s2 += v * c2[t]
				s3 += v * c3[t]
			}
			o := out[(3*g+r)*4 : (3*g+r)*4+4]
			o[0], o[1], o[2], o[3] = s0, s1, s2, s3
		}
	}
}

// dotsRows calls fn(i, r, out) for every point xs[i], in index order, where
// out[(3g+r)*4+j] holds xs[i]·c_{4g+j} (the layout of dots3) for 4g+j < kp.
// It is the loop under nearestRows, k-means++ seeding and split2.
func dotsRows(xs [][]float32, cent []float32, kp, d int, buf []float32, fn func(i, r int, out []float32)) {
	n := len(xs)
	var cur, next [3][]float32
	triple := func(i int, t *[3][]float32) {
		t[0] = xs[i]
		t[1], t[2] = t[0], t[0]
		if i+1 < n {
			t[1] = xs[i+1]
		}
		if i+2 < n {
			t[2] = xs[i+2]
		}
	}
	if n > 0 {
		triple(0, &next)
	}
	for i := 0; i < n; i += 3 {
		cur = next
		pn := &next
		if i+3 < n {
			triple(i+3, &next)
		} else {
			pn = nil
		}
		dots3(cur[0], cur[1], cur[2], pn, cent, kp, d, buf)
		for r := range min(3, n-i) {
			fn(i+r, r, buf)
		}
	}
}

// nearestRows sets best[i] to the index of the centroid among the first k
// rows of cent (kp ≥ k rows in all, zero-padded) with the largest dot product
// with xs[i], lowest index on ties, and score[i] to that dot product; if
// second is not nil, second[i] to the largest dot product with any other of
// the k centroids (−Inf when k = 1). buf needs length ≥ 3*kp.
func nearestRows(xs [][]float32, cent []float32, k, kp, d int, buf []float32, best []int, score, second []float32) {
	dotsRows(xs, cent, kp, d, buf, func(i, r int, out []float32) {
		b, bs, s2 := 0, out[r*4], float32(math.Inf(-1))
		for j := 1; j < k; j++ {
			s := out[(3*(j/4)+r)*4+j%4]
			if s > bs {
				b, bs, s2 = j, s, bs
			} else if s > s2 {
				s2 = s
			}
		}
		best[i], score[i] = b, bs
		if second != nil {
			second[i] = s2
		}
	})
}

// addF32ToF64 sets dst[t] += float64(src[t]) for t < len(src). The result
// is the same with and without the assembly kernel.
func addF32ToF64(dst []float64, src []float32) {
	dst = dst[:len(src)]
	t := 0
	if n4 := len(src) / 4; useAVX2 && n4 > 0 {
		addF32ToF64AVX(&dst[0], &src[0], n4)
		t = 4 * n4
	}
	for ; t < len(src); t++ {
		dst[t] += float64(src[t])
	}
}

// rowScratch is per-chunk scratch for the assignment loops.
type rowScratch struct {
	buf   []float32
	best  []int
	score []float32
}

var scratchPool sync.Pool

// getScratch returns scratch for up to n points and kp centroids.
func getScratch(n, kp int) *rowScratch {
	s, _ := scratchPool.Get().(*rowScratch)
	if s == nil {
		s = &rowScratch{}
	}
	if cap(s.buf) < 3*kp {
		s.buf = make([]float32, 3*kp)
	}
	if cap(s.best) < n {
		s.best = make([]int, n)
		s.score = make([]float32, n)
	}
	s.buf, s.best, s.score = s.buf[:3*kp], s.best[:n], s.score[:n]
	return s
}

func putScratch(s *rowScratch) { scratchPool.Put(s) }
