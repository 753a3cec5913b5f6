package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// RowSize returns the size in bytes of one row of the tensor: Shape[0] elements (whole blocks for
// the quantized types). A tensor without dimensions is one row of one element.
func (t *TensorInfo) RowSize() (uint64, error) {
	if len(t.Shape) == 0 {
		return tensorSize(t.Type, nil)
	}
	return tensorSize(t.Type, t.Shape[:1])
}

// TensorData returns a reader over the named tensor's data as stored (Size bytes), for reading it
// in pieces, such as a few rows at a time (see RowSize), rather than whole with ReadRaw.
func (f *File) TensorData(name string) (*io.SectionReader, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %q", name)
	}
	n, err := t.Size()
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.r, int64(f.DataOffset+t.Offset), int64(n)), nil
}

// DecodeFloat32 decodes len(dst) elements of an F32, F16 or BF16 tensor's data from src (which must
// hold exactly that many) into dst.
func DecodeFloat32(typ TensorType, src []byte, dst []float32) error {
	es, ok := floatSize(typ)
	if !ok {
		return fmt.Errorf("gguf: cannot decode %s to float32", typ)
	}
	if len(src) != len(dst)*es {
		return fmt.Errorf("gguf: %d bytes of %s data for %d elements (want %d bytes)", len(src), typ, len(dst), len(dst)*es)
	}
	switch typ {
	case TensorF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case TensorF16:
		for i := range dst {
			dst[i] = Float16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case TensorBF16:
		for i := range dst {
			dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}
	return nil
}

// floatSize returns the element size in bytes of the types DecodeFloat32 decodes.
func floatSize(typ TensorType) (int, bool) {
	switch typ {
	case TensorF32:
		return 4, true
	case TensorF16, TensorBF16:
		return 2, true
	}
	return 0, false
}
