package train

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // the graph DSL reads best unqualified
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/mbd-dev/mbd/internal/gguf"
)

// backend is the pure-Go GoMLX backend, with ops run one after another: its parallel op executor
// can deadlock, and the matrix multiplications parallelise on their own.
var backend = sync.OnceValues(func() (compute.Backend, error) {
	return gobackend.New("ops_sequential")
})

// hparams are the model's hyperparameters, read from the GGUF metadata.
type hparams struct {
	arch                                       string // general.architecture: "llama" or "qwen2"
	nEmbd, nLayer, nHead, nHeadKV, nFF, nVocab int
	headDim                                    int
	eps, ropeBase                              float64
	tiedOutput                                 bool // no output.weight: the output projection is token_embd
	qkvBias                                    bool // attn_q, attn_k and attn_v have biases (qwen2)
	ropeNeox                                   bool // RoPE rotates (x_i, x_{i+d/2}), not (x_{2i}, x_{2i+1})
}

// tensor is one weight of the model.
type tensor struct {
	name  string
	shape []int // Go order: [out, in] for matrices (ggml's ne reversed)
	typ   gguf.TensorType
	value *tensors.Tensor // float32
	train bool
}

// Model is a llama- or qwen2-architecture model loaded for training.
type Model struct {
	path    string
	hp      hparams
	tensors []*tensor // in file order
	byName  map[string]*tensor

	mu    sync.Mutex
	fwd   *Exec  // forward pass, compiled lazily
	eval  *Exec  // masked loss, compiled lazily
	state *state // training state, nil before the first Train or LoadCheckpoint
}

func getUint(f *gguf.File, key string) (int, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("missing metadata %s", key)
	}
	switch x := v.(type) {
	case uint32:
		return int(x), nil
	case int32:
		return int(x), nil
	case uint64:
		return int(x), nil
	case int64:
		return int(x), nil
	case uint16:
		return int(x), nil
	case uint8:
		return int(x), nil
	}
	return 0, fmt.Errorf("metadata %s is a %T, want an integer", key, v)
}

func getFloat(f *gguf.File, key string, def float64) (float64, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("metadata %s is a %T, want a float", key, v)
}

func readHparams(f *gguf.File) (hparams, error) {
	var hp hparams
	arch, _ := gguf.Get[string](f, "general.architecture")
	switch arch {
	case "llama":
	case "qwen2":
		hp.ropeNeox = true // llama.cpp's llama_model_rope_type: LLAMA_ROPE_TYPE_NEOX
		_, hp.qkvBias = f.Tensor("blk.0.attn_q.bias")
	default:
		return hp, fmt.Errorf("architecture %q is not supported (only llama and qwen2)", arch)
	}
	hp.arch = arch
	var errs []error
	u := func(dst *int, key string) {
		n, err := getUint(f, key)
		if err != nil {
			errs = append(errs, err)
		}
		*dst = n
	}
	u(&hp.nEmbd, arch+".embedding_length")
	u(&hp.nLayer, arch+".block_count")
	u(&hp.nHead, arch+".attention.head_count")
	u(&hp.nFF, arch+".feed_forward_length")
	if _, ok := f.Lookup(arch + ".attention.head_count_kv"); ok {
		u(&hp.nHeadKV, arch+".attention.head_count_kv")
	} else {
		hp.nHeadKV = hp.nHead
	}
	var err error
	if hp.eps, err = getFloat(f, arch+".attention.layer_norm_rms_epsilon", math.NaN()); err != nil {
		errs = append(errs, err)
	} else if math.IsNaN(hp.eps) {
		errs = append(errs, fmt.Errorf("missing metadata %s.attention.layer_norm_rms_epsilon", arch))
	}
	if hp.ropeBase, err = getFloat(f, arch+".rope.freq_base", 10000); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return hp, err
	}
	if hp.nHead <= 0 || hp.nEmbd%hp.nHead != 0 || hp.nHeadKV <= 0 || hp.nHead%hp.nHeadKV != 0 {
		return hp, fmt.Errorf("bad attention shape: n_embd %d, n_head %d, n_head_kv %d", hp.nEmbd, hp.nHead, hp.nHeadKV)
	}
	hp.headDim = hp.nEmbd / hp.nHead
	if hp.headDim%2 != 0 {
		return hp, fmt.Errorf("head size %d is odd", hp.headDim)
	}
	if n, err := getUint(f, arch+".rope.dimension_count"); err == nil && n != hp.headDim {
		return hp, fmt.Errorf("partial RoPE (rope.dimension_count %d, head size %d) is not supported", n, hp.headDim)
	}
	if s, ok := gguf.Get[string](f, arch+".rope.scaling.type"); ok && s != "none" && s != "" {
		return hp, fmt.Errorf("RoPE scaling %q is not supported", s)
	}
	for _, k := range []string{arch + ".attention.key_length", arch + ".attention.value_length"} {
		if n, err := getUint(f, k); err == nil && n != hp.headDim {
			return hp, fmt.Errorf("%s %d differs from the head size %d: not supported", k, n, hp.headDim)
		}
	}
	if n, err := getUint(f, arch+".expert_count"); err == nil && n > 0 {
		return hp, errors.New("mixture-of-experts models are not supported")
	}
	return hp, nil
}

