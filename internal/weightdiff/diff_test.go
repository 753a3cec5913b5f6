package weightdiff

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// defaults are mbd-model diff's default options.
var defaults = Options{Top: 8, ExactMax: 1024, Sketch: 64, PowerIters: 2, Seed: 1}

func open(t *testing.T, path string) Model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return Model{Path: path, File: f}
}

// compare compares the models at pa and pb.
func compare(t *testing.T, pa, pb string, o Options) ([]schema.WeightDiff, Model, Model) {
	t.Helper()
	a, b := open(t, pa), open(t, pb)
	rows, err := Compare(context.Background(), a, b, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rows, a, b
}

// summary is WriteSummary's text.
func summary(t *testing.T, a, b Model, rows []schema.WeightDiff, o Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSummary(&buf, a, b, rows, 30, o.Sketch); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// jsonText is WriteJSON's text.
func jsonText(t *testing.T, rows []schema.WeightDiff) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// ggufTensor is a tensor to write: F32/F16/BF16 from data, other types from raw.
type ggufTensor struct {
	name  string
	typ   gguf.TensorType
	shape []uint64
	data  []float32
	raw   []byte
}

func writeGGUF(t *testing.T, path string, ts []ggufTensor) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter(f)
	if err := w.AddKV("general.name", "test"); err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if err := w.AddTensor(x.name, x.typ, x.shape...); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range ts {
		if x.raw != nil {
			err = w.WriteRaw(x.name, x.raw)
		} else {
			err = w.WriteFloat32(x.name, x.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func randn(rng *rand.Rand, n int, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64() * std)
	}
	return s
}

// addOuter adds sum_k u_k v_kᵀ to the rows×cols matrix a (row-major) in float64, rounding once.
func addOuter(a []float32, cols int, us, vs [][]float64) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		r, c := i/cols, i%cols
		x := float64(a[i])
		for k := range us {
			x += us[k][r] * vs[k][c]
		}
		out[i] = float32(x)
	}
	return out
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func byTensor(rows []schema.WeightDiff) map[string]schema.WeightDiff {
	m := map[string]schema.WeightDiff{}
	for _, r := range rows {
		m[r.Tensor] = r
	}
	return m
}

// TestDiffPlanted diffs two hand-made files with known differences: a rank-1 and a rank-3 update,
// a scalar multiple, an unchanged vector, tensors in one file only, a shape change and an integer
// tensor.
func TestDiffPlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	const r1Rows, r1Cols, r3Rows, r3Cols = 48, 32, 40, 64
	a1, a3, as := randn(rng, r1Rows*r1Cols, 0.02), randn(rng, r3Rows*r3Cols, 0.02), randn(rng, 32*32, 0.02)
	u, v := make([]float64, r1Rows), make([]float64, r1Cols)
	for i := range u {
		u[i] = rng.NormFloat64() * 0.01
	}
	for i := range v {
		v[i] = rng.NormFloat64() * 0.01
	}
	b1 := addOuter(a1, r1Cols, [][]float64{u}, [][]float64{v})
	// rank 3 with three equal singular values: orthonormal directions scaled alike
	q1, q2 := orthonormalColumns(rng, r3Rows, 3), orthonormalColumns(rng, r3Cols, 3)
	var us, vs [][]float64
	for k := range 3 {
		uk, vk := make([]float64, r3Rows), make([]float64, r3Cols)
		for i := range uk {
			uk[i] = q1.At(i, k) * 0.1
		}
		for i := range vk {
			vk[i] = q2.At(i, k)
		}
		us, vs = append(us, uk), append(vs, vk)
	}
	b3 := addOuter(a3, r3Cols, us, vs)
	bs := make([]float32, len(as))
	for i := range as {
		bs[i] = as[i] * 0.5 // exact
	}
	ones := make([]float32, 32)
	for i := range ones {
		ones[i] = 1
	}
	ints := make([]byte, 16)
	binary.LittleEndian.PutUint32(ints, 7)
	pa, pb := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	writeGGUF(t, pa, []ggufTensor{
		{name: "w.rank1", typ: gguf.TensorF32, shape: []uint64{r1Cols, r1Rows}, data: a1},
		{name: "w.rank3", typ: gguf.TensorF32, shape: []uint64{r3Cols, r3Rows}, data: a3},
		{name: "w.scaled", typ: gguf.TensorF32, shape: []uint64{32, 32}, data: as},
		{name: "norm", typ: gguf.TensorF32, shape: []uint64{32}, data: ones},
		{name: "only.a", typ: gguf.TensorF32, shape: []uint64{4}, data: ones[:4]},
		{name: "reshaped", typ: gguf.TensorF32, shape: []uint64{4, 2}, data: ones[:8]},
		{name: "ints", typ: gguf.TensorI32, shape: []uint64{4}, raw: ints},
	})
	writeGGUF(t, pb, []ggufTensor{
		{name: "ints", typ: gguf.TensorI32, shape: []uint64{4}, raw: ints},
		{name: "w.rank1", typ: gguf.TensorF32, shape: []uint64{r1Cols, r1Rows}, data: b1},
		{name: "w.rank3", typ: gguf.TensorF32, shape: []uint64{r3Cols, r3Rows}, data: b3},
		{name: "w.scaled", typ: gguf.TensorF32, shape: []uint64{32, 32}, data: bs},
		{name: "norm", typ: gguf.TensorF32, shape: []uint64{32}, data: ones},
		{name: "reshaped", typ: gguf.TensorF32, shape: []uint64{2, 4}, data: ones[:8]},
		{name: "only.b", typ: gguf.TensorF32, shape: []uint64{4}, data: ones[:4]},
	})

	check := func(name string, rows []schema.WeightDiff) {
		t.Helper()
		if len(rows) != 8 {
			t.Fatalf("%s: %d rows, want 8", name, len(rows))
		}
		// sorted: the largest relative difference first, the uncompared last
		wantOrder := []string{"w.scaled", "w.rank3", "w.rank1", "norm"}
		for i, n := range wantOrder {
			if rows[i].Tensor != n {
				t.Errorf("%s: row %d is %s, want %s", name, i, rows[i].Tensor, n)
			}
		}
		got := byTensor(rows)
		r := got["w.rank1"]
		if r.Status != StatusCompared || r.TypeA != "F32" || r.TypeB != "F32" || r.Rank90 == nil || *r.Rank90 != 1 || *r.Rank1Error > 1e-5 ||
			r.SVDMethod == "" || len(r.Singular) != 8 {
			t.Errorf("%s: rank-1 update: %+v", name, r)
		} else if want := norm(u) * norm(v); math.Abs(r.Singular[0]-want) > 1e-5*want || math.Abs(*r.NormDelta-want) > 1e-5*want {
			t.Errorf("%s: rank-1 update: s1 %g, ||D|| %g, want %g", name, r.Singular[0], *r.NormDelta, want)
		}
		r = got["w.rank3"]
		if r.Rank90 == nil || *r.Rank90 != 3 || math.Abs(*r.Rank1Error-math.Sqrt(2.0/3)) > 1e-5 ||
			math.Abs(r.Singular[0]-0.1) > 1e-6 || math.Abs(r.Singular[2]-0.1) > 1e-6 || r.Singular[3] > 1e-5 {
			t.Errorf("%s: rank-3 update: %+v (rank90 %v, rank-1 error %v)", name, r, deref(r.Rank90), deref(r.Rank1Error))
		}
		r = got["w.scaled"]
		if math.Abs(*r.RelDelta-0.5) > 1e-12 || math.Abs(*r.NormB-0.5**r.NormA) > 1e-12 {
			t.Errorf("%s: B = A/2: relative difference %v", name, *r.RelDelta)
		}
		r = got["norm"]
		if r.Status != StatusCompared || *r.RelDelta != 0 || *r.NormDelta != 0 || *r.NormA != math.Sqrt(32) || len(r.Singular) != 0 || r.Rank90 != nil || r.SVDMethod != "" {
			t.Errorf("%s: unchanged vector: %+v", name, r)
		}
		for tensor, status := range map[string]string{"only.a": StatusOnlyA, "only.b": StatusOnlyB, "reshaped": StatusShape, "ints": StatusUnsupported} {
			r := got[tensor]
			if r.Status != status || r.Detail == "" || r.NormA != nil || r.RelDelta != nil {
				t.Errorf("%s: %s: %+v, want status %s", name, tensor, r, status)
			}
		}
		if r := got["reshaped"]; !strings.Contains(r.Detail, "4x2 in A, 2x4 in B") {
			t.Errorf("%s: shape mismatch detail %q", name, r.Detail)
		}
		if r := got["only.b"]; r.TypeA != "" || r.TypeB != "F32" || len(r.ShapeA) != 0 {
			t.Errorf("%s: only in B: %+v", name, r)
		}
	}

	rows, a, b := compare(t, pa, pb, defaults)
	check("exact", rows)
	stdout := summary(t, a, b, rows, defaults)
	for _, want := range []string{"4 compared, 1 only in A, 1 only in B, 2 not comparable", "w.rank1", "rank90", "not compared:", "only.b  only-in-B"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}

	// The same through the randomized range finder and as JSON.
	o := defaults
	o.ExactMax, o.Sketch = 0, 8
	rows, _, _ = compare(t, pa, pb, o)
	rows = fromJSON(t, jsonText(t, rows))
	check("randomized", rows)
	if m := byTensor(rows)["w.rank1"].SVDMethod; m != "randomized" {
		t.Errorf("svd_method %q, want randomized", m)
	}

	// --tensors keeps only the matching names.
	o = defaults
	o.Tensors = regexp.MustCompile(`^w\.rank`)
	rows, a, b = compare(t, pa, pb, o)
	if stdout := summary(t, a, b, rows, o); !strings.Contains(stdout, "2 compared, 0 only in A") || strings.Contains(stdout, "w.scaled") {
		t.Errorf("Tensors:\n%s", stdout)
	}
	o.Tensors = regexp.MustCompile("zzz")
	if _, err := Compare(context.Background(), a, b, o, nil); !errors.Is(err, ErrNoTensors) {
		t.Errorf("no tensor matches: %v", err)
	}
}

// fromJSON reads WriteJSON's rows back: an array of objects with one key per column, named as the
// column.
func fromJSON(t *testing.T, text string) []schema.WeightDiff {
	t.Helper()
	var objs []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &objs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
	cols := schema.WeightDiffs.Columns()
	rows := make([]schema.WeightDiff, len(objs))
	for i, o := range objs {
		if len(o) != len(cols) {
			t.Fatalf("JSON object with %d keys, want one per column: %s", len(o), text)
		}
		row := reflect.ValueOf(&rows[i]).Elem()
		for _, c := range cols {
			if err := json.Unmarshal(o[c.Name], row.Field(c.Index).Addr().Interface()); err != nil {
				t.Fatalf("row %d, column %s: %v", i, c.Name, err)
			}
		}
	}
	return rows
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestDiffSameModel: a model against itself differs nowhere, with no NaN anywhere.
func TestDiffSameModel(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tiny.gguf")
	if _, err := tinymodel.TrainAndCreate(p, "", tinymodel.DefaultConfig(), 1); err != nil {
		t.Fatal(err)
	}
	rows, a, b := compare(t, p, p, defaults)
	if stdout := summary(t, a, b, rows, defaults); !strings.Contains(stdout, "21 compared, 0 only in A, 0 only in B, 0 not comparable; all compared weights: ||B-A||/||A|| = 0\n") {
		t.Errorf("summary:\n%s", stdout)
	}
	matrices := 0
	for _, r := range rows {
		if r.Status != StatusCompared || *r.RelDelta != 0 || *r.NormDelta != 0 || *r.MaxAbsDelta != 0 || *r.NormA != *r.NormB || *r.NormA == 0 {
			t.Errorf("%s: %+v", r.Tensor, r)
		}
		if len(r.ShapeA) == 2 {
			matrices++
			if *r.Rank90 != 0 || *r.Rank1Error != 0 || *r.TopEnergy != 1 || len(r.Singular) != 8 || r.Singular[0] != 0 {
				t.Errorf("%s: zero difference: rank90 %v rank-1 error %v singular %v", r.Tensor, deref(r.Rank90), deref(r.Rank1Error), r.Singular)
			}
		}
	}
	if matrices != 16 {
		t.Errorf("%d matrices, want 16", matrices)
	}
}

// TestDequantizeKnownBlocks checks the cgo path to ggml's dequantizers on hand-made blocks, and
// ggml's F16 and BF16 conversions against the gguf package's on every bit pattern.
func TestDequantizeKnownBlocks(t *testing.T) {
	// Q8_0: an F16 scale d, then 32 int8 quants: x = d·q.
	q8 := make([]byte, 34)
	binary.LittleEndian.PutUint16(q8, gguf.Float32ToFloat16(0.5))
	for i := range 32 {
		q8[2+i] = byte(int8(i - 16))
	}
	got := make([]float32, 32)
	if err := llamacpp.Dequantize(uint32(gguf.TensorQ8_0), q8, got); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if want := 0.5 * float32(i-16); v != want {
			t.Errorf("Q8_0[%d] = %g, want %g", i, v, want)
		}
	}
	// Q4_0: an F16 scale d, then 16 bytes: element j is the low nibble of byte j, element j+16
	// the high one, each minus 8, times d.
	q4 := make([]byte, 18)
	binary.LittleEndian.PutUint16(q4, gguf.Float32ToFloat16(0.25))
	for j := range 16 {
		q4[2+j] = byte(j) | byte(15-j)<<4
	}
	if err := llamacpp.Dequantize(uint32(gguf.TensorQ4_0), q4, got); err != nil {
		t.Fatal(err)
	}
	for j := range 16 {
		if got[j] != 0.25*float32(j-8) || got[j+16] != 0.25*float32(15-j-8) {
			t.Errorf("Q4_0 %d: %g %g", j, got[j], got[j+16])
		}
	}
	// F16 and BF16, all 65536 values, bit for bit (NaNs included).
	for _, typ := range []gguf.TensorType{gguf.TensorF16, gguf.TensorBF16} {
		src := make([]byte, 2*65536)
		for i := range 65536 {
			binary.LittleEndian.PutUint16(src[2*i:], uint16(i))
		}
		viaGGML, viaGo := make([]float32, 65536), make([]float32, 65536)
		if err := llamacpp.Dequantize(uint32(typ), src, viaGGML); err != nil {
			t.Fatal(err)
		}
		if err := gguf.DecodeFloat32(typ, src, viaGo); err != nil {
			t.Fatal(err)
		}
		for i := range viaGo {
			if math.Float32bits(viaGGML[i]) != math.Float32bits(viaGo[i]) && !(math.IsNaN(float64(viaGo[i])) && math.IsNaN(float64(viaGGML[i]))) {
				t.Errorf("%s %#04x: ggml %g, gguf %g", typ, i, viaGGML[i], viaGo[i])
				break
			}
		}
	}
	// What ggml cannot do, or would assert on.
	for _, typ := range []uint32{uint32(gguf.TensorF32), uint32(gguf.TensorI32), 4, 1000, math.MaxUint32} {
		if llamacpp.CanDequantize(typ) || llamacpp.Dequantize(typ, nil, nil) == nil {
			t.Errorf("type %d: dequantizable", typ)
		}
	}
	if err := llamacpp.Dequantize(uint32(gguf.TensorQ8_0), q8, make([]float32, 16)); err == nil || !strings.Contains(err.Error(), "whole blocks") {
		t.Errorf("half a block: %v", err)
	}
	if err := llamacpp.Dequantize(uint32(gguf.TensorQ8_0), q8[:33], got); err == nil {
		t.Error("a short block dequantized")
	}
}

// quantized writes quantized copies of the model at in, with llama.cpp.
func quantized(t *testing.T, in string, types ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, typ := range types {
		p := strings.TrimSuffix(in, ".gguf") + "-" + typ + ".gguf"
		if err := llamacpp.Quantize(in, p, typ, 1); err != nil {
			t.Fatal(err)
		}
		out[typ] = p
	}
	return out
}

// TestDiffQuantized compares an F32 model with its quantized copies: small differences, larger for
// coarser types, spread over many directions (quantization noise has no low-rank structure), and
// within the rounding bound of Q8_0 element by element.
func TestDiffQuantized(t *testing.T) {
	dir := t.TempDir()
	cfg := tinymodel.DefaultConfig()
	cfg.WeightType = gguf.TensorF32
	base := filepath.Join(dir, "tiny.gguf")
	if _, err := tinymodel.TrainAndCreate(base, "", cfg, 1); err != nil {
		t.Fatal(err)
	}
	// K-quants need rows of 256: a wider model.
	wcfg := cfg
	wcfg.NEmbd, wcfg.NFF, wcfg.NHead, wcfg.NHeadKV = 256, 512, 4, 4
	wide := filepath.Join(dir, "wide.gguf")
	if _, err := tinymodel.TrainAndCreate(wide, "", wcfg, 2); err != nil {
		t.Fatal(err)
	}
	q := quantized(t, base, "Q8_0", "Q4_0", "F16")
	for k, v := range quantized(t, wide, "Q4_K_M", "Q6_K") {
		q[k] = v
	}

	// relative difference of the matrices by tensor type (llama.cpp keeps some tensors finer than
	// the file's type): bounds for std-0.02 Gaussian weights
	bounds := map[string][2]float64{"F16": {1e-5, 1e-3}, "Q8_0": {2e-3, 1.2e-2}, "Q6_K": {5e-3, 3e-2}, "Q4_K": {2e-2, 0.15}, "Q4_0": {4e-2, 0.2}}
	for typ, p := range q {
		a := base
		if strings.HasPrefix(p, filepath.Join(dir, "wide")) {
			a = wide
		}
		rows, _, _ := compare(t, a, p, defaults)
		types := map[string]bool{}
		for _, r := range rows {
			if r.Status != StatusCompared {
				t.Errorf("%s: %s not compared: %s", typ, r.Tensor, r.Detail)
				continue
			}
			types[r.TypeB] = true
			if len(r.ShapeA) == 1 { // norms stay F32
				if *r.RelDelta != 0 {
					t.Errorf("%s: %s changed by %g", typ, r.Tensor, *r.RelDelta)
				}
				continue
			}
			b, ok := bounds[r.TypeB]
			if !ok {
				t.Errorf("%s: %s has type %s", typ, r.Tensor, r.TypeB)
				continue
			}
			if *r.RelDelta < b[0] || *r.RelDelta > b[1] || r.Rank90 == nil {
				t.Errorf("%s: %s (%s): relative difference %g, want in %v", typ, r.Tensor, r.TypeB, *r.RelDelta, b)
				continue
			}
			k := min(r.ShapeA[0], r.ShapeA[1])
			if int64(*r.Rank90) < k/3 || *r.Rank1Error < 0.8 {
				t.Errorf("%s: %s: rank90 %d of %d, rank-1 error %g: noise should spread", typ, r.Tensor, *r.Rank90, k, *r.Rank1Error)
			}
		}
		t.Logf("%s: types %v", typ, types)
		switch typ {
		case "Q4_K_M":
			if !types["Q4_K"] || !types["Q6_K"] {
				t.Errorf("Q4_K_M: tensor types %v, want Q4_K and Q6_K among them", types)
			}
		case "Q6_K", "Q8_0", "Q4_0", "F16":
			if !types[typ] {
				t.Errorf("%s: tensor types %v", typ, types)
			}
		}
	}

	// Q8_0 element by element: every block of 32 is quantized as q = round(x/d), d = max|x|/127,
	// and stored as d rounded to F16 (relative error <= 2^-11) and q, so |B - A| <= d/2 + 127·d·2^-11.
	fa, err := gguf.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := gguf.Open(q["Q8_0"])
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ta, _ := fa.Tensor("blk.0.ffn_up.weight")
	tb, _ := fb.Tensor("blk.0.ffn_up.weight")
	if tb.Type != gguf.TensorQ8_0 {
		t.Fatalf("type %s", tb.Type)
	}
	d, err := newTensorDelta(context.Background(), fa, fb, "A", "B", ta, tb)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	err = d.scan(func(_ int, a, b []float32) error {
		for i := 0; i < len(a); i += 32 {
			var amax float64
			for _, x := range a[i : i+32] {
				amax = max(amax, math.Abs(float64(x)))
			}
			step := amax / 127
			for j := i; j < i+32; j++ {
				if diff := math.Abs(float64(b[j]) - float64(a[j])); diff > step*(0.5+127.0/2048)*(1+1e-6) {
					t.Fatalf("element %d: A %g, B %g: off by %g, more than the rounding bound for the step %g", j, a[j], b[j], diff, step)
				}
			}
			blocks++
		}
		return nil
	})
	if err != nil || blocks != 64*192/32 {
		t.Errorf("%d blocks, %v", blocks, err)
	}
}

// TestDiffZeroAndNaN: a difference from an all-zero A has no relative size (null, listed first);
// NaN weights are reported, not compared.
func TestDiffZeroAndNaN(t *testing.T) {
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	zero, ones, small := make([]float32, 8), []float32{1, 1, 1, 1, 1, 1, 1, 1}, []float32{1, 1, 1, 1, 1, 1, 1, 1.5}
	nan := append([]float32(nil), ones...)
	nan[3] = float32(math.NaN())
	writeGGUF(t, pa, []ggufTensor{
		{name: "small", typ: gguf.TensorF32, shape: []uint64{4, 2}, data: ones},
		{name: "zero", typ: gguf.TensorF32, shape: []uint64{4, 2}, data: zero},
		{name: "nan", typ: gguf.TensorF16, shape: []uint64{8}, data: ones},
	})
	writeGGUF(t, pb, []ggufTensor{
		{name: "small", typ: gguf.TensorF32, shape: []uint64{4, 2}, data: small},
		{name: "zero", typ: gguf.TensorF32, shape: []uint64{4, 2}, data: ones},
		{name: "nan", typ: gguf.TensorF16, shape: []uint64{8}, data: nan},
	})
	got, a, b := compare(t, pa, pb, defaults)
	rows := fromJSON(t, jsonText(t, got))
	if len(rows) != 3 || rows[0].Tensor != "zero" || rows[1].Tensor != "small" || rows[2].Tensor != "nan" {
		t.Fatalf("rows %+v", rows)
	}
	if z := rows[0]; z.Status != StatusCompared || z.RelDelta != nil || *z.NormDelta != math.Sqrt(8) || *z.Rank90 != 1 || *z.Rank1Error > 1e-12 {
		t.Errorf("zero A: %+v", z)
	}
	if s := rows[1]; math.Abs(*s.RelDelta-0.5/math.Sqrt(8)) > 1e-15 || *s.MaxAbsDelta != 0.5 || *s.Rank90 != 1 {
		t.Errorf("one element changed: %+v", s)
	}
	if n := rows[2]; n.Status != StatusNonFinite || n.NormA != nil || n.RelDelta != nil {
		t.Errorf("NaN: %+v", n)
	}
	stdout := summary(t, a, b, got, defaults)
	if !strings.Contains(stdout, "2 compared, 0 only in A, 0 only in B, 1 not comparable; all compared weights: ||B-A||/||A|| = 1.016\n") ||
		!strings.Contains(stdout, "zero    F32   4x2    inf") || !strings.Contains(stdout, "nan  non-finite: NaN or infinite weights") {
		t.Errorf("summary:\n%s", stdout)
	}
}
