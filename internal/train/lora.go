package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// DefaultLoRATargets are the tensors LoRA adapts when Config.LoRATargets is empty: the attention
// query and value projections, as in Hu et al. (2021).
var DefaultLoRATargets = []string{"blk.*.attn_q.weight", "blk.*.attn_v.weight"}

// adapter is the LoRA adapter of one weight matrix W [out, in] (Go order): the model uses
// W + scale·B·A with A [r, in], B [out, r] and scale = alpha/r.
type adapter struct {
	ti     int // index of W in Model.tensors
	a, b   *tensors.Tensor
	merged *tensors.Tensor // cache of W + scale·B·A, nil when stale
}

// loraScale is alpha/r.
func (c Config) loraScale() float64 { return c.LoRAAlpha / float64(c.LoRARank) }

// plan resolves which parameters cfg trains: the indices of the fully trained tensors (without
// LoRA), or of the LoRA-adapted matrices (with LoRA), in file order.
func (m *Model) plan(cfg Config) (trainIdx, loraIdx []int, err error) {
	if cfg.LoRARank == 0 {
		for i, t := range m.tensors {
			if trainable(t.name, cfg.Train) {
				trainIdx = append(trainIdx, i)
			}
		}
		if len(trainIdx) == 0 {
			return nil, nil, fmt.Errorf("train: no tensor matches %q", cfg.Train)
		}
		return trainIdx, nil, nil
	}
	var errs []error
	used := map[int]bool{}
	for _, p := range cfg.LoRATargets {
		n := 0
		for i, t := range m.tensors {
			if ok, _ := path.Match(p, t.name); !ok || len(t.shape) != 2 {
				continue
			}
			n++
			if r := cfg.LoRARank; r > min(t.shape[0], t.shape[1]) {
				errs = append(errs, fmt.Errorf("LoRA rank %d exceeds min(out, in) = %d of %s %v", r, min(t.shape[0], t.shape[1]), t.name, t.shape))
			}
			used[i] = true
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("LoRA target %q matches no weight matrix", p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	for i := range m.tensors {
		if used[i] {
			loraIdx = append(loraIdx, i)
		}
	}
	return nil, loraIdx, nil
}

// TrainableParams returns the number of parameters cfg trains on this model: the elements of the
// trained tensors, or of the LoRA adapters (r·(in+out) per adapted matrix). It also reports the
// configuration errors that Train would.
func (m *Model) TrainableParams(cfg Config) (int, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return 0, err
	}
	trainIdx, loraIdx, err := m.plan(cfg)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, i := range trainIdx {
		n += m.tensors[i].value.Size()
	}
	for _, i := range loraIdx {
		s := m.tensors[i].shape
		n += cfg.LoRARank * (s[0] + s[1])
	}
	return n, nil
}

// newAdapters creates zero-effect adapters for the matrices loraIdx: A uniform in ±1/√in (PEFT's
// default, Kaiming-uniform with a = √5), drawn from a PCG seeded by cfg.Seed, and B = 0.
func (m *Model) newAdapters(cfg Config, loraIdx []int) []*adapter {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d62642d6c6f7261)) // "mbd-lora"
	ads := make([]*adapter, len(loraIdx))
	r := cfg.LoRARank
	for k, ti := range loraIdx {
		out, in := m.tensors[ti].shape[0], m.tensors[ti].shape[1]
		bound := 1 / math.Sqrt(float64(in))
		a := make([]float32, r*in)
		for i := range a {
			a[i] = float32((2*rng.Float64() - 1) * bound)
		}
		ads[k] = &adapter{ti: ti, a: tensors.FromFlatDataAndDimensions(a, r, in), b: tensors.FromFlatDataAndDimensions(make([]float32, out*r), out, r)}
	}
	return ads
}

// mergeLoRA returns W + scale·B·A for W [out, in], A [r, in], B [out, r] (row-major), summing the
// rank-r product in float64.
func mergeLoRA(w, a, b []float32, out, in, r int, scale float64) []float32 {
	res := make([]float32, len(w))
	row := make([]float64, in)
	for o := 0; o < out; o++ {
		clear(row)
		for k := 0; k < r; k++ {
			bk := float64(b[o*r+k])
			if bk == 0 {
				continue
			}
			ak := a[k*in : (k+1)*in]
			for i, av := range ak {
				row[i] += bk * float64(av)
			}
		}
		for i := 0; i < in; i++ {
			res[o*in+i] = w[o*in+i] + float32(scale*row[i])
		}
	}
	return res
}

// mergedValue returns the adapted weight W + scale·B·A, cached until the adapter changes.
func (m *Model) mergedValue(ad *adapter, cfg Config) (*tensors.Tensor, error) {
	if ad.merged != nil {
		return ad.merged, nil
	}
	t := m.tensors[ad.ti]
	w, err := tensors.CopyFlatData[float32](t.value)
	if err != nil {
		return nil, err
	}
	a, err := tensors.CopyFlatData[float32](ad.a)
	if err != nil {
		return nil, err
	}
	b, err := tensors.CopyFlatData[float32](ad.b)
	if err != nil {
		return nil, err
	}
	out, in := t.shape[0], t.shape[1]
	ad.merged = tensors.FromFlatDataAndDimensions(mergeLoRA(w, a, b, out, in, cfg.LoRARank, cfg.loraScale()), out, in)
	return ad.merged, nil
}

// effective returns the current value of every tensor, in file order: the LoRA-adapted ones merged.
func (m *Model) effective() ([]*tensors.Tensor, error) {
	out := make([]*tensors.Tensor, len(m.tensors))
	for i, t := range m.tensors {
		out[i] = t.value
	}
	if st := m.state; st != nil {
		for _, ad := range st.lora {
			v, err := m.mergedValue(ad, st.cfg)
			if err != nil {
				return nil, err
			}
			out[ad.ti] = v
		}
	}
	return out, nil
}

// bakeAdapters merges the training state's adapters into the weights and drops them, leaving the
// model's effective weights unchanged.
func (m *Model) bakeAdapters() error {
	st := m.state
	if st == nil || len(st.lora) == 0 {
		return nil
	}
	vals, err := m.effective()
	if err != nil {
		return err
	}
	for _, ad := range st.lora {
		m.tensors[ad.ti].value = vals[ad.ti]
	}
	st.lora = nil
	return nil
}

// loraWeights replaces, in the weight nodes w, each adapted matrix by W + scale·B·A, with the
// adapters' nodes params (A₀, B₀, A₁, B₁, …).
func (m *Model) loraWeights(w map[string]*Node, st *state, params []*Node) {
	scale := st.cfg.loraScale()
	for k, ad := range st.lora {
		name := m.tensors[ad.ti].name
		a, b := params[2*k], params[2*k+1]
		w[name] = Add(w[name], MulScalar(Einsum("or,ri->oi", b, a), scale))
	}
}
