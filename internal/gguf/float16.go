package gguf

import "math"

// Float32ToFloat16 converts f to IEEE 754 binary16 bits, rounding to nearest with ties to even
// (as ggml's GGML_FP32_TO_FP16 and F16C's vcvtps2ph with rounding mode 0 do). Values beyond the
// half range become ±Inf, values below half the smallest subnormal become ±0, and NaNs stay NaN
// (quiet, with the top payload bits kept).
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	if exp == 0 {
		// float32 subnormals are far below the half range.
		return sign
	}
	m := mant | 0x800000 // 24 significant bits
	e := exp - 127 + 15  // biased half exponent
	shift := int32(13)
	base := uint32(0)
	if e >= 1 {
		base = uint32(e-1) << 10
	} else {
		shift = 14 - e
		if shift >= 25 {
			return sign
		}
	}
	r := m >> uint(shift)
	rem := m & (1<<uint(shift) - 1)
	half := uint32(1) << uint(shift-1)
	if rem > half || (rem == half && r&1 == 1) {
		r++
	}
	h := base + r // the implicit bit in r adds one to the exponent field; a rounding carry too
	if h >= 0x7c00 {
		return sign | 0x7c00
	}
	return sign | uint16(h)
}

// Float16ToFloat32 converts IEEE 754 binary16 bits to a float32 (exactly).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: normalise
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToBFloat16 converts f to bfloat16 bits with round-to-nearest-even, as ggml's
// ggml_compute_fp32_to_bf16 does (NaNs are kept quiet).
func Float32ToBFloat16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + (u>>16)&1)) >> 16)
}

// BFloat16ToFloat32 converts bfloat16 bits to a float32 (exactly).
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
