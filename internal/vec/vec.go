// Package vec holds the small vector operations the embedding, clustering and matching stages share:
// L2 normalisation (the embeddings mbd stores are unit vectors, so cosine similarity is a dot
// product) and cosine similarity of vectors that may not be unit.
package vec

import "math"

// Unit returns v scaled to unit L2 norm as float32; a zero vector stays zero. The norm is summed in
// float64 so that long float32 vectors keep their precision.
func Unit(v []float64) []float32 {
	out := make([]float32, len(v))
	UnitInto(out, v)
	return out
}

// UnitInto writes v scaled to unit L2 norm into dst (of v's length) and reports whether v is
// non-zero; for a zero vector dst is left as it is. It allocates nothing, for loops that
// renormalise sums into a buffer (k-means centroids).
func UnitInto(dst []float32, v []float64) bool {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	if ss == 0 {
		return false
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		dst[i] = float32(x * inv)
	}
	return true
}

// Normalize scales v in place to unit L2 norm; a zero vector stays zero.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}

// Normalize64 scales v in place to unit L2 norm; a zero vector stays zero.
func Normalize64(v []float64) {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	if ss == 0 {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] *= inv
	}
}

// Dot is the dot product of x and y accumulated in float64: for unit vectors, their cosine
// similarity. The vectors must have the same length.
func Dot(x, y []float32) float64 {
	var s float64
	for i := range x {
		s += float64(x[i]) * float64(y[i])
	}
	return s
}

// Cosine is the cosine similarity of x and y (0 when either is zero). The vectors must have the same
// length.
func Cosine(x, y []float32) float64 {
	var dot, nx, ny float64
	for i := range x {
		a, b := float64(x[i]), float64(y[i])
		dot += a * b
		nx += a * a
		ny += b * b
	}
	if nx == 0 || ny == 0 {
		return 0
	}
	return dot / math.Sqrt(nx*ny)
}
