package vec

import (
	"math"
	"testing"
)

func TestUnit(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want []float32
	}{
		{[]float64{3, 4}, []float32{0.6, 0.8}},
		{[]float64{0, 0}, []float32{0, 0}},
		{[]float64{-2}, []float32{-1}},
		{nil, []float32{}},
	} {
		got := Unit(tc.in)
		if len(got) != len(tc.want) {
			t.Fatalf("Unit(%v) = %v", tc.in, got)
		}
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-7 {
				t.Errorf("Unit(%v) = %v, want %v", tc.in, got, tc.want)
			}
		}
		v := make([]float32, len(tc.in))
		for i, x := range tc.in {
			v[i] = float32(x)
		}
		Normalize(v)
		for i := range v {
			if math.Abs(float64(v[i]-tc.want[i])) > 1e-7 {
				t.Errorf("Normalize(%v) = %v, want %v", tc.in, v, tc.want)
			}
		}
	}
}

func TestUnitInto(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want []float32
		ok   bool
	}{
		{[]float64{3, 4}, []float32{0.6, 0.8}, true},
		{[]float64{0, 0}, []float32{7, 7}, false}, // left as it was
		{[]float64{0, -5}, []float32{0, -1}, true},
	} {
		dst := []float32{7, 7}
		if ok := UnitInto(dst, tc.in); ok != tc.ok || math.Abs(float64(dst[0]-tc.want[0])) > 1e-7 || math.Abs(float64(dst[1]-tc.want[1])) > 1e-7 {
			t.Errorf("UnitInto(%v) = %v, %v; want %v, %v", tc.in, dst, ok, tc.want, tc.ok)
		}
	}
}

func TestCosine(t *testing.T) {
	for _, tc := range []struct {
		x, y []float32
		want float64
	}{
		{[]float32{1, 0}, []float32{0, 1}, 0},
		{[]float32{1, 1}, []float32{2, 2}, 1},
		{[]float32{1, 0}, []float32{-3, 0}, -1},
		{[]float32{0, 0}, []float32{1, 0}, 0},
		{[]float32{3, 4}, []float32{4, 3}, 24.0 / 25},
	} {
		if got := Cosine(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Cosine(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestDot(t *testing.T) {
	for _, tc := range []struct {
		x, y []float32
		want float64
	}{
		{nil, nil, 0},
		{[]float32{1, 0}, []float32{0, 1}, 0},
		{[]float32{3, 4}, []float32{4, 3}, 24},
		{[]float32{0.6, 0.8}, []float32{0.6, 0.8}, float64(float32(0.6))*float64(float32(0.6)) + float64(float32(0.8))*float64(float32(0.8))},
		// Accumulated in float64: a float32 sum would lose the 1 next to 1e8.
		{[]float32{1e8, 1, -1e8}, []float32{1, 1, 1}, 1},
	} {
		if got := Dot(tc.x, tc.y); got != tc.want {
			t.Errorf("Dot(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestNormalize64(t *testing.T) {
	for _, tc := range []struct{ in, want []float64 }{
		{[]float64{3, 4}, []float64{0.6, 0.8}},
		{[]float64{0, 0}, []float64{0, 0}},
		{[]float64{-2}, []float64{-1}},
	} {
		v := append([]float64(nil), tc.in...)
		Normalize64(v)
		for i := range v {
			if math.Abs(v[i]-tc.want[i]) > 1e-15 {
				t.Errorf("Normalize64(%v) = %v, want %v", tc.in, v, tc.want)
			}
		}
	}
}