// expectedShapes lists the model's tensors with their Go shapes ([out, in] for matrices).
func (hp hparams) expectedShapes() map[string][]int {
	e, kv, ff, v := hp.nEmbd, hp.headDim*hp.nHeadKV, hp.nFF, hp.nVocab
	m := map[string][]int{
		"token_embd.weight":  {v, e},
		"output_norm.weight": {e},
	}
	if !hp.tiedOutput {
		m["output.weight"] = []int{v, e}
	}
	for i := 0; i < hp.nLayer; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		m[p+"attn_norm.weight"] = []int{e}
		m[p+"attn_q.weight"] = []int{e, e}
		m[p+"attn_k.weight"] = []int{kv, e}
		m[p+"attn_v.weight"] = []int{kv, e}
		m[p+"attn_output.weight"] = []int{e, e}
		m[p+"ffn_norm.weight"] = []int{e}
		m[p+"ffn_gate.weight"] = []int{ff, e}
		m[p+"ffn_up.weight"] = []int{ff, e}
		m[p+"ffn_down.weight"] = []int{e, ff}
		if hp.qkvBias {
			m[p+"attn_q.bias"] = []int{e}
			m[p+"attn_k.bias"] = []int{kv}
			m[p+"attn_v.bias"] = []int{kv}
		}
	}
	return m
}

// Open loads a llama- or qwen2-architecture GGUF model with F32, F16 or BF16 weights.
func Open(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := load(f)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	m.path = path
	return m, nil
}

func load(f *gguf.File) (*Model, error) {
	hp, err := readHparams(f)
	if err != nil {
		return nil, err
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Shape) != 2 {
		return nil, errors.New("no 2-D token_embd.weight")
	}
	hp.nVocab = int(emb.Shape[1])
	if n, err := getUint(f, hp.arch+".vocab_size"); err == nil && n != hp.nVocab {
		return nil, fmt.Errorf("%s.vocab_size %d but token_embd.weight has %d rows", hp.arch, n, hp.nVocab)
	}
	_, hasOut := f.Tensor("output.weight")
	hp.tiedOutput = !hasOut
	want := hp.expectedShapes()
	m := &Model{hp: hp, byName: map[string]*tensor{}}
	for _, ti := range f.Tensors {
		shape, ok := want[ti.Name]
		if !ok {
			return nil, fmt.Errorf("tensor %s is not supported (no biases but qwen2's q/k/v ones, RoPE frequency factors or experts)", ti.Name)
		}
		switch ti.Type {
		case gguf.TensorF32, gguf.TensorF16, gguf.TensorBF16:
		default:
			return nil, fmt.Errorf("tensor %s is %s: quantized models cannot be trained, use an F32, F16 or BF16 model", ti.Name, ti.Type)
		}
		got := make([]int, len(ti.Shape))
		for i, d := range ti.Shape {
			got[len(got)-1-i] = int(d)
		}
		if fmt.Sprint(got) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("tensor %s has shape %v (Go order), want %v", ti.Name, got, shape)
		}
		data, err := f.ReadFloat32(ti.Name)
		if err != nil {
			return nil, err
		}
		t := &tensor{name: ti.Name, shape: shape, typ: ti.Type, value: tensors.FromFlatDataAndDimensions(data, shape...)}
		m.tensors = append(m.tensors, t)
		m.byName[t.name] = t
	}
	var missing []string
	for name := range want {
		if m.byName[name] == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing tensors: %s", strings.Join(missing, ", "))
	}
	return m, nil
}

