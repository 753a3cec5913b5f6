package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/modelconvert"
	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
)

var (
	qwenOnce sync.Once
	qwenDir  string
	qwenErr  error
)

// qwen2Model returns a tiny Qwen2 GGUF (hftest's Qwen2.5-shaped checkpoint: q/k/v biases,
// rope_theta 1e6, tied embeddings), converted once per test binary: "f16.gguf" as the converter
// writes it (F16 matrices, F32 norms and biases) or "f32.gguf" widened to F32.
func qwen2Model(t testing.TB, name string) string {
	t.Helper()
	qwenOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mbd-train-qwen2-*")
		if err != nil {
			qwenErr = err
			return
		}
		qwenDir = dir
		ck, err := hftest.WriteArch(filepath.Join(dir, "hf"), "qwen2", 3)
		if err != nil {
			qwenErr = err
			return
		}
		if qwenErr = modelconvert.Convert(ck.Dir, filepath.Join(dir, "f16.gguf")); qwenErr != nil {
			return
		}
		qwenErr = hftest.ToF32(filepath.Join(dir, "f16.gguf"), filepath.Join(dir, "f32.gguf"))
	})
	if qwenErr != nil {
		t.Fatal(qwenErr)
	}
	return filepath.Join(qwenDir, name)
}

// qkvBiases lists a Qwen2 model's bias tensors.
func qkvBiases(m *Model) []string {
	var names []string
	for _, n := range m.TensorNames() {
		if strings.HasSuffix(n, ".bias") {
			names = append(names, n)
		}
	}
	return names
}

// TestQwen2Parity checks that a Qwen2 model loads with its biases, NEOX RoPE and tied output, and
// the trainer/llama.cpp parity of its forward pass (within 1e-3 for F32 weights).
func TestQwen2Parity(t *testing.T) {
	for _, name := range []string{"f16.gguf", "f32.gguf"} {
		t.Run(name, func(t *testing.T) {
			path := qwen2Model(t, name)
			m := mustOpen(t, path)
			if hp := m.hp; hp.arch != "qwen2" || !hp.qkvBias || !hp.ropeNeox || !hp.tiedOutput || hp.ropeBase != 1e6 {
				t.Fatalf("hparams %+v", hp)
			}
			if n := len(qkvBiases(m)); n != 3*m.hp.nLayer {
				t.Fatalf("%d bias tensors, want %d", n, 3*m.hp.nLayer)
			}
			checkParity(t, m, path, parityPrompt, parityCompletion, parityTol)
		})
	}
}

// TestQwen2Overfit trains every tensor of a Qwen2 model, biases included, on one short sequence
// until it has memorised it, exports it and checks under llama.cpp the memorisation, the trained
// biases in the file and the parity on held-out text.
func TestQwen2Overfit(t *testing.T) {
	path := qwen2Model(t, "f32.gguf")
	m := mustOpen(t, path)
	seq := memorisedTokens(t, loadLlama(t, path))
	cfg := Config{LR: 3e-3, Warmup: 10, Steps: 80, Batch: 1, Context: len(seq) - 1, ClipNorm: 1, Seed: 1}
	if last, _ := trainLogged(t, m, [][]int32{seq}, cfg, 25); last > 0.05 {
		t.Errorf("final loss %.4f, want < 0.05", last)
	}
	out := filepath.Join(t.TempDir(), "trained.gguf")
	if err := m.Export(out, ExportOptions{F32: true}); err != nil {
		t.Fatal(err)
	}
	baseW, outW := readGGUF(t, path), readGGUF(t, out)
	for _, name := range qkvBiases(m) {
		if slices.Equal(baseW[name], outW[name]) {
			t.Errorf("%s unchanged by training", name)
		}
		if w, _ := m.Weight(name); !slices.Equal(w, outW[name]) {
			t.Errorf("%s: the exported bias differs from the trained one", name)
		}
	}
	checkMemorised(t, m, out, -0.1)
}

