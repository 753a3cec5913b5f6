package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Writer writes a GGUF file to an io.Writer in one pass.
//
// Declare the metadata with AddKV and the tensors with AddTensor, then hand over each tensor's data,
// in the order the tensors were added, with WriteFloat32 or WriteRaw (a tensor's data may come in
// several calls, in row-major order; tensors without elements need none), and finish with Close. The header is written on the first
// data call (or by Close); after that no metadata or tensors can be added. The Writer assumes it
// starts at offset 0 of the file, buffers its output and does not close the underlying writer.
type Writer struct {
	w          *bufio.Writer
	pos        uint64 // bytes written so far
	kvs        []KV
	keys       map[string]bool
	tensors    []TensorInfo
	sizes      []uint64
	names      map[string]bool
	alignment  uint64
	headerDone bool
	cur        int    // tensor being written
	curDone    uint64 // bytes of it written
	scratch    []byte
	err        error // sticky
	closed     bool
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{
		w:         bufio.NewWriterSize(w, 1<<20),
		keys:      map[string]bool{},
		names:     map[string]bool{},
		alignment: DefaultAlignment,
	}
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// AddKV adds a metadata pair. value must be one of the Go types listed at KV. Setting
// "general.alignment" (a uint32 power of two) changes the data alignment.
func (w *Writer) AddKV(key string, value any) error {
	if w.err != nil {
		return w.err
	}
	if w.headerDone {
		return errors.New("gguf: AddKV after tensor data")
	}
	if w.keys[key] {
		return fmt.Errorf("gguf: duplicate key %q", key)
	}
	if _, _, ok := typeOf(value); !ok {
		return fmt.Errorf("gguf: key %q: unsupported value type %T", key, value)
	}
	if key == KeyAlignment {
		a, ok := value.(uint32)
		if !ok {
			return fmt.Errorf("gguf: %s must be a uint32, not %T", KeyAlignment, value)
		}
		if a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: %s %d is not a power of two", KeyAlignment, a)
		}
		w.alignment = uint64(a)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, KV{Key: key, Value: value})
	return nil
}

// AddTensor declares a tensor. shape is in ggml order (shape[0] is the row length).
func (w *Writer) AddTensor(name string, typ TensorType, shape ...uint64) error {
	if w.err != nil {
		return w.err
	}
	if w.headerDone {
		return errors.New("gguf: AddTensor after tensor data")
	}
	if name == "" || len(name) >= MaxTensorNameLen {
		return fmt.Errorf("gguf: tensor name %q must have 1 to %d bytes", name, MaxTensorNameLen-1)
	}
	if w.names[name] {
		return fmt.Errorf("gguf: duplicate tensor %q", name)
	}
	size, err := tensorSize(typ, shape)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, TensorInfo{Name: name, Shape: append([]uint64(nil), shape...), Type: typ})
	w.sizes = append(w.sizes, size)
	return nil
}

// Tensors returns the declared tensors; their offsets are set once the header has been written.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(p)
	w.pos += uint64(n)
	if err != nil {
		w.fail(err)
	}
}

func (w *Writer) u32(v uint32) { w.write(binary.LittleEndian.AppendUint32(w.scratch[:0], v)) }
func (w *Writer) u64(v uint64) { w.write(binary.LittleEndian.AppendUint64(w.scratch[:0], v)) }
func (w *Writer) str(s string) {
	w.u64(uint64(len(s)))
	if w.err == nil {
		n, err := w.w.WriteString(s)
		w.pos += uint64(n)
		if err != nil {
			w.fail(err)
		}
	}
}

func (w *Writer) pad() {
	if n := alignUp(w.pos, w.alignment) - w.pos; n > 0 {
		w.write(make([]byte, n))
	}
}

func (w *Writer) scalar(v any) {
	b := w.scratch[:0]
	switch v := v.(type) {
	case uint8:
		b = append(b, v)
	case int8:
		b = append(b, byte(v))
	case bool:
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case uint16:
		b = binary.LittleEndian.AppendUint16(b, v)
	case int16:
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	case uint32:
		b = binary.LittleEndian.AppendUint32(b, v)
	case int32:
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	case float32:
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	case uint64:
		b = binary.LittleEndian.AppendUint64(b, v)
	case int64:
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	case float64:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	case string:
		w.str(v)
		return
	}
	w.write(b)
}

func writeArray[T any](w *Writer, s []T) {
	w.u64(uint64(len(s)))
	for _, v := range s {
		w.scalar(v)
	}
}

