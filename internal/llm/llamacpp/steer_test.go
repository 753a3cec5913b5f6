package llamacpp

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm"
)

// nextLogits returns the logits after the tokens of text (BOS included).
func nextLogits(t *testing.T, m *Model, text string) []float32 {
	t.Helper()
	toks, err := m.Tokenize(text, true, false)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := m.rawLogits(toks)
	if err != nil {
		t.Fatal(err)
	}
	return ls[len(ls)-1]
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestSteering checks that a zero control vector leaves the next-token logits as they are, that
// a vector along a token's output row, divided by the final norm's weight, makes that token the
// greedy next token (the row of largest norm: no other row has a larger dot product with it), and
// that clearing the vector restores the model.
func TestSteering(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain, Parallel: 1, Ctx: 128})
	const text = "The cat sat on the mat and"
	base := nextLogits(t, m, text)
	D := m.Dim()

	f, err := gguf.Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.ReadFloat32("output.weight")
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.ReadFloat32("output_norm.weight")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	target, best := 0, 0.0
	for tok := range len(out) / D {
		var ss float64
		for _, v := range out[tok*D : (tok+1)*D] {
			ss += float64(v) * float64(v)
		}
		if ss > best {
			target, best = tok, ss
		}
	}
	if argmax(base) == target {
		t.Fatalf("token %d is already the greedy next token; pick another text", target)
	}
	dir := make([]float32, D)
	for j := range dir {
		dir[j] = 1000 * out[target*D+j] / g[j]
	}
	last := m.Layers() - 1

	if err := m.SetSteering(&Steering{Layers: []int{last}, Vectors: [][]float32{make([]float32, D)}}); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(nextLogits(t, m, text), base); d > 1e-6 {
		t.Errorf("a zero steering vector moved the logits by %g", d)
	}
	if err := m.SetSteering(&Steering{Layers: []int{last}, Vectors: [][]float32{dir}}); err != nil {
		t.Fatal(err)
	}
	steered := nextLogits(t, m, text)
	if got := argmax(steered); got != target {
		t.Errorf("steered greedy next token %d, want %d (unsteered %d)", got, target, argmax(base))
	}
	// Generate uses the same steered context: its greedy first token is the target's text.
	var comp string
	err = m.Generate(context.Background(), []llm.GenRequest{{ID: "x", Prompt: text}}, llm.Sampling{MaxTokens: 1}, func(r llm.GenResult) error {
		comp = r.Completion
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := m.Detokenize([]int32{int32(target)}, false); int32(target) != m.EOS() && comp != want {
		t.Errorf("steered greedy completion %q, want %q", comp, want)
	}
	if err := m.SetSteering(nil); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(nextLogits(t, m, text), base); d > 1e-6 {
		t.Errorf("after clearing the steering vector the logits differ by %g", d)
	}
}

func TestSteeringErrors(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain})
	D := m.Dim()
	v := make([]float32, D)
	nan := make([]float32, D)
	nan[3] = float32(math.NaN())
	for _, tt := range []struct {
		s    Steering
		want string
	}{
		{Steering{}, "steering: no layers"},
		{Steering{Layers: []int{1}}, "steering: 0 vectors for 1 layers"},
		{Steering{Layers: []int{0}, Vectors: [][]float32{v}}, "layer 0: llama.cpp cannot steer the first block's output; choose a block from 1 to 1"},
		{Steering{Layers: []int{2}, Vectors: [][]float32{v}}, "layer 2: the model has 2 layers (0 to 1)"},
		{Steering{Layers: []int{-1}, Vectors: [][]float32{v}}, "layer -1: the model has 2 layers"},
		{Steering{Layers: []int{1, 1}, Vectors: [][]float32{v, v}}, "layer 1: given twice"},
		{Steering{Layers: []int{1}, Vectors: [][]float32{v[:D-1]}}, "a steering vector of"},
		{Steering{Layers: []int{1}, Vectors: [][]float32{nan}}, "not finite"},
	} {
		if err := m.SetSteering(&tt.s); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.s.Layers, err, tt.want)
		}
	}
}
