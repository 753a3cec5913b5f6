package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func allKVs() []KV {
	return []KV{
		{"u8", uint8(200)},
		{"i8", int8(-100)},
		{"u16", uint16(60000)},
		{"i16", int16(-30000)},
		{"u32", uint32(4000000000)},
		{"i32", int32(-2000000000)},
		{"f32", float32(3.25)},
		{"bool.t", true},
		{"bool.f", false},
		{"str", "héllo wörld"},
		{"str.empty", ""},
		{"u64", uint64(1) << 60},
		{"i64", int64(-1) << 60},
		{"f64", math.Pi},
		{"arr.u8", []uint8{1, 2, 3}},
		{"arr.i8", []int8{-1, 0, 1}},
		{"arr.u16", []uint16{1, 65535}},
		{"arr.i16", []int16{-32768, 32767}},
		{"arr.u32", []uint32{7}},
		{"arr.i32", []int32{-7, 7, 0}},
		{"arr.f32", []float32{0.5, -1.5}},
		{"arr.bool", []bool{true, false, true}},
		{"arr.str", []string{"a", "", "Ġthe", "<|im_start|>"}},
		{"arr.u64", []uint64{math.MaxUint64}},
		{"arr.i64", []int64{math.MinInt64}},
		{"arr.f64", []float64{1e300, -0.0}},
		{"arr.empty", []int32{}},
	}
}

type testTensor struct {
	name  string
	typ   TensorType
	shape []uint64
}