// Vocab returns the vocabulary size.
func (m *Model) Vocab() int { return m.hp.nVocab }

// TensorNames lists the model's tensors in file order.
func (m *Model) TensorNames() []string {
	names := make([]string, len(m.tensors))
	for i, t := range m.tensors {
		names[i] = t.name
	}
	return names
}

// Weight returns a copy of a tensor's current values (row-major, Go order); with LoRA, the
// adapted weight W + (alpha/r)·B·A.
func (m *Model) Weight(name string) ([]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws, err := m.effective()
	if err != nil {
		return nil, err
	}
	for i, t := range m.tensors {
		if t.name == name {
			return tensors.CopyFlatData[float32](ws[i])
		}
	}
	return nil, fmt.Errorf("train: no tensor %q", name)
}

// LogProbs returns log p(tokens[i+1] | tokens[:i+1]) for i = 0 … len(tokens)-2: the log-probability
// of each token after the first, as the model's forward pass computes it from position 0.
func (m *Model) LogProbs(tokens []int32) ([]float64, error) {
	if len(tokens) < 2 {
		return nil, nil
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= m.hp.nVocab {
			return nil, fmt.Errorf("train: token %d out of range [0, %d)", t, m.hp.nVocab)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fwd == nil {
		b, err := backend()
		if err != nil {
			return nil, err
		}
		fwd, err := NewExec(b, func(g *Graph, in []*Node) []*Node {
			w := m.nodeMap(in[:len(m.tensors)])
			toks := in[len(m.tensors)]
			lp := LogSoftmax(m.forward(w, toks, nil))
			return []*Node{targetLogProbs(lp, toks)}
		})
		if err != nil {
			return nil, err
		}
		fwd.SetMaxCache(64)
		m.fwd = fwd
	}
	weights, err := m.effective()
	if err != nil {
		return nil, err
	}
	args := append(toAny(weights), tensors.FromFlatDataAndDimensions(tokens, 1, len(tokens)))
	out, err := m.fwd.Call(args...)
	if err != nil {
		return nil, err
	}
	lp, err := tensors.CopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	if err != nil {
		return nil, err
	}
	res := make([]float64, len(lp))
	for i, v := range lp {
		res[i] = float64(v)
	}
	return res, nil
}

// nodeMap names the weight nodes (in file order).
func (m *Model) nodeMap(nodes []*Node) map[string]*Node {
	w := make(map[string]*Node, len(nodes))
	for i, t := range m.tensors {
		w[t.name] = nodes[i]
	}
	return w
}

// targetLogProbs picks, from log-probs [B,T,V] computed on tokens [B,T], the log-prob of each next
// token: [B,T-1].
func targetLogProbs(lp, toks *Node) *Node {
	dims := lp.Shape().Dimensions
	b, t, v := dims[0], dims[1], dims[2]
	lp = Slice(lp, AxisRange(), AxisRange(0, t-1), AxisRange())
	next := Slice(toks, AxisRange(), AxisRange(1, t))
	oh := OneHot(next, v, lp.DType())
	return Reshape(ReduceSum(Mul(lp, oh), -1), b, t-1)
}

// rmsNorm is x / sqrt(mean(x²) + eps) * w over the last axis (llama.cpp's ggml_rms_norm then
// ggml_mul).
func rmsNorm(x, w *Node, eps float64) *Node {
	ms := ReduceAndKeep(Square(x), ReduceMean, -1)
	x = Div(x, Sqrt(AddScalar(ms, eps)))
	return Mul(x, ExpandLeftToRank(w, x.Rank()))
}

// linear is x·Wᵀ for a weight in ggml layout W[out][in]: [..., in] → [..., out].
func linear(x, w *Node) *Node {
	return Einsum("bti,oi->bto", x, w)
}

// rope rotates adjacent pairs (x[2i], x[2i+1]) of each head of x [B,T,H,D] by the angle
// pos·base^(-2i/D): llama.cpp's GGML_ROPE_TYPE_NORM, the llama architecture's convention.
func rope(x *Node, base float64) *Node {
	dims := x.Shape().Dimensions
	b, t, h, d := dims[0], dims[1], dims[2], dims[3]
	cos, sin := ropeAngles(t, d, base)
	g := x.Graph()
	c := BroadcastToDims(Reshape(Const(g, cos), 1, t, 1, d/2, 1), b, t, h, d/2, 1)
	s := BroadcastToDims(Reshape(Const(g, sin), 1, t, 1, d/2, 1), b, t, h, d/2, 1)
	x = Reshape(x, b, t, h, d/2, 2)
	x0 := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(), AxisElem(0))
	x1 := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(), AxisElem(1))
	r0 := Sub(Mul(x0, c), Mul(x1, s))
	r1 := Add(Mul(x0, s), Mul(x1, c))
	return Reshape(Concatenate([]*Node{r0, r1}, -1), b, t, h, d)
}

