package train

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/gguf"
)

// ExportOptions configure Export.
type ExportOptions struct {
	// F32 writes every weight as F32; otherwise each keeps the input file's type (F16 and BF16
	// round the trained values).
	F32 bool
}

// Export writes the model, with its current weights (LoRA adapters merged), as a GGUF file at path (atomically): the
// input file's metadata (tokenizer included) and tensors in the same order.
func (m *Model) Export(path string, opts ExportOptions) error {
	if m.path == "" {
		return errors.New("train: the model was not opened from a file")
	}
	src, err := gguf.Open(m.path)
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.export(src, gguf.NewWriter(f), opts); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	return f.Commit()
}

func (m *Model) export(src *gguf.File, w *gguf.Writer, opts ExportOptions) error {
	for _, kv := range src.KV {
		v := kv.Value
		if kv.Key == "general.file_type" && opts.F32 {
			v = uint32(0) // LLAMA_FTYPE_ALL_F32
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			return err
		}
	}
	typ := func(ti gguf.TensorInfo) gguf.TensorType {
		if opts.F32 && m.byName[ti.Name] != nil {
			return gguf.TensorF32
		}
		return ti.Type
	}
	for _, ti := range src.Tensors {
		if err := w.AddTensor(ti.Name, typ(ti), ti.Shape...); err != nil {
			return err
		}
	}
	weights, err := m.effective()
	if err != nil {
		return err
	}
	value := map[string]*tensors.Tensor{}
	for i, t := range m.tensors {
		value[t.name] = weights[i]
	}
	for _, ti := range src.Tensors {
		v := value[ti.Name]
		if v == nil {
			raw, err := src.ReadRaw(ti.Name)
			if err != nil {
				return err
			}
			if err := w.WriteRaw(ti.Name, raw); err != nil {
				return err
			}
			continue
		}
		data, err := tensors.CopyFlatData[float32](v)
		if err != nil {
			return err
		}
		if err := w.WriteFloat32(ti.Name, data); err != nil {
			return err
		}
	}
	return w.Close()
}

// ExportLoRA writes the model's LoRA adapters as a llama.cpp LoRA adapter GGUF at path
// (atomically): general.architecture the base model's ("llama" or "qwen2"; llama.cpp refuses an
// adapter of another architecture), general.type "adapter", adapter.type "lora",
// adapter.lora.alpha, and F32 tensors NAME.lora_a (ggml {in, r}) and NAME.lora_b (ggml {r, out})
// for every adapted weight NAME, which llama.cpp (llama_adapter_lora_init, --lora) applies as
// W + (alpha/r)·B·A on the base model. Biases are never adapted. token_embd.weight is refused (llama.cpp expects its
// adapter in another layout).
func (m *Model) ExportLoRA(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.state
	if st == nil || st.lora == nil {
		return errors.New("train: the model has no LoRA adapters")
	}
	for _, ad := range st.lora {
		if name := m.tensors[ad.ti].name; name == "token_embd.weight" {
			return fmt.Errorf("train: cannot write the LoRA adapter of %s in llama.cpp's format", name)
		}
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := gguf.NewWriter(f)
	for _, kv := range []gguf.KV{
		{Key: "general.architecture", Value: m.hp.arch},
		{Key: "general.type", Value: "adapter"},
		{Key: "adapter.type", Value: "lora"},
		{Key: "adapter.lora.alpha", Value: float32(st.cfg.LoRAAlpha)},
	} {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	for i := 0; i < st.nParams(); i++ {
		name, v := m.param(st, i)
		if err := w.AddTensor(name, gguf.TensorF32, ggmlShape(v.Shape().Dimensions)...); err != nil {
			return err
		}
	}
	for i := 0; i < st.nParams(); i++ {
		name, v := m.param(st, i)
		data, err := tensors.CopyFlatData[float32](v)
		if err != nil {
			return err
		}
		if err := w.WriteFloat32(name, data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	return f.Commit()
}
