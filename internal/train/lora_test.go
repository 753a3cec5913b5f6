package train

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/mbd-dev/mbd/internal/gguf"
)

// readGGUF returns every tensor of a GGUF file as float32.
func readGGUF(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, ti := range f.Tensors {
		if out[ti.Name], err = f.ReadFloat32(ti.Name); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestLoRAOverfit trains LoRA adapters on one short sequence until the model has memorised it,
// exports the merged model and checks the memorisation under llama.cpp, that only the targeted
// tensors changed, the trainer/llama.cpp parity of the merged F32 model, and the adapter file.
func TestLoRAOverfit(t *testing.T) {
	path := tinyModel(t, "f32.gguf")
	m := mustOpen(t, path)
	seq := memorisedTokens(t, loadLlama(t, path))
	cfg := Config{LR: 1e-2, Warmup: 10, Steps: 100, Batch: 1, Context: len(seq) - 1, ClipNorm: 1, Seed: 1,
		LoRARank: 4, LoRATargets: []string{"blk.*.attn_q.weight", "blk.*.attn_v.weight", "blk.*.ffn_*"}}
	full, err := m.TrainableParams(Config{LR: 1, Steps: 1, Batch: 1, Context: 1})
	if err != nil {
		t.Fatal(err)
	}
	lora, err := m.TrainableParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trainable parameters: %d with LoRA rank %d, %d in full finetuning", lora, cfg.LoRARank, full)
	before, err := m.Loss([][]int32{seq}, cfg.Context)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := trainLogged(t, m, [][]int32{seq}, cfg, 25)
	after, err := m.Loss([][]int32{seq}, cfg.Context)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f → %.4f (last step %.4f)", before, after, last)
	if after > 0.2 {
		t.Errorf("loss after LoRA training %.4f, want < 0.2", after)
	}

	out := filepath.Join(t.TempDir(), "merged.gguf")
	if err := m.Export(out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	baseW, outW := readGGUF(t, path), readGGUF(t, out)
	for name, b := range baseW {
		o := outW[name]
		changed := false
		for i := range b {
			if math.Float32bits(b[i]) != math.Float32bits(o[i]) {
				changed = true
				break
			}
		}
		targeted := false
		for _, p := range cfg.LoRATargets {
			if ok, _ := filepath.Match(p, name); ok && !strings.HasSuffix(name, "_norm.weight") {
				targeted = true // the patterns' 1-D tensors are not adapted
			}
		}
		if changed != targeted {
			t.Errorf("%s: changed %v, targeted %v", name, changed, targeted)
		}
	}

	checkMemorised(t, m, out, -0.5)

	// The llama.cpp adapter file: W + (alpha/r)·B·A from it is the merged weight.
	ad := filepath.Join(t.TempDir(), "adapter.gguf")
	if err := m.ExportLoRA(ad); err != nil {
		t.Fatal(err)
	}
	af, err := gguf.Open(ad)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	if typ, _ := gguf.Get[string](af, "general.type"); typ != "adapter" {
		t.Errorf("general.type %q", typ)
	}
	alpha, _ := gguf.Get[float32](af, "adapter.lora.alpha")
	n := 0
	for _, ti := range af.Tensors {
		name, ok := strings.CutSuffix(ti.Name, ".lora_a")
		if !ok {
			continue
		}
		n++
		tb, _ := af.Tensor(name + ".lora_b")
		// ggml shapes: lora_a {in, r}, lora_b {r, out}.
		in, r, out := int(ti.Shape[0]), int(ti.Shape[1]), int(tb.Shape[1])
		if int(tb.Shape[0]) != r || r != cfg.LoRARank {
			t.Fatalf("%s: lora_a %v, lora_b %v", name, ti.Shape, tb.Shape)
		}
		a, _ := af.ReadFloat32(ti.Name)
		b, _ := af.ReadFloat32(tb.Name)
		w, o := baseW[name], outW[name]
		var d float64
		for i := 0; i < out; i++ {
			for j := 0; j < in; j++ {
				var s float64
				for k := 0; k < r; k++ {
					s += float64(b[i*r+k]) * float64(a[k*in+j])
				}
				d = max(d, math.Abs(float64(w[i*in+j])+float64(alpha)/float64(r)*s-float64(o[i*in+j])))
			}
		}
		if d > 1e-6 {
			t.Errorf("%s: base + adapter differs from the merged export by %.1e", name, d)
		}
	}
	if n != 10 || len(af.Tensors) != 2*n { // 2 blocks × q, v, gate, up, down
		t.Errorf("adapter file has %d tensors, %d adapters; want 10 adapters", len(af.Tensors), n)
	}
}

// TestLoRAConfigErrors checks the LoRA configuration errors.
func TestLoRAConfigErrors(t *testing.T) {
	m := mustOpen(t, tinyModel(t, "f32.gguf"))
	base := Config{LR: 1e-3, Steps: 1, Batch: 1, Context: 4}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.LoRARank = 33 }, "LoRA rank 33 exceeds min(out, in) = 32 of blk.0.attn_v.weight"},
		{func(c *Config) { c.LoRARank = 4; c.LoRATargets = []string{"blk.*.attn_q.weight", "blk.*.attn_x*"} }, `LoRA target "blk.*.attn_x*" matches no weight matrix`},
		{func(c *Config) { c.LoRARank = 4; c.LoRATargets = []string{"*_norm.weight"} }, `LoRA target "*_norm.weight" matches no weight matrix`},
		{func(c *Config) { c.LoRARank = 4; c.LoRATargets = []string{"blk.[.weight"} }, `bad LoRA target pattern "blk.[.weight"`},
		{func(c *Config) { c.LoRARank = 4; c.Train = []string{"blk.1.*"} }, "cannot be combined with LoRA"},
		{func(c *Config) { c.LoRARank = -1 }, "must not be negative"},
		{func(c *Config) { c.LoRARank = 4; c.LoRAAlpha = -2 }, "alpha -2 must be positive"},
		{func(c *Config) { c.LoRATargets = []string{"*"} }, "without a LoRA rank"},
	} {
		cfg := base
		tc.mod(&cfg)
		_, err := m.TrainableParams(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: TrainableParams error %v, want %q", cfg, err, tc.want)
		}
		err = m.Train(context.Background(), [][]int32{{1, 2, 3, 4, 5}}, cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Train error %v, want %q", cfg, err, tc.want)
		}
	}
	if m.Step() != 0 {
		t.Errorf("a failed Train left step %d", m.Step())
	}
	// Rank min(out, in) is allowed.
	cfg := base
	cfg.LoRARank = 32
	if n, err := m.TrainableParams(cfg); err != nil || n != 2*(32*(64+64)+32*(32+64)) {
		t.Errorf("rank 32: %d parameters, %v", n, err)
	}
}