// ropeAngles returns cos and sin of pos·base^(-2i/D) for positions 0..t-1 and i < d/2, [t][d/2].
func ropeAngles(t, d int, base float64) (cos, sin []float32) {
	cos = make([]float32, t*d/2)
	sin = make([]float32, t*d/2)
	for p := 0; p < t; p++ {
		for i := 0; i < d/2; i++ {
			theta := float64(p) * math.Pow(base, -2*float64(i)/float64(d))
			cos[p*d/2+i] = float32(math.Cos(theta))
			sin[p*d/2+i] = float32(math.Sin(theta))
		}
	}
	return cos, sin
}

// ropeNeox rotates the pairs (x[i], x[i+D/2]) of each head of x [B,T,H,D] by the angle
// pos·base^(-2i/D): llama.cpp's GGML_ROPE_TYPE_NEOX, the qwen2 architecture's convention.
func ropeNeox(x *Node, base float64) *Node {
	dims := x.Shape().Dimensions
	b, t, h, d := dims[0], dims[1], dims[2], dims[3]
	cos, sin := ropeAngles(t, d, base)
	g := x.Graph()
	c := BroadcastToDims(Reshape(Const(g, cos), 1, t, 1, 1, d/2), b, t, h, 1, d/2)
	s := BroadcastToDims(Reshape(Const(g, sin), 1, t, 1, 1, d/2), b, t, h, 1, d/2)
	x = Reshape(x, b, t, h, 2, d/2)
	x0 := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisElem(0), AxisRange())
	x1 := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisElem(1), AxisRange())
	r0 := Sub(Mul(x0, c), Mul(x1, s))
	r1 := Add(Mul(x0, s), Mul(x1, c))
	return Reshape(Concatenate([]*Node{r0, r1}, 3), b, t, h, d)
}

// project is the attention projection NAME.weight of h [B,T,E], plus NAME.bias when the model has
// q/k/v biases (ggml_mul_mat then ggml_add).
func (m *Model) project(h *Node, w map[string]*Node, name string) *Node {
	y := linear(h, w[name+".weight"])
	if m.hp.qkvBias {
		y = Add(y, ExpandLeftToRank(w[name+".bias"], y.Rank()))
	}
	return y
}

