package llamacpp

/*
#include <stddef.h>
#include <stdint.h>
#include "ggml.h"

// mbd_dequantize converts n elements of ggml type typ at src (nbytes bytes) to float32 with ggml's
// own to_float; it checks everything ggml would otherwise assert on. 0 on success.
static int mbd_dequantize(int typ, const void *src, size_t nbytes, float *dst, int64_t n) {
	if (typ < 0 || typ >= GGML_TYPE_COUNT) return 1;
	const struct ggml_type_traits *tt = ggml_get_type_traits((enum ggml_type)typ);
	if (tt->blck_size <= 0 || tt->to_float == NULL) return 2;
	if (n < 0 || n % tt->blck_size != 0) return 3;
	if (ggml_row_size((enum ggml_type)typ, n) != nbytes) return 4;
	if (n > 0) tt->to_float(src, dst, n);
	return 0;
}

static int mbd_can_dequantize(int typ) {
	if (typ < 0 || typ >= GGML_TYPE_COUNT) return 0;
	const struct ggml_type_traits *tt = ggml_get_type_traits((enum ggml_type)typ);
	return tt->blck_size > 0 && tt->to_float != NULL;
}

static int64_t mbd_block_size(int typ) { return ggml_get_type_traits((enum ggml_type)typ)->blck_size; }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// CanDequantize reports whether ggml can convert tensors of ggml type typ (enum ggml_type, as
// gguf.TensorType numbers it) to float32: F16, BF16 and every quantized type, but not F32 (already
// float32), F64 or the integer types.
func CanDequantize(typ uint32) bool {
	return typ < 1<<30 && C.mbd_can_dequantize(C.int(typ)) != 0
}

// Dequantize converts len(dst) elements of ggml type typ, stored in src, to float32 with ggml's own
// dequantization (ggml_get_type_traits(typ)->to_float), the code llama.cpp runs. len(dst) must be a
// multiple of the type's block size and src exactly the data of that many elements.
func Dequantize(typ uint32, src []byte, dst []float32) error {
	if !CanDequantize(typ) {
		return fmt.Errorf("ggml cannot dequantize tensor type %d", typ)
	}
	var sp unsafe.Pointer
	var dp *C.float
	if len(src) > 0 {
		sp = unsafe.Pointer(&src[0])
	}
	if len(dst) > 0 {
		dp = (*C.float)(unsafe.Pointer(&dst[0]))
	}
	switch C.mbd_dequantize(C.int(typ), sp, C.size_t(len(src)), dp, C.int64_t(len(dst))) {
	case 0:
		return nil
	case 3:
		return fmt.Errorf("dequantize: %d elements are not whole blocks of %d", len(dst), int64(C.mbd_block_size(C.int(typ))))
	case 4:
		return fmt.Errorf("dequantize: %d bytes do not hold %d elements of tensor type %d", len(src), len(dst), typ)
	default:
		return fmt.Errorf("ggml cannot dequantize tensor type %d", typ)
	}
}
