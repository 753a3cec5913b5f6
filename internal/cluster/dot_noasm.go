//go:build !amd64 || purego

package cluster

const useAVX2 = false

func dots3x4AVX2(x0, x1, x2, c *float32, d8, k4, cstride int, out *float32, p0, p1, p2 *float32, pf int) {
	panic("cluster: no assembly kernels")
}

func addF32ToF64AVX(dst *float64, src *float32, n4 int) {
	panic("cluster: no assembly kernels")
}