// TestLoRACheckpointResume checks that LoRA training interrupted, checkpointed and resumed in a
// new Model ends with the same adapters (hence merged weights) as uninterrupted training, and that
// a new run on the trained model keeps the first run's adapters merged.
func TestLoRACheckpointResume(t *testing.T) {
	path := tinyModel(t, "f16.gguf")
	docs := resumeDocs(t, path)
	cfg := Config{LR: 5e-3, Warmup: 2, Steps: 8, Batch: 2, Context: 32, ClipNorm: 1, Seed: 7, WeightDecay: 0.1,
		LoRARank: 3, LoRAAlpha: 6, LoRATargets: []string{"blk.1.*", "output.weight"}}
	full, resumed := trainTwice(t, path, docs, cfg)
	fs, rs := full.state, resumed.state
	for i := 0; i < fs.nParams(); i++ {
		name, a := full.param(fs, i)
		_, b := resumed.param(rs, i)
		for _, pair := range [][2][]float32{
			{mustFlat(t, a), mustFlat(t, b)}, {mustFlat(t, fs.mom[i]), mustFlat(t, rs.mom[i])}, {mustFlat(t, fs.vel[i]), mustFlat(t, rs.vel[i])},
		} {
			for j := range pair[0] {
				if pair[0][j] != pair[1][j] {
					t.Fatalf("%s[%d]: uninterrupted %g, resumed %g", name, j, pair[0][j], pair[1][j])
				}
			}
		}
	}
	checkResumed(t, path, full, resumed, func(name string) bool {
		return strings.HasPrefix(name, "blk.1.") && !strings.HasSuffix(name, "norm.weight") || name == "output.weight"
	})

	// A second run (other config) starts from the merged weights of the first.
	merged, _ := full.Weight("output.weight")
	cfg2 := cfg
	cfg2.LoRATargets = []string{"blk.0.attn_q.weight"}
	cfg2.Steps, cfg2.Warmup = 1, 0
	if err := full.Train(context.Background(), docs, cfg2, nil); err != nil {
		t.Fatal(err)
	}
	if w, _ := full.Weight("output.weight"); !slices.Equal(w, merged) {
		t.Error("a new LoRA run lost the previous run's adapters")
	}
	if err := full.ResetTraining(); err != nil {
		t.Fatal(err)
	}
	if w, _ := full.Weight("output.weight"); !slices.Equal(w, merged) {
		t.Error("ResetTraining lost the adapters")
	}
}

func mustFlat(t *testing.T, x *tensors.Tensor) []float32 {
	t.Helper()
	v, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
