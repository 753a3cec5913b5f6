// Package gguf reads and writes GGUF files, the model format of ggml and llama.cpp.
//
// The format is specified in ggml's docs/gguf.md and in the comment at the top of ggml's
// include/gguf.h (vendored in github.com/ollama/ollama under ml/backend/ggml/ggml/include);
// ggml's src/gguf.cpp is the reference reader this package is checked against. All integers are
// little-endian. A file is:
//
//  1. the magic "GGUF" (4 bytes) and the version (uint32, 3 here);
//  2. the number of tensors (int64) and of key/value pairs (int64);
//  3. the key/value pairs: key (string), value type (int32 gguf_type) and the value; an array is the
//     element type (int32), the element count (uint64) and the elements; strings are a uint64 byte
//     length followed by the bytes (no terminator); bools are one byte;
//  4. the tensor infos: name (string, < 64 bytes), number of dimensions (uint32, ≤ 4), the
//     dimensions (int64 each, in ggml order: ne[0] is the innermost, contiguous one — the length of a
//     row), the ggml type (int32) and the offset of the tensor's data from the start of the data
//     section (uint64);
//  5. padding to the alignment (the uint32 key "general.alignment", 32 when absent), then the data
//     section: each tensor's data, starting at a multiple of the alignment and padded with zeros to
//     the next multiple. ggml requires the tensors to be laid out in the order of their infos with
//     no gaps other than that padding, so the writer does exactly that.
//
// The Writer streams: it needs the metadata and the tensor shapes up front (they make up the header,
// which records every tensor's offset) but takes the tensor data afterwards, in order and in as many
// pieces as the caller likes, so a file never has to exist in memory. It writes F32, F16 and BF16
// tensors from float32 values (F16 with round-to-nearest-even, see Float32ToFloat16) and any ggml
// type from raw bytes.
//
// The Reader parses the header, the metadata and the tensor infos of a file of version 2 or 3 and
// decodes F32, F16 and BF16 tensors to float32. It validates every count and length against the
// file's size before allocating, so a corrupt or hostile file costs at most a small multiple of its
// own size in memory and yields an error wrapping ErrBadMagic, ErrUnsupportedVersion, ErrTruncated
// or ErrInvalid, never a panic.
package gguf

import (
	"errors"
	"fmt"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// Version is the GGUF version the Writer produces.
const Version = 3

// DefaultAlignment is the data alignment when the file has no "general.alignment" key.
const DefaultAlignment = 32

// KeyAlignment is the metadata key holding the data alignment (a uint32 power of two).
const KeyAlignment = "general.alignment"

// MaxTensorNameLen is ggml's GGML_MAX_NAME: tensor names must be shorter than this many bytes.
const MaxTensorNameLen = 64

// MaxDims is ggml's GGML_MAX_DIMS.
const MaxDims = 4

// Errors the Reader wraps.
var (
	ErrBadMagic           = errors.New("gguf: not a GGUF file (bad magic)")
	ErrUnsupportedVersion = errors.New("gguf: unsupported GGUF version")
	ErrTruncated          = errors.New("gguf: file is truncated")
	ErrInvalid            = errors.New("gguf: invalid file")
)

// ValueType is the type of a metadata value (gguf_type in gguf.h).
type ValueType uint32

// Metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// size is the encoded size of a scalar of type t (strings: the minimum, an empty one).
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64, TypeString:
		return 8
	}
	return 0
}

// KV is one metadata pair. Value holds one of the Go types uint8, int8, uint16, int16, uint32,
// int32, float32, bool, string, uint64, int64, float64 or a slice of one of them ([]string for an
// array of strings). Array values of type array (nested arrays) are not supported.
type KV struct {
	Key   string
	Value any
}

// typeOf returns the GGUF type of a Go value: (TypeArray, element type) for slices.
func typeOf(v any) (typ, elem ValueType, ok bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, true
	case int8:
		return TypeInt8, 0, true
	case uint16:
		return TypeUint16, 0, true
	case int16:
		return TypeInt16, 0, true
	case uint32:
		return TypeUint32, 0, true
	case int32:
		return TypeInt32, 0, true
	case float32:
		return TypeFloat32, 0, true
	case bool:
		return TypeBool, 0, true
	case string:
		return TypeString, 0, true
	case uint64:
		return TypeUint64, 0, true
	case int64:
		return TypeInt64, 0, true
	case float64:
		return TypeFloat64, 0, true
	case []uint8:
		return TypeArray, TypeUint8, true
	case []int8:
		return TypeArray, TypeInt8, true
	case []uint16:
		return TypeArray, TypeUint16, true
	case []int16:
		return TypeArray, TypeInt16, true
	case []uint32:
		return TypeArray, TypeUint32, true
	case []int32:
		return TypeArray, TypeInt32, true
	case []float32:
		return TypeArray, TypeFloat32, true
	case []bool:
		return TypeArray, TypeBool, true
	case []string:
		return TypeArray, TypeString, true
	case []uint64:
		return TypeArray, TypeUint64, true
	case []int64:
		return TypeArray, TypeInt64, true
	case []float64:
		return TypeArray, TypeFloat64, true
	}
	return 0, 0, false
}

// TensorType is a ggml tensor type (enum ggml_type in ggml.h).
type TensorType uint32

