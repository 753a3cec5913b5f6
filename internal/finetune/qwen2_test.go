package finetune

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/modelconvert"
	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/train"
)

// qwen2Base converts hftest's tiny Qwen2.5-shaped checkpoint (q/k/v biases, tied embeddings) to
// an F32 GGUF in dir.
func qwen2Base(t *testing.T, dir string) string {
	t.Helper()
	ck, err := hftest.WriteArch(filepath.Join(dir, "hf"), "qwen2", 1)
	if err != nil {
		t.Fatal(err)
	}
	f16, base := filepath.Join(dir, "qwen2-f16.gguf"), filepath.Join(dir, "qwen2.gguf")
	if err := modelconvert.Convert(ck.Dir, f16); err != nil {
		t.Fatal(err)
	}
	if err := hftest.ToF32(f16, base); err != nil {
		t.Fatal(err)
	}
	return base
}

// biases returns the q/k/v bias tensors of a GGUF file.
func biases(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, ti := range f.Tensors {
		if strings.HasSuffix(ti.Name, ".bias") {
			if out[ti.Name], err = f.ReadFloat32(ti.Name); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestLocalQwen2 trains a Qwen2 model in full (biases included) and with LoRA (biases frozen):
// the text's log-prob under llama.cpp rises, and llama.cpp applying the adapter file to the base
// scores as the merged model does.
func TestLocalQwen2(t *testing.T) {
	dir := t.TempDir()
	base := qwen2Base(t, dir)
	text := "The otter swims in the river every morning."
	txt := filepath.Join(dir, "otter.txt")
	if err := os.WriteFile(txt, []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, _, err := ReadAll([]string{txt}, nil, records.Refuse)
	if err != nil {
		t.Fatal(err)
	}
	before, baseBias := score(t, base, "", text), biases(t, base)
	if len(baseBias) != 6 {
		t.Fatalf("base has %d bias tensors, want 6", len(baseBias))
	}
	for _, tc := range []struct {
		name   string
		cfg    train.Config
		biases bool // trained
	}{
		{"full", train.Config{Steps: 40, LR: 1e-2, Warmup: 4, Batch: 1, Context: 32, ClipNorm: 1}, true},
		{"lora", train.Config{Steps: 40, LR: 2e-2, Warmup: 4, Batch: 1, Context: 32, ClipNorm: 1,
			LoRARank: 4, LoRATargets: []string{"blk.*.attn_*", "blk.*.ffn_*"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, adapter := filepath.Join(dir, tc.name+".gguf"), ""
			if tc.cfg.LoRARank > 0 {
				adapter = filepath.Join(dir, tc.name+"-adapter.gguf")
			}
			if _, err := Local(context.Background(), docs, LocalOptions{Base: base, Output: out, Adapter: adapter, Config: tc.cfg}, slog.New(slog.DiscardHandler), nil); err != nil {
				t.Fatal(err)
			}
			after := score(t, out, "", text)
			t.Logf("mean log-prob of the training text: base %.3f, tuned %.3f", before, after)
			if after < before+2 {
				t.Errorf("training barely moved the text's log-prob: %.3f → %.3f", before, after)
			}
			for name, b := range biases(t, out) {
				if changed := !slices.Equal(b, baseBias[name]); changed != tc.biases {
					t.Errorf("%s: changed %v, want %v", name, changed, tc.biases)
				}
			}
			if adapter == "" {
				return
			}
			m, err := llamacpp.Load(llamacpp.Options{Path: base, LoRA: adapter, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Score(context.Background(), []llm.ScoreRequest{{Completion: text}})
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(res[0].Mean - after); d > 1e-3 {
				t.Errorf("base + adapter in llama.cpp scores %.5f, the merged model %.5f", res[0].Mean, after)
			}
		})
	}
}
