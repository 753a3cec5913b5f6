package train

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/gguf"
)

// A checkpoint is a GGUF file (not a model llama.cpp loads) holding the training state:
//
//	mbd.train.version   uint32   1
//	mbd.train.config    string   the Config, as JSON
//	mbd.train.step      uint64   steps done
//	mbd.train.rng       []uint8  the data-order PCG state (MarshalBinary)
//	mbd.train.perm      []int32  the current epoch's window order
//	mbd.train.cursor    uint64   the next position in it
//	mbd.train.windows   uint64   the number of windows in the data
//	mbd.train.data      uint64   a hash of the training data
//	w.NAME              F32      every weight (with LoRA, the frozen base weights)
//	w.NAME.lora_a       F32      with LoRA, each adapter's A [r, in] and B [out, r] (Go order)
//	w.NAME.lora_b
//	m.P, v.P            F32      Adam's first and second moments of every trained parameter P
//	                             (a weight NAME, or NAME.lora_a and NAME.lora_b)
const checkpointVersion = 1

// SaveCheckpoint writes the model's weights and training state to path (atomically), so that
// LoadCheckpoint on the same base model and Train with the same Config and data continue exactly.
func (m *Model) SaveCheckpoint(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saveCheckpoint(path)
}

func ggmlShape(goShape []int) []uint64 {
	s := make([]uint64, len(goShape))
	for i, d := range goShape {
		s[len(s)-1-i] = uint64(d)
	}
	return s
}

func (m *Model) saveCheckpoint(path string) error {
	st := m.state
	if st == nil {
		return errors.New("train: no training state to checkpoint")
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	cfgJSON, err := json.Marshal(st.cfg)
	if err != nil {
		return err
	}
	rng, err := st.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	w := gguf.NewWriter(f)
	perm := st.perm
	if perm == nil {
		perm = []int32{}
	}
	for _, kv := range []gguf.KV{
		{Key: "mbd.train.version", Value: uint32(checkpointVersion)},
		{Key: "mbd.train.config", Value: string(cfgJSON)},
		{Key: "mbd.train.step", Value: uint64(st.step)},
		{Key: "mbd.train.rng", Value: rng},
		{Key: "mbd.train.perm", Value: perm},
		{Key: "mbd.train.cursor", Value: uint64(st.cursor)},
		{Key: "mbd.train.windows", Value: uint64(st.nWindows)},
		{Key: "mbd.train.data", Value: st.dataHash},
	} {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	type item struct {
		name string
		t    *tensors.Tensor
	}
	var items []item
	for _, t := range m.tensors {
		items = append(items, item{"w." + t.name, t.value})
	}
	for i := 0; i < st.nParams() && st.lora != nil; i++ {
		name, v := m.param(st, i)
		items = append(items, item{"w." + name, v})
	}
	for i := 0; i < st.nParams(); i++ {
		name, _ := m.param(st, i)
		items = append(items, item{"m." + name, st.mom[i]}, item{"v." + name, st.vel[i]})
	}
	for _, it := range items {
		if err := w.AddTensor(it.name, gguf.TensorF32, ggmlShape(it.t.Shape().Dimensions)...); err != nil {
			return err
		}
	}
	for _, it := range items {
		data, err := tensors.CopyFlatData[float32](it.t)
		if err != nil {
			return err
		}
		if err := w.WriteFloat32(it.name, data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	return f.Commit()
}

// LoadCheckpoint restores weights and training state saved by SaveCheckpoint into a model opened
// from the same base model (same tensors). A following Train with the checkpoint's Config and the
// same data resumes where the checkpoint was taken.
func (m *Model) LoadCheckpoint(path string) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, weights, err := m.readCheckpoint(f)
	if err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, t := range m.tensors {
		t.value = weights[i]
	}
	m.state = st
	return nil
}

func (m *Model) readCheckpoint(f *gguf.File) (*state, []*tensors.Tensor, error) {
	if v, _ := gguf.Get[uint32](f, "mbd.train.version"); v != checkpointVersion {
		return nil, nil, fmt.Errorf("not a version %d training checkpoint", checkpointVersion)
	}
	var cfg Config
	cfgJSON, _ := gguf.Get[string](f, "mbd.train.config")
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	step, ok1 := gguf.Get[uint64](f, "mbd.train.step")
	rng, ok2 := gguf.Get[[]uint8](f, "mbd.train.rng")
	perm, ok3 := gguf.Get[[]int32](f, "mbd.train.perm")
	cursor, ok4 := gguf.Get[uint64](f, "mbd.train.cursor")
	nw, ok5 := gguf.Get[uint64](f, "mbd.train.windows")
	hash, ok6 := gguf.Get[uint64](f, "mbd.train.data")
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || int(cursor) > len(perm) {
		return nil, nil, errors.New("incomplete training state")
	}
	st, err := m.newState(cfg, hash, int(nw))
	if err != nil {
		return nil, nil, err
	}
	if err := st.pcg.UnmarshalBinary(rng); err != nil {
		return nil, nil, err
	}
	st.step, st.perm, st.cursor = int(step), perm, int(cursor)
	read := func(name string, shape []int) (*tensors.Tensor, error) {
		ti, ok := f.Tensor(name)
		if !ok {
			return nil, fmt.Errorf("no tensor %s", name)
		}
		if fmt.Sprint(ti.Shape) != fmt.Sprint(ggmlShape(shape)) {
			return nil, fmt.Errorf("tensor %s has shape %v, the model %v", name, ti.Shape, ggmlShape(shape))
		}
		data, err := f.ReadFloat32(name)
		if err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(data, shape...), nil
	}
	weights := make([]*tensors.Tensor, len(m.tensors))
	for i, t := range m.tensors {
		if weights[i], err = read("w."+t.name, t.shape); err != nil {
			return nil, nil, err
		}
	}
	for _, ad := range st.lora {
		name := m.tensors[ad.ti].name
		if ad.a, err = read("w."+name+".lora_a", ad.a.Shape().Dimensions); err != nil {
			return nil, nil, err
		}
		if ad.b, err = read("w."+name+".lora_b", ad.b.Shape().Dimensions); err != nil {
			return nil, nil, err
		}
	}
	for i := 0; i < st.nParams(); i++ {
		name, v := m.param(st, i)
		shape := v.Shape().Dimensions
		if st.mom[i], err = read("m."+name, shape); err != nil {
			return nil, nil, err
		}
		if st.vel[i], err = read("v."+name, shape); err != nil {
			return nil, nil, err
		}
	}
	want := len(m.tensors) + 2*st.nParams()
	if st.lora != nil {
		want += st.nParams()
	}
	if len(f.Tensors) != want {
		return nil, nil, fmt.Errorf("%d tensors, want %d", len(f.Tensors), want)
	}
	return st, weights, nil
}