func writeFile(t testing.TB, kvs []KV, tensors []testTensor, data func(tt testTensor) []float32, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, kv := range kvs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tensors {
		if err := w.AddTensor(tt.name, tt.typ, tt.shape...); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tensors {
		d := data(tt)
		if chunk <= 0 {
			chunk = len(d) + 1
		}
		for len(d) > 0 {
			n := min(chunk, len(d))
			if err := w.WriteFloat32(tt.name, d[:n]); err != nil {
				t.Fatal(err)
			}
			d = d[n:]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ramp(tt testTensor) []float32 {
	n := uint64(1)
	for _, d := range tt.shape {
		n *= d
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)*0.25 - 3 // exactly representable in F16 and BF16 for small i
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	tensors := []testTensor{
		{"token_embd.weight", TensorF16, []uint64{8, 5}},
		{"norm.weight", TensorF32, []uint64{8}},
		{"odd", TensorF32, []uint64{3, 1, 1}},
		{"bf", TensorBF16, []uint64{2, 3, 2, 1}},
		{"empty", TensorF32, []uint64{0, 4}},
		{"scalar", TensorF32, nil},
	}
	for _, tc := range []struct {
		name      string
		alignment uint32
		chunk     int
	}{
		{"default alignment", 0, 0},
		{"alignment 64, chunked", 64, 3},
		{"alignment 1", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kvs := allKVs()
			if tc.alignment != 0 {
				kvs = append(kvs, KV{KeyAlignment, tc.alignment})
			}
			b := writeFile(t, kvs, tensors, ramp, tc.chunk)
			f, err := NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != 3 {
				t.Errorf("version %d", f.Version)
			}
			if !reflect.DeepEqual(f.KV, kvs) {
				t.Errorf("KV mismatch:\n got %#v\nwant %#v", f.KV, kvs)
			}
			align := uint64(DefaultAlignment)
			if tc.alignment != 0 {
				align = uint64(tc.alignment)
			}
			if f.Alignment != align || f.DataOffset%align != 0 {
				t.Errorf("alignment %d data offset %d", f.Alignment, f.DataOffset)
			}
			if len(f.Tensors) != len(tensors) {
				t.Fatalf("%d tensors", len(f.Tensors))
			}
			for i, tt := range tensors {
				ti := f.Tensors[i]
				if ti.Name != tt.name || ti.Type != tt.typ || len(ti.Shape) != len(tt.shape) || (len(tt.shape) > 0 && !reflect.DeepEqual(ti.Shape, tt.shape)) {
					t.Errorf("tensor %d: got %+v want %+v", i, ti, tt)
				}
				if ti.Offset%align != 0 {
					t.Errorf("tensor %s offset %d not aligned", ti.Name, ti.Offset)
				}
				got, err := f.ReadFloat32(tt.name)
				if err != nil {
					t.Fatal(err)
				}
				if want := ramp(tt); !reflect.DeepEqual(got, want) {
					t.Errorf("tensor %s data: got %v want %v", tt.name, got, want)
				}
			}
			if v, ok := Get[string](f, "str"); !ok || v != "héllo wörld" {
				t.Errorf("Get[string] = %q %v", v, ok)
			}
			if _, ok := Get[uint32](f, "str"); ok {
				t.Error("Get with the wrong type succeeded")
			}
			// the file ends with the padded last tensor, as ggml writes it
			if uint64(len(b))%align != 0 {
				t.Errorf("file length %d not a multiple of %d", len(b), align)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	b := writeFile(t, allKVs(), []testTensor{{"w", TensorF16, []uint64{4, 4}}}, ramp, 0)
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := f.ReadRaw("w")
	if err != nil || len(raw) != 32 {
		t.Fatalf("ReadRaw: %d bytes, %v", len(raw), err)
	}
	if got := Float16ToFloat32(binary.LittleEndian.Uint16(raw[2:])); got != -2.75 {
		t.Errorf("element 1 = %v", got)
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"dup key", func() error { w.AddKV("a", uint8(1)); return w.AddKV("a", uint8(2)) }()},
		{"bad type", w.AddKV("b", 3)},
		{"alignment type", w.AddKV(KeyAlignment, uint64(32))},
		{"alignment value", w.AddKV(KeyAlignment, uint32(48))},
		{"long name", w.AddTensor(string(make([]byte, 64)), TensorF32, 1)},
		{"5 dims", w.AddTensor("x", TensorF32, 1, 1, 1, 1, 1)},
		{"unknown type", w.AddTensor("x", TensorType(4), 1)},
		{"block size", w.AddTensor("x", TensorQ8_0, 31)},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}

	w = NewWriter(&bytes.Buffer{})
	w.AddTensor("a", TensorF32, 2)
	w.AddTensor("b", TensorQ8_0, 32)
	if err := w.WriteFloat32("b", []float32{1}); err == nil {
		t.Error("out-of-order write accepted")
	}
	w = NewWriter(&bytes.Buffer{})
	w.AddTensor("a", TensorF32, 2)
	w.AddTensor("b", TensorQ8_0, 32)
	if err := w.WriteFloat32("a", []float32{1, 2, 3}); err == nil {
		t.Error("too much data accepted")
	}
	w = NewWriter(&bytes.Buffer{})
	w.AddTensor("a", TensorF32, 2)
	w.AddTensor("b", TensorQ8_0, 32)
	if err := w.WriteFloat32("a", []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat32("b", []float32{1}); err == nil {
		t.Error("float32 for a Q8_0 tensor accepted")
	}
	w = NewWriter(&bytes.Buffer{})
	w.AddTensor("a", TensorF32, 2)
	w.AddTensor("b", TensorQ8_0, 32)
	w.WriteFloat32("a", []float32{1, 2})
	if err := w.WriteRaw("b", make([]byte, 34)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddKV("late", uint8(1)); err == nil {
		t.Error("AddKV after data accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = NewWriter(&bytes.Buffer{})
	w.AddTensor("a", TensorF32, 2)
	w.WriteFloat32("a", []float32{1})
	if err := w.Close(); err == nil {
		t.Error("Close with an incomplete tensor succeeded")
	}
}

func TestReaderErrors(t *testing.T) {
	good := writeFile(t, allKVs(), []testTensor{{"w", TensorF16, []uint64{4, 4}}, {"n", TensorF32, []uint64{4}}}, ramp, 0)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrBadMagic},
		{"bad magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrBadMagic},
		{"version 1", mod(func(b []byte) []byte { b[4] = 1; return b }), ErrUnsupportedVersion},
		{"version 4", mod(func(b []byte) []byte { b[4] = 4; return b }), ErrUnsupportedVersion},
		{"big endian", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 3); return b }), ErrUnsupportedVersion},
		{"huge kv count", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<62); return b }), ErrTruncated},
		{"huge tensor count", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[8:], 1<<62); return b }), ErrTruncated},
		{"huge string", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[24:], 1<<40); return b }), ErrTruncated},
		{"no data", good[:len(good)-64], ErrTruncated},
		{"header only", good[:40], ErrTruncated},
		{"bad value type", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24+8+2:], 99); return b }), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	// every proper prefix fails cleanly
	for n := 0; n < len(good); n++ {
		if _, err := NewReader(bytes.NewReader(good[:n]), int64(n)); err == nil {
			// the last tensor's padding is not required
			if n < len(good)-DefaultAlignment {
				t.Fatalf("prefix of %d bytes accepted", n)
			}
		}
	}
}