// The ggml tensor types. Only F32, F16 and BF16 can be written from or decoded to float32; the
// others can be written from raw bytes and their infos read.
const (
	TensorF32     TensorType = 0
	TensorF16     TensorType = 1
	TensorQ4_0    TensorType = 2
	TensorQ4_1    TensorType = 3
	TensorQ5_0    TensorType = 6
	TensorQ5_1    TensorType = 7
	TensorQ8_0    TensorType = 8
	TensorQ8_1    TensorType = 9
	TensorQ2_K    TensorType = 10
	TensorQ3_K    TensorType = 11
	TensorQ4_K    TensorType = 12
	TensorQ5_K    TensorType = 13
	TensorQ6_K    TensorType = 14
	TensorQ8_K    TensorType = 15
	TensorIQ2_XXS TensorType = 16
	TensorIQ2_XS  TensorType = 17
	TensorIQ3_XXS TensorType = 18
	TensorIQ1_S   TensorType = 19
	TensorIQ4_NL  TensorType = 20
	TensorIQ3_S   TensorType = 21
	TensorIQ2_S   TensorType = 22
	TensorIQ4_XS  TensorType = 23
	TensorI8      TensorType = 24
	TensorI16     TensorType = 25
	TensorI32     TensorType = 26
	TensorI64     TensorType = 27
	TensorF64     TensorType = 28
	TensorIQ1_M   TensorType = 29
	TensorBF16    TensorType = 30
	TensorTQ1_0   TensorType = 34
	TensorTQ2_0   TensorType = 35
	TensorMXFP4   TensorType = 39
)

// typeTraits is ggml's type_traits table (src/ggml.c): elements per block and bytes per block.
var typeTraits = map[TensorType]struct {
	name             string
	blockLen, blockB uint64
}{
	TensorF32: {"F32", 1, 4}, TensorF16: {"F16", 1, 2}, TensorBF16: {"BF16", 1, 2},
	TensorF64: {"F64", 1, 8}, TensorI8: {"I8", 1, 1}, TensorI16: {"I16", 1, 2},
	TensorI32: {"I32", 1, 4}, TensorI64: {"I64", 1, 8},
	TensorQ4_0: {"Q4_0", 32, 18}, TensorQ4_1: {"Q4_1", 32, 20}, TensorQ5_0: {"Q5_0", 32, 22},
	TensorQ5_1: {"Q5_1", 32, 24}, TensorQ8_0: {"Q8_0", 32, 34}, TensorQ8_1: {"Q8_1", 32, 36},
	TensorMXFP4: {"MXFP4", 32, 17}, TensorIQ4_NL: {"IQ4_NL", 32, 18},
	TensorQ2_K: {"Q2_K", 256, 84}, TensorQ3_K: {"Q3_K", 256, 110}, TensorQ4_K: {"Q4_K", 256, 144},
	TensorQ5_K: {"Q5_K", 256, 176}, TensorQ6_K: {"Q6_K", 256, 210}, TensorQ8_K: {"Q8_K", 256, 292},
	TensorIQ2_XXS: {"IQ2_XXS", 256, 66}, TensorIQ2_XS: {"IQ2_XS", 256, 74},
	TensorIQ2_S: {"IQ2_S", 256, 82}, TensorIQ3_XXS: {"IQ3_XXS", 256, 98},
	TensorIQ3_S: {"IQ3_S", 256, 110}, TensorIQ1_S: {"IQ1_S", 256, 50},
	TensorIQ1_M: {"IQ1_M", 256, 56}, TensorIQ4_XS: {"IQ4_XS", 256, 136},
	TensorTQ1_0: {"TQ1_0", 256, 54}, TensorTQ2_0: {"TQ2_0", 256, 66},
}

func (t TensorType) String() string {
	if tt, ok := typeTraits[t]; ok {
		return tt.name
	}
	return fmt.Sprintf("TensorType(%d)", uint32(t))
}

// BlockSize returns the number of elements per block and the bytes per block of t; ok is false for
// a type this package does not know.
func (t TensorType) BlockSize() (elems, bytes uint64, ok bool) {
	tt, ok := typeTraits[t]
	return tt.blockLen, tt.blockB, ok
}

// TensorInfo describes one tensor.
type TensorInfo struct {
	Name string
	// Shape holds the dimensions in ggml order: Shape[0] is the innermost (contiguous) one, the
	// length of a row. A PyTorch weight of shape [out, in] has Shape {in, out}.
	Shape []uint64
	Type  TensorType
	// Offset is the data's offset from the start of the data section (set by the reader and by
	// Writer.AddTensor).
	Offset uint64
}

// Elements returns the number of elements (the product of Shape; 1 for no dimensions).
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Size returns the size of the tensor's data in bytes.
func (t *TensorInfo) Size() (uint64, error) {
	n, err := tensorSize(t.Type, t.Shape)
	return n, err
}

// tensorSize computes the data size of a tensor, rejecting unknown types, rows that are not whole
// blocks and sizes that overflow int64 (as ggml does).
func tensorSize(typ TensorType, shape []uint64) (uint64, error) {
	blockLen, blockB, ok := typ.BlockSize()
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	if len(shape) > MaxDims {
		return 0, fmt.Errorf("%d dimensions (at most %d)", len(shape), MaxDims)
	}
	n := uint64(1)
	for _, d := range shape {
		if d > 1<<62 {
			return 0, fmt.Errorf("dimension %d too large", d)
		}
		if d != 0 && n > (1<<62)/d {
			return 0, errors.New("tensor too large")
		}
		n *= d
	}
	if len(shape) > 0 && shape[0]%blockLen != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %s block size %d", shape[0], typ, blockLen)
	}
	blocks := n / blockLen
	if blocks > (1<<62)/blockB {
		return 0, errors.New("tensor too large")
	}
	return blocks * blockB, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