// TestQwen2LoRA trains LoRA adapters on a Qwen2 model: the biases stay frozen, and llama.cpp
// applying the adapter file to the base scores as the merged export does.
func TestQwen2LoRA(t *testing.T) {
	path := qwen2Model(t, "f32.gguf")
	m := mustOpen(t, path)
	seq := memorisedTokens(t, loadLlama(t, path))
	cfg := Config{LR: 1e-2, Warmup: 10, Steps: 60, Batch: 1, Context: len(seq) - 1, ClipNorm: 1, Seed: 1,
		LoRARank: 4, LoRATargets: []string{"blk.*.attn_*", "blk.*.ffn_*"}}
	before, err := m.Loss([][]int32{seq}, cfg.Context)
	if err != nil {
		t.Fatal(err)
	}
	trainLogged(t, m, [][]int32{seq}, cfg, 20)
	after, err := m.Loss([][]int32{seq}, cfg.Context)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f → %.4f", before, after)
	if after > before/2 {
		t.Errorf("LoRA training barely moved the loss: %.4f → %.4f", before, after)
	}
	out := filepath.Join(t.TempDir(), "merged.gguf")
	if err := m.Export(out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	baseW, outW := readGGUF(t, path), readGGUF(t, out)
	for _, name := range qkvBiases(m) {
		if !slices.Equal(baseW[name], outW[name]) {
			t.Errorf("%s changed under LoRA", name)
		}
	}
	if slices.Equal(baseW["blk.1.attn_k.weight"], outW["blk.1.attn_k.weight"]) {
		t.Error("blk.1.attn_k.weight not adapted")
	}
	checkParity(t, m, out, "The old lighthouse keeper", " watched the ships sail past the rocks every evening.", parityTol)

	ad := filepath.Join(t.TempDir(), "adapter.gguf")
	if err := m.ExportLoRA(ad); err != nil {
		t.Fatal(err)
	}
	af, err := gguf.Open(ad)
	if err != nil {
		t.Fatal(err)
	}
	arch, _ := gguf.Get[string](af, "general.architecture")
	af.Close()
	if arch != "qwen2" {
		t.Errorf("adapter architecture %q, want qwen2", arch)
	}
	req := []llm.ScoreRequest{{ID: "x", Prompt: memPrompt, Completion: memCompletion}}
	merged, err := loadLlama(t, out).Score(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := llamacpp.Load(llamacpp.Options{Path: path, LoRA: ad, Chat: "off", Threads: 1, Parallel: 1, Ctx: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	adapted, err := lm.Score(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(adapted[0].Mean - merged[0].Mean); d > 1e-3 {
		t.Errorf("base + adapter in llama.cpp scores %.5f, the merged model %.5f", adapted[0].Mean, merged[0].Mean)
	}
}

// rewriteGGUF copies the GGUF file in to out with the metadata key set to value (when key is not
// empty) and the tensor drop left out.
func rewriteGGUF(t *testing.T, in, out, key string, value any, drop string) {
	t.Helper()
	src, err := gguf.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter(f)
	for _, kv := range src.KV {
		v := kv.Value
		if kv.Key == key {
			v = value
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range src.Tensors {
		if ti.Name != drop {
			if err := w.AddTensor(ti.Name, ti.Type, ti.Shape...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ti := range src.Tensors {
		if ti.Name == drop {
			continue
		}
		raw, err := src.ReadRaw(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRaw(ti.Name, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenUnsupported checks the errors for architectures and tensors the trainer does not handle.
func TestOpenUnsupported(t *testing.T) {
	qwen := qwen2Model(t, "f32.gguf")
	for _, tc := range []struct {
		name, key  string
		value      any
		drop, want string
	}{
		{"other architecture", "general.architecture", "phi3", "", `architecture "phi3" is not supported (only llama and qwen2)`},
		{"qwen2 bias missing", "", nil, "blk.1.attn_k.bias", "missing tensors: blk.1.attn_k.bias"},
		{"qwen2 without biases in block 0", "", nil, "blk.0.attn_q.bias", "tensor blk.0.attn_k.bias is not supported"},
		{"qwen2 metadata of the wrong type", "qwen2.block_count", "", "", "metadata qwen2.block_count is a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.gguf")
			rewriteGGUF(t, qwen, path, tc.key, tc.value, tc.drop)
			_, err := Open(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
