//go:build amd64 && !purego

package cluster

//go:noescape
func dots3x4AVX2(x0, x1, x2, c *float32, d8, k4, cstride int, out *float32, p0, p1, p2 *float32, pf int)

//go:noescape
func addF32ToF64AVX(dst *float64, src *float32, n4 int)

func cpuidex(leaf, sub uint32) (a, b, c, d uint32)

func xgetbv0() (eax, edx uint32)

// useAVX2 reports whether the CPU and OS support AVX2 and FMA (with the YMM
// state saved by the OS), so that the assembly kernels may run.
var useAVX2 = detectAVX2()

func detectAVX2() bool {
	maxLeaf, _, _, _ := cpuidex(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuidex(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if c1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv0(); xcr0&6 != 6 { // XMM and YMM state
		return false
	}
	_, b7, _, _ := cpuidex(7, 0)
	return b7&(1<<5) != 0 // AVX2
}
