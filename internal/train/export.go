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

// Export writes the model, with its current weights, as a GGUF file at path (atomically): the
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
	for _, ti := range src.Tensors {
		t := m.byName[ti.Name]
		if t == nil {
			raw, err := src.ReadRaw(ti.Name)
			if err != nil {
				return err
			}
			if err := w.WriteRaw(ti.Name, raw); err != nil {
				return err
			}
			continue
		}
		data, err := tensors.CopyFlatData[float32](t.value)
		if err != nil {
			return err
		}
		if err := w.WriteFloat32(ti.Name, data); err != nil {
			return err
		}
	}
	return w.Close()
}
