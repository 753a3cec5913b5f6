package lens

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

// Head is a model's final norm and unembedding, the part of the model the logit lens reads
// through: logits = W · (Norm ⊙ x / sqrt(mean(x²) + Eps)).
type Head struct {
	Arch   string
	Layers int
	Dim    int
	Vocab  int
	Eps    float64
	Norm   []float32 // the final RMSNorm weight, Dim values
	W      []float32 // Vocab rows of Dim: row v is token v's output vector
	Tokens []string  // tokenizer.ggml.tokens, as the file stores them
}

// ReadHead reads the head of a GGUF model: output_norm.weight and output.weight (or, for models
// with tied embeddings, token_embd.weight), dequantized with ggml's own code when quantized.
// Architectures whose final norm is a LayerNorm (with output_norm.bias) are refused.
func ReadHead(path string) (*Head, error) {
	f, err := gguf.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: no such file", path)
	case errors.Is(err, gguf.ErrBadMagic):
		return nil, fmt.Errorf("%s: not a GGUF file", path)
	case err != nil:
		return nil, err // gguf.Open names the file
	}
	defer f.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	h := &Head{}
	var ok bool
	if h.Arch, ok = gguf.Get[string](f, "general.architecture"); !ok {
		return nil, bad("no general.architecture")
	}
	for _, k := range []struct {
		key string
		dst *int
	}{{".block_count", &h.Layers}, {".embedding_length", &h.Dim}} {
		v, ok := gguf.Get[uint32](f, h.Arch+k.key)
		if !ok || v == 0 {
			return nil, bad("no %s%s", h.Arch, k.key)
		}
		*k.dst = int(v)
	}
	eps, ok := gguf.Get[float32](f, h.Arch+".attention.layer_norm_rms_epsilon")
	if !ok {
		return nil, bad("architecture %s has no RMSNorm epsilon (%s.attention.layer_norm_rms_epsilon): the lens reads models with a final RMSNorm", h.Arch, h.Arch)
	}
	h.Eps = float64(eps)
	if _, ok := f.Tensor("output_norm.bias"); ok {
		return nil, bad("the final norm has a bias (a LayerNorm): the lens reads models with a final RMSNorm")
	}
	if h.Tokens, ok = gguf.Get[[]string](f, "tokenizer.ggml.tokens"); !ok {
		return nil, bad("no tokenizer.ggml.tokens")
	}
	h.Vocab = len(h.Tokens)
	if h.Norm, err = readTensor(f, "output_norm.weight", h.Dim); err != nil {
		return nil, bad("%v", err)
	}
	out := "output.weight"
	if _, ok := f.Tensor(out); !ok {
		out = "token_embd.weight"
	}
	if h.W, err = readTensor(f, out, h.Dim, h.Vocab); err != nil {
		return nil, bad("%v", err)
	}
	return h, nil
}

// readTensor reads a tensor of the given shape (ggml order) as float32.
func readTensor(f *gguf.File, name string, shape ...int) ([]float32, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("no tensor %s", name)
	}
	want := make([]uint64, len(shape))
	for i, s := range shape {
		want[i] = uint64(s)
	}
	if !slices.Equal(t.Shape, want) {
		return nil, fmt.Errorf("tensor %s has shape %v, want %v", name, t.Shape, want)
	}
	switch t.Type {
	case gguf.TensorF32, gguf.TensorF16, gguf.TensorBF16:
		return f.ReadFloat32(name)
	}
	if !llamacpp.CanDequantize(uint32(t.Type)) {
		return nil, fmt.Errorf("tensor %s has type %s, which is not a number type", name, t.Type)
	}
	raw, err := f.ReadRaw(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.Elements())
	if err := llamacpp.Dequantize(uint32(t.Type), raw, out); err != nil {
		return nil, fmt.Errorf("tensor %s: %v", name, err)
	}
	return out, nil
}

// Compatible returns an error naming what differs when a and b cannot be compared layer by layer
// and token by token: the architecture, the number or width of the layers, or the vocabulary.
func Compatible(a, b *Head) error {
	switch {
	case a.Arch != b.Arch:
		return fmt.Errorf("A is a %s model and B a %s model: the lens compares models of one architecture", a.Arch, b.Arch)
	case a.Layers != b.Layers || a.Dim != b.Dim:
		return fmt.Errorf("A has %d layers of width %d and B %d of width %d: the lens compares models of one shape", a.Layers, a.Dim, b.Layers, b.Dim)
	case !slices.Equal(a.Tokens, b.Tokens):
		return fmt.Errorf("A and B have different vocabularies (%d and %d tokens): the lens compares models that share one", a.Vocab, b.Vocab)
	}
	return nil
}

// Logits is the logit lens of x: W · (Norm ⊙ x / sqrt(mean(x²) + Eps)).
func (h *Head) Logits(x []float64) []float64 {
	nx := h.normed(x)
	out := make([]float64, h.Vocab)
	for v := range out {
		row := h.W[v*h.Dim : (v+1)*h.Dim]
		var s float64
		for j, w := range row {
			s += float64(w) * float64(nx[j])
		}
		out[v] = s
	}
	return out
}

// normed is the final RMSNorm of x, in float32 for the matrix product.
func (h *Head) normed(x []float64) []float32 { return h.scaled(x, h.rmsScale(x)) }

// rmsScale is 1 / sqrt(mean(x²) + Eps).
func (h *Head) rmsScale(x []float64) float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	return 1 / sqrt(ss/float64(len(x))+h.Eps)
}

// scaled is Norm ⊙ x · sc.
func (h *Head) scaled(x []float64, sc float64) []float32 {
	out := make([]float32, len(x))
	for j, v := range x {
		out[j] = float32(v * sc * float64(h.Norm[j]))
	}
	return out
}
