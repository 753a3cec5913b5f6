//go:build amd64 && !purego

#include "textflag.h"

// func cpuidex(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuidex(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv0() (eax, edx uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func dots3x4AVX2(x0, x1, x2, c *float32, d8, k4, cstride int, out *float32, p0, p1, p2 *float32, pf int)
//
// For g < k4, r < 3, j < 4: out[(3g+r)*4+j] = Σ_{t < 8·d8} x_r[t]·c[(4g+j)·cstride+t],
// with eight float32 lanes per accumulator (lane l sums t ≡ l mod 8), the lanes
// then added in a fixed order. Requires d8 ≥ 1 and k4 ≥ 1; cstride in floats.
// While computing tile g = pf − 1 it prefetches the first 32·d8 bytes of
// p0, p1 and p2 (the next points), which are not otherwise read.
TEXT ·dots3x4AVX2(SB), NOSPLIT, $0-96
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), CX
	MOVQ c+24(FP), R11
	MOVQ d8+32(FP), DI
	SHLQ $5, DI
	MOVQ cstride+48(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	MOVQ out+56(FP), R8
	MOVQ p0+64(FP), DX
	MOVQ p1+72(FP), R12
	MOVQ p2+80(FP), R13

tile:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ SI, SI
	DECQ pf+88(FP)
	JZ   innerpf

inner:
	VMOVUPS (AX)(SI*1), Y12
	VMOVUPS (BX)(SI*1), Y13
	VMOVUPS (CX)(SI*1), Y14
	VMOVUPS (R11), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (R11)(R9*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (R11)(R9*2), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (R11)(R10*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $32, SI
	ADDQ $32, R11
	CMPQ SI, DI
	JLT  inner
	JMP  reduce

innerpf:
	PREFETCHT0 (DX)(SI*1)
	PREFETCHT0 (R12)(SI*1)
	PREFETCHT0 (R13)(SI*1)
	VMOVUPS (AX)(SI*1), Y12
	VMOVUPS (BX)(SI*1), Y13
	VMOVUPS (CX)(SI*1), Y14
	VMOVUPS (R11), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (R11)(R9*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (R11)(R9*2), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (R11)(R10*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $32, SI
	ADDQ $32, R11
	CMPQ SI, DI
	JLT  innerpf

reduce:
	// Row 0: Y0..Y3 -> 4 sums.
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R8)
	// Row 1: Y4..Y7.
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVUPS X4, 16(R8)
	// Row 2: Y8..Y11.
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMOVUPS X8, 32(R8)

	ADDQ $48, R8
	// R11 has moved 32·d8 bytes; go to the next group of four rows.
	SUBQ DI, R11
	LEAQ (R11)(R9*4), R11
	DECQ k4+40(FP)
	JNZ  tile

	VZEROUPPER
	RET

// func addF32ToF64AVX(dst *float64, src *float32, n4 int)
//
// dst[t] += float64(src[t]) for t < 4·n4.
TEXT ·addF32ToF64AVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n4+16(FP), CX
	CMPQ CX, $2
	JLT  tail

loop8:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VADDPD (DI), Y0, Y0
	VADDPD 32(DI), Y1, Y1
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  loop8

tail:
	TESTQ CX, CX
	JZ    done
	VCVTPS2PD (SI), Y0
	VADDPD (DI), Y0, Y0
	VMOVUPD Y0, (DI)

done:
	VZEROUPPER
	RET