func TestFloat16KnownValues(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},                   // largest half
		{65519.996, 0x7bff},               // just below the rounding boundary
		{65520, 0x7c00},                   // halfway to 2^16 rounds to even: Inf
		{1e6, 0x7c00},                     // overflow
		{float32(math.Inf(-1)), 0xfc00},   // -Inf
		{6.103515625e-05, 0x0400},         // smallest normal 2^-14
		{5.9604644775390625e-08, 0x0001},  // smallest subnormal 2^-24
		{2.98023223876953125e-08, 0x0000}, // 2^-25: halfway to the smallest subnormal, ties to even (0)
		{2.9802326e-08, 0x0001},           // just above 2^-25
		{8.940697e-08, 0x0002},            // 1.5·2^-24: tie to even (2)
		{1 + 1.0/2048, 0x3c00},            // halfway between 1 and the next half: even (1)
		{1 + 3.0/2048, 0x3c02},            // halfway between 1+2^-10 and 1+2^-9: even
		{1.0009766, 0x3c01},               // 1 + 2^-10
		{0.1, 0x2e66},                     // rounds down
		{0.3333333, 0x3555},               // 1/3
		{-1.5e-5, 0x80fc},                 // subnormal, negative
		{3.4028235e38, 0x7c00},            // max float32
		{1e-45, 0x0000},                   // float32 subnormal
		{6.1035156e-05 - 3e-12, 0x0400},   // rounds up into the normal range
		{float32(math.Float32frombits(0x387fe000)), 0x0400}, // largest value rounding up from subnormal
	} {
		if got := Float32ToFloat16(tc.f); got != tc.h {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	if h := Float32ToFloat16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
	if f := Float16ToFloat32(0x7e00); !math.IsNaN(float64(f)) {
		t.Errorf("0x7e00 -> %v", f)
	}
}

// TestFloat16Exhaustive checks every half value: converting it to float32 and back is the
// identity, and values exactly halfway between two neighbouring halves round to the even one while
// values just off the midpoint round to the nearer one.
func TestFloat16Exhaustive(t *testing.T) {
	for h := 0; h < 0x10000; h++ {
		f := Float16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
				t.Fatalf("%#04x decoded to NaN", h)
			}
			continue
		}
		if got := Float32ToFloat16(f); got != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, got)
		}
		if h&0x7fff >= 0x7bff { // no next finite value
			continue
		}
		next := Float16ToFloat32(uint16(h + 1))
		if h == 0x8000 { // -0 and the next bit pattern are on opposite sides of zero
			continue
		}
		mid := (float64(f) + float64(next)) / 2 // exact in float64 and float32 (one more bit)
		even := uint16(h)
		if h&1 == 1 {
			even = uint16(h + 1)
		}
		if got := Float32ToFloat16(float32(mid)); got != even {
			t.Fatalf("midpoint %g of %#04x and %#04x -> %#04x, want %#04x", mid, h, h+1, got, even)
		}
		below := math.Nextafter32(float32(mid), float32(f))
		above := math.Nextafter32(float32(mid), float32(next))
		if got := Float32ToFloat16(below); got != uint16(h) {
			t.Fatalf("%g (below the midpoint) -> %#04x, want %#04x", below, got, h)
		}
		if got := Float32ToFloat16(above); got != uint16(h+1) {
			t.Fatalf("%g (above the midpoint) -> %#04x, want %#04x", above, got, h+1)
		}
	}
}

func TestBFloat16(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, up to even
		{math.Float32frombits(0x3f808001), 0x3f81},
	} {
		if got := Float32ToBFloat16(tc.f); got != tc.h {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
		if tc.h == 0x3f80 && BFloat16ToFloat32(tc.h) != 1 {
			t.Error("BFloat16ToFloat32")
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(writeFile(f, allKVs(), []testTensor{{"w", TensorF16, []uint64{4, 2}}, {"n", TensorF32, []uint64{4}}}, ramp, 0))
	f.Add(writeFile(f, []KV{{KeyAlignment, uint32(8)}, {"s", []string{"x"}}}, []testTensor{{"b", TensorBF16, []uint64{2}}}, ramp, 0))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, ti := range g.Tensors {
			if _, err := g.ReadRaw(ti.Name); err != nil {
				t.Fatalf("tensor %q validated but unreadable: %v", ti.Name, err)
			}
			if ti.Type == TensorF32 || ti.Type == TensorF16 || ti.Type == TensorBF16 {
				if _, err := g.ReadFloat32(ti.Name); err != nil {
					t.Fatalf("tensor %q: %v", ti.Name, err)
				}
			}
		}
	})
}
