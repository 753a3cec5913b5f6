package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// File is a parsed GGUF file: its header, metadata and tensor infos; tensor data is read on demand.
type File struct {
	Version uint32
	// KV holds the metadata in file order.
	KV []KV
	// Tensors holds the tensor infos in file order.
	Tensors []TensorInfo
	// Alignment is the data alignment ("general.alignment" or 32).
	Alignment uint64
	// DataOffset is the absolute file offset of the data section.
	DataOffset uint64

	r       io.ReaderAt
	size    int64
	closer  io.Closer
	kvIdx   map[string]int
	tensIdx map[string]int
}

// Open parses the GGUF file at path. Close the File when done.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	g, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g.closer = f
	return g, nil
}

// Close closes the file opened by Open (a no-op for NewReader).
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// decoder reads the header sequentially, knowing how many bytes remain.
type decoder struct {
	br   *bufio.Reader
	pos  int64
	size int64
	buf  [8]byte
}

func (d *decoder) remaining() int64 { return d.size - d.pos }

func (d *decoder) read(n int) ([]byte, error) {
	if int64(n) > d.remaining() {
		return nil, ErrTruncated
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.br, b); err != nil {
		return nil, truncErr(err)
	}
	d.pos += int64(n)
	return b, nil
}

func truncErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.read(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", ErrTruncated
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.br, b); err != nil {
		return "", truncErr(err)
	}
	d.pos += int64(n)
	return string(b), nil
}

func (d *decoder) scalar(t ValueType) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeBool:
		v, err := d.u8()
		return v != 0, err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case TypeString:
		return d.str()
	}
	return nil, fmt.Errorf("%w: value type %d", ErrInvalid, uint32(t))
}

func readArray[T any](d *decoder, t ValueType, n uint64) (any, error) {
	s := make([]T, n)
	for i := range s {
		v, err := d.scalar(t)
		if err != nil {
			return nil, err
		}
		s[i] = v.(T)
	}
	return s, nil
}

func (d *decoder) array() (any, error) {
	et, err := d.u32()
	if err != nil {
		return nil, err
	}
	t := ValueType(et)
	n, err := d.u64()
	if err != nil {
		return nil, err
	}
	sz := t.size()
	if sz == 0 {
		return nil, fmt.Errorf("%w: array of %s", ErrInvalid, t)
	}
	// every element takes at least sz bytes: refuse counts the file cannot hold before allocating
	if n > uint64(d.remaining())/uint64(sz) {
		return nil, ErrTruncated
	}
	switch t {
	case TypeUint8:
		b := make([]byte, n)
		if _, err := io.ReadFull(d.br, b); err != nil {
			return nil, truncErr(err)
		}
		d.pos += int64(n)
		return b, nil
	case TypeInt8:
		return readArray[int8](d, t, n)
	case TypeUint16:
		return readArray[uint16](d, t, n)
	case TypeInt16:
		return readArray[int16](d, t, n)
	case TypeUint32:
		return readArray[uint32](d, t, n)
	case TypeInt32:
		return readArray[int32](d, t, n)
	case TypeFloat32:
		return readArray[float32](d, t, n)
	case TypeBool:
		return readArray[bool](d, t, n)
	case TypeString:
		return readArray[string](d, t, n)
	case TypeUint64:
		return readArray[uint64](d, t, n)
	case TypeInt64:
		return readArray[int64](d, t, n)
	default: // TypeFloat64
		return readArray[float64](d, t, n)
	}
}

