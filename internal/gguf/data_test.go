package gguf

import (
	"bytes"
	"io"
	"reflect"
	"testing"
)

// TestTensorDataRows reads tensors row by row through TensorData, RowSize and DecodeFloat32 and
// gets what ReadFloat32 gets.
func TestTensorDataRows(t *testing.T) {
	tensors := []testTensor{
		{"f16", TensorF16, []uint64{8, 5}},
		{"f32", TensorF32, []uint64{3, 4, 2}},
		{"bf16", TensorBF16, []uint64{6, 3}},
		{"scalar", TensorF32, nil},
		{"q8", TensorQ8_0, []uint64{64, 3}},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, tt := range tensors {
		if err := w.AddTensor(tt.name, tt.typ, tt.shape...); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tensors[:4] {
		if err := w.WriteFloat32(tt.name, ramp(tt)); err != nil {
			t.Fatal(err)
		}
	}
	q8 := make([]byte, 3*2*34)
	for i := range q8 {
		q8[i] = byte(i)
	}
	if err := w.WriteRaw("q8", q8); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	f, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tensors[:4] {
		ti, _ := f.Tensor(tt.name)
		rs, err := ti.RowSize()
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(1)
		if len(tt.shape) > 0 {
			n = tt.shape[0]
		}
		es := map[TensorType]uint64{TensorF32: 4, TensorF16: 2, TensorBF16: 2}[tt.typ]
		if rs != n*es {
			t.Errorf("%s: row size %d, want %d", tt.name, rs, n*es)
		}
		r, err := f.TensorData(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		var got []float32
		row := make([]byte, rs)
		vals := make([]float32, n)
		for {
			if _, err := io.ReadFull(r, row); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if err := DecodeFloat32(tt.typ, row, vals); err != nil {
				t.Fatal(err)
			}
			got = append(got, vals...)
		}
		want, err := f.ReadFloat32(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows %v, whole %v", tt.name, got, want)
		}
	}
	ti, _ := f.Tensor("q8")
	if rs, err := ti.RowSize(); err != nil || rs != 2*34 {
		t.Errorf("Q8_0 row size %d, %v; want 68", rs, err)
	}
	r, err := f.TensorData("q8")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, q8) {
		t.Error("Q8_0 data differs")
	}
	if _, err := f.TensorData("nope"); err == nil {
		t.Error("TensorData of a missing tensor")
	}
	if err := DecodeFloat32(TensorQ8_0, q8[:34], make([]float32, 32)); err == nil {
		t.Error("DecodeFloat32 of Q8_0")
	}
	if err := DecodeFloat32(TensorF32, make([]byte, 7), make([]float32, 2)); err == nil {
		t.Error("DecodeFloat32 with a short source")
	}
}