func (w *Writer) value(v any) {
	typ, elem, _ := typeOf(v)
	w.u32(uint32(typ))
	if typ != TypeArray {
		w.scalar(v)
		return
	}
	w.u32(uint32(elem))
	switch s := v.(type) {
	case []uint8:
		w.u64(uint64(len(s)))
		w.write(s)
	case []int8:
		writeArray(w, s)
	case []uint16:
		writeArray(w, s)
	case []int16:
		writeArray(w, s)
	case []uint32:
		writeArray(w, s)
	case []int32:
		writeArray(w, s)
	case []float32:
		writeArray(w, s)
	case []bool:
		writeArray(w, s)
	case []string:
		writeArray(w, s)
	case []uint64:
		writeArray(w, s)
	case []int64:
		writeArray(w, s)
	case []float64:
		writeArray(w, s)
	}
}

func (w *Writer) writeHeader() error {
	if w.headerDone {
		return w.err
	}
	w.headerDone = true
	w.scratch = make([]byte, 0, 1<<16)
	var off uint64
	for i := range w.tensors {
		w.tensors[i].Offset = off
		off += alignUp(w.sizes[i], w.alignment)
	}
	w.write([]byte(Magic))
	w.u32(Version)
	w.u64(uint64(len(w.tensors)))
	w.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		w.str(kv.Key)
		w.value(kv.Value)
	}
	for _, t := range w.tensors {
		w.str(t.Name)
		w.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			w.u64(d)
		}
		w.u32(uint32(t.Type))
		w.u64(t.Offset)
	}
	w.pad()
	w.skipEmpty()
	return w.err
}

// skipEmpty moves past tensors with no data.
func (w *Writer) skipEmpty() {
	for w.cur < len(w.tensors) && w.sizes[w.cur] == 0 {
		w.cur++
	}
}

// current returns the tensor that data for name goes to.
func (w *Writer) current(name string) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("gguf: write after Close")
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	if w.cur >= len(w.tensors) {
		return fmt.Errorf("gguf: data for %q after all tensors were written", name)
	}
	if t := w.tensors[w.cur].Name; t != name {
		return fmt.Errorf("gguf: data for %q but tensor %q is next (tensors must be written in the order they were added)", name, t)
	}
	return nil
}

// advance records n bytes of the current tensor and pads when it is complete.
func (w *Writer) advance(n uint64) {
	w.curDone += n
	if w.curDone == w.sizes[w.cur] {
		w.pad()
		w.cur++
		w.curDone = 0
		w.skipEmpty()
	}
}

// WriteRaw writes the next bytes of tensor name's data, which must already be in the tensor's ggml
// type.
func (w *Writer) WriteRaw(name string, data []byte) error {
	if err := w.current(name); err != nil {
		return err
	}
	if left := w.sizes[w.cur] - w.curDone; uint64(len(data)) > left {
		return w.fail(fmt.Errorf("gguf: tensor %q: %d bytes given, %d left", name, len(data), left))
	}
	w.write(data)
	w.advance(uint64(len(data)))
	return w.err
}

// WriteFloat32 writes the next values of tensor name, converting them to its type, which must be
// F32, F16 or BF16.
func (w *Writer) WriteFloat32(name string, data []float32) error {
	if err := w.current(name); err != nil {
		return err
	}
	t := &w.tensors[w.cur]
	var elemSize uint64
	switch t.Type {
	case TensorF32:
		elemSize = 4
	case TensorF16, TensorBF16:
		elemSize = 2
	default:
		return w.fail(fmt.Errorf("gguf: tensor %q: cannot convert float32 to %s", name, t.Type))
	}
	if left := (w.sizes[w.cur] - w.curDone) / elemSize; uint64(len(data)) > left {
		return w.fail(fmt.Errorf("gguf: tensor %q: %d values given, %d left", name, len(data), left))
	}
	total := uint64(len(data)) * elemSize
	for len(data) > 0 {
		n := min(len(data), cap(w.scratch)/4)
		b := w.scratch[:0]
		for _, v := range data[:n] {
			switch t.Type {
			case TensorF32:
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			case TensorF16:
				b = binary.LittleEndian.AppendUint16(b, Float32ToFloat16(v))
			case TensorBF16:
				b = binary.LittleEndian.AppendUint16(b, Float32ToBFloat16(v))
			}
		}
		w.write(b)
		data = data[n:]
	}
	w.advance(total)
	return w.err
}

// Close writes the header if no data was written yet, checks that every tensor got all its data
// and flushes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	w.closed = true
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		return w.fail(fmt.Errorf("gguf: tensor %q incomplete: %d of %d bytes written", t.Name, w.curDone, w.sizes[w.cur]))
	}
	if err := w.w.Flush(); err != nil {
		return w.fail(err)
	}
	return w.err
}