// NewReader parses the GGUF file held by r, which is size bytes long.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	d := &decoder{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), size: size}
	magic, err := d.read(4)
	if err != nil || string(magic) != Magic {
		return nil, ErrBadMagic
	}
	f := &File{r: r, size: size, Alignment: DefaultAlignment, kvIdx: map[string]int{}, tensIdx: map[string]int{}}
	if f.Version, err = d.u32(); err != nil {
		return nil, fmt.Errorf("reading version: %w", err)
	}
	switch {
	case f.Version&0xffff == 0 && f.Version != 0:
		return nil, fmt.Errorf("%w %#x (a big-endian file?)", ErrUnsupportedVersion, f.Version)
	case f.Version != 2 && f.Version != 3:
		return nil, fmt.Errorf("%w %d (this reader supports 2 and 3)", ErrUnsupportedVersion, f.Version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	nKV, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	// smallest encodings: a KV is key length (8) + type (4) + a 1-byte value; a tensor info is
	// name length (8) + n_dims (4) + type (4) + offset (8)
	if nKV > uint64(d.remaining())/13 {
		return nil, fmt.Errorf("%d key/value pairs: %w", nKV, ErrTruncated)
	}
	if nTensors > uint64(d.remaining())/24 {
		return nil, fmt.Errorf("%d tensors: %w", nTensors, ErrTruncated)
	}

	f.KV = make([]KV, 0, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := d.str()
		if err != nil {
			return nil, fmt.Errorf("reading key %d: %w", i, err)
		}
		if _, dup := f.kvIdx[key]; dup {
			return nil, fmt.Errorf("%w: duplicate key %q", ErrInvalid, key)
		}
		t, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("reading key %q: %w", key, err)
		}
		var v any
		if ValueType(t) == TypeArray {
			v, err = d.array()
		} else {
			v, err = d.scalar(ValueType(t))
		}
		if err != nil {
			return nil, fmt.Errorf("reading value of %q: %w", key, err)
		}
		f.kvIdx[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	if v, ok := f.Lookup(KeyAlignment); ok {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%w: %s = %v (%T) is not a uint32 power of two", ErrInvalid, KeyAlignment, v, v)
		}
		f.Alignment = uint64(a)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	var sizes []uint64
	for i := uint64(0); i < nTensors; i++ {
		name, err := d.str()
		if err != nil {
			return nil, fmt.Errorf("reading tensor %d: %w", i, err)
		}
		if len(name) >= MaxTensorNameLen {
			return nil, fmt.Errorf("%w: tensor name %.70q… longer than %d bytes", ErrInvalid, name, MaxTensorNameLen-1)
		}
		if _, dup := f.tensIdx[name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor %q", ErrInvalid, name)
		}
		nd, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("reading tensor %q: %w", name, err)
		}
		if nd > MaxDims {
			return nil, fmt.Errorf("%w: tensor %q has %d dimensions (at most %d)", ErrInvalid, name, nd, MaxDims)
		}
		t := TensorInfo{Name: name, Shape: make([]uint64, nd)}
		for j := range t.Shape {
			if t.Shape[j], err = d.u64(); err != nil {
				return nil, fmt.Errorf("reading tensor %q: %w", name, err)
			}
			if int64(t.Shape[j]) < 0 {
				return nil, fmt.Errorf("%w: tensor %q has a negative dimension", ErrInvalid, name)
			}
		}
		typ, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("reading tensor %q: %w", name, err)
		}
		t.Type = TensorType(typ)
		sz, err := tensorSize(t.Type, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrInvalid, name, err)
		}
		if t.Offset, err = d.u64(); err != nil {
			return nil, fmt.Errorf("reading tensor %q: %w", name, err)
		}
		f.tensIdx[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
		sizes = append(sizes, sz)
	}

	f.DataOffset = alignUp(uint64(d.pos), f.Alignment)
	// ggml requires the tensors to follow each other in order, each padded to the alignment
	var off uint64
	for i, t := range f.Tensors {
		if t.Offset != off {
			return nil, fmt.Errorf("%w: tensor %q has offset %d, expected %d", ErrInvalid, t.Name, t.Offset, off)
		}
		if f.DataOffset+off+sizes[i] > uint64(size) || f.DataOffset+off+sizes[i] < f.DataOffset {
			return nil, fmt.Errorf("data of tensor %q (%d bytes at %d) beyond the end of the file (%d bytes): %w",
				t.Name, sizes[i], f.DataOffset+off, size, ErrTruncated)
		}
		off += alignUp(sizes[i], f.Alignment)
	}
	return f, nil
}

// Lookup returns the value of key.
func (f *File) Lookup(key string) (any, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// Get returns the value of key if it exists and has type T.
func Get[T any](f *File, key string) (T, bool) {
	v, ok := f.Lookup(key)
	t, ok2 := v.(T)
	return t, ok && ok2
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensIdx[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// ReadRaw returns the named tensor's data as stored.
func (f *File) ReadRaw(name string) ([]byte, error) {
	sr, err := f.TensorData(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, sr.Size())
	if len(b) == 0 {
		return b, nil
	}
	if _, err := sr.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("gguf: reading tensor %q: %w", name, truncErr(err))
	}
	return b, nil
}

// ReadFloat32 returns the named tensor's data as float32 values; the tensor must be F32, F16 or
// BF16.
func (f *File) ReadFloat32(name string) ([]float32, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %q", name)
	}
	es, ok := floatSize(t.Type)
	if !ok {
		return nil, fmt.Errorf("gguf: tensor %q: cannot decode %s to float32", name, t.Type)
	}
	out := make([]float32, t.Elements())
	sr := io.NewSectionReader(f.r, int64(f.DataOffset+t.Offset), int64(len(out)*es))
	buf := make([]byte, min(len(out)*es, 1<<16))
	for i := 0; i < len(out); {
		n := min(len(out)-i, len(buf)/es)
		if _, err := io.ReadFull(sr, buf[:n*es]); err != nil {
			return nil, fmt.Errorf("gguf: reading tensor %q: %w", name, truncErr(err))
		}
		if err := DecodeFloat32(t.Type, buf[:n*es], out[i:i+n]); err != nil {
			return nil, err
		}
		i += n
	}
	return out, nil
}