// forward computes the logits [B,T,V] of tokens [B,T] (positions 0 … T-1). With segments seg
// [B,T] (nil: one sequence per row) a position attends only to positions of its own segment; RoPE
// depends on relative positions only, so a segment starting at position o computes what it would
// at position 0.
func (m *Model) forward(w map[string]*Node, toks, seg *Node) *Node {
	hp := m.hp
	g := toks.Graph()
	dims := toks.Shape().Dimensions
	b, t := dims[0], dims[1]
	x := Gather(w["token_embd.weight"], Reshape(toks, b, t, 1)) // [B,T,E]

	// Causal mask: 0 on and below the diagonal, a huge negative number above.
	mask := make([]float32, t*t)
	for i := 0; i < t; i++ {
		for j := i + 1; j < t; j++ {
			mask[i*t+j] = -1e30 // exp underflows to exactly 0, without -inf arithmetic in the gradient
		}
	}
	grp := hp.nHead / hp.nHeadKV
	maskNode, rows := Reshape(Const(g, mask), 1, t, t), 1
	if seg != nil {
		si := BroadcastToDims(Reshape(seg, b, t, 1), b, t, t)
		sj := BroadcastToDims(Reshape(seg, b, 1, t), b, t, t)
		other := ConvertDType(NotEqual(si, sj), dtypes.Float32)
		maskNode, rows = Add(BroadcastToDims(maskNode, b, t, t), MulScalar(other, -1e30)), b
	}
	maskNode = BroadcastToDims(Reshape(maskNode, rows, 1, 1, t, t), b, hp.nHeadKV, grp, t, t)
	scale := 1 / math.Sqrt(float64(hp.headDim))

	for l := 0; l < hp.nLayer; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		h := rmsNorm(x, w[p+"attn_norm.weight"], hp.eps)
		q := Reshape(m.project(h, w, p+"attn_q"), b, t, hp.nHead, hp.headDim)
		k := Reshape(m.project(h, w, p+"attn_k"), b, t, hp.nHeadKV, hp.headDim)
		v := Reshape(m.project(h, w, p+"attn_v"), b, t, hp.nHeadKV, hp.headDim)
		if hp.ropeNeox {
			q = ropeNeox(q, hp.ropeBase)
			k = ropeNeox(k, hp.ropeBase)
		} else {
			q = rope(q, hp.ropeBase)
			k = rope(k, hp.ropeBase)
		}
		// Query head j uses key/value head j / grp (ggml's broadcasting in ggml_mul_mat). The
		// heads move ahead of the positions first, so that the products over [T,T] scores need
		// no transposes of those (large) tensors.
		q5 := TransposeAllDims(Reshape(q, b, t, hp.nHeadKV, grp, hp.headDim), 0, 2, 3, 1, 4) // [B,Hkv,G,T,D]
		k = TransposeAllDims(k, 0, 2, 1, 3)                                                  // [B,Hkv,T,D]
		v = TransposeAllDims(v, 0, 2, 1, 3)
		scores := Einsum("bkgqd,bksd->bkgqs", q5, k) // [B,Hkv,G,Tq,Tk]
		scores = Add(MulScalar(scores, scale), maskNode)
		probs := Softmax(scores, -1)
		att := Einsum("bkgqs,bksd->bkgqd", probs, v)
		att = Reshape(TransposeAllDims(att, 0, 3, 1, 2, 4), b, t, hp.nEmbd)
		x = Add(x, linear(att, w[p+"attn_output.weight"]))

		h = rmsNorm(x, w[p+"ffn_norm.weight"], hp.eps)
		gate := linear(h, w[p+"ffn_gate.weight"])
		up := linear(h, w[p+"ffn_up.weight"])
		act := Mul(Mul(gate, Sigmoid(gate)), up) // SwiGLU: silu(gate) · up
		x = Add(x, linear(act, w[p+"ffn_down.weight"]))
	}
	x = rmsNorm(x, w["output_norm.weight"], hp.eps)
	out := w["output.weight"]
	if hp.tiedOutput {
		out = w["token_embd.weight"]
	}
	return linear(x, out)
}
