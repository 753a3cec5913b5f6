package hftest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// Archs are the architectures WriteArch writes, by short name.
var Archs = []string{"llama", "mistral", "qwen2", "phi3", "phi3-partial", "gemma2", "gemma3"}

// Checkpoint is a tiny random checkpoint in one architecture's Hugging Face format.
type Checkpoint struct {
	Dir     string         // config.json, model.safetensors, tokenizer.json, tokenizer_config.json
	Arch    string         // short name (Archs)
	Config  map[string]any // config.json as written
	Tok     *bpe.Tokenizer
	Tensors []Tensor // model.safetensors, in file order
}

var (
	tokOnce sync.Once
	tok     *bpe.Tokenizer
	tokErr  error
)

// tokenizer is the byte-level BPE tokenizer all checkpoints share (trained once per process).
func tokenizer() (*bpe.Tokenizer, error) {
	tokOnce.Do(func() { tok, tokErr = tinymodel.Train("", tinymodel.DefaultConfig()) })
	return tok, tokErr
}

// WriteArch writes a tiny checkpoint of architecture arch (one of Archs) into dir, with the
// config.json fields and the tensor names and shapes of the real models of that architecture:
// hidden size 64, 4 attention heads, 2 key-value heads, 2 layers (6 for gemma3, whose llama.cpp
// graph fixes one global layer in six), random weights rounded to F16 so that a converter's F16
// output holds them exactly, norm weights in F32.
//
//   - llama: LlamaForCausalLM, head_dim = hidden/heads, untied output.
//   - mistral: MistralForCausalLM with head_dim 32 ≠ hidden/heads (as Mistral Nemo), no sliding
//     window (v0.2 and later).
//   - qwen2: Qwen2ForCausalLM as Qwen2.5: q/k/v biases, rope_theta 1e6, tied embeddings.
//   - phi3: Phi3ForCausalLM as Phi-3-mini: fused qkv_proj and gate_up_proj, no rope scaling.
//   - phi3-partial: Phi3ForCausalLM as Phi-4-mini: partial_rotary_factor 0.75, tied embeddings.
//   - gemma2: Gemma2ForCausalLM: head_dim 32, pre/post attention and feed-forward norms stored as
//     w (applied as 1+w), attention and final logit soft-capping, sliding window 8 on even layers,
//     GELU-tanh, tied embeddings scaled by sqrt(hidden).
//   - gemma3: Gemma3ForCausalLM: as gemma2 plus q/k norms, no soft-capping, local layers (five in
//     six) with a window of 8 and rope base 10000, global layers with rope_theta 1e6 and linear
//     rope scaling 8 (as Gemma 3 4B).
func WriteArch(dir, arch string, seed uint64) (*Checkpoint, error) {
	tk, err := tokenizer()
	if err != nil {
		return nil, err
	}
	nv := len(tk.Tokens)
	const (
		hidden = 64
		heads  = 4
		kv     = 2
		ff     = 128
	)
	layers, hd := 2, hidden/heads
	cfg := map[string]any{
		"vocab_size":              nv,
		"hidden_size":             hidden,
		"intermediate_size":       ff,
		"num_attention_heads":     heads,
		"num_key_value_heads":     kv,
		"max_position_embeddings": 2048,
		"rms_norm_eps":            1e-6,
		"rope_theta":              10000.0,
		"bos_token_id":            tk.BOSID,
		"eos_token_id":            tk.EOSID,
		"hidden_act":              "silu",
		"tie_word_embeddings":     false,
		"torch_dtype":             "float32",
		"attention_dropout":       0.0,
	}
	var (
		qkvBias, fused, gemma, qkNorm bool
	)
	switch arch {
	case "llama":
		cfg["architectures"] = []string{"LlamaForCausalLM"}
		cfg["model_type"] = "llama"
		cfg["rms_norm_eps"] = 1e-5
	case "mistral":
		hd = 32
		cfg["architectures"] = []string{"MistralForCausalLM"}
		cfg["model_type"] = "mistral"
		cfg["head_dim"] = hd
		cfg["rope_theta"] = 1000000.0
		cfg["sliding_window"] = nil
		cfg["rms_norm_eps"] = 1e-5
	case "qwen2":
		qkvBias = true
		cfg["architectures"] = []string{"Qwen2ForCausalLM"}
		cfg["model_type"] = "qwen2"
		cfg["rope_theta"] = 1000000.0
		cfg["tie_word_embeddings"] = true
		cfg["use_sliding_window"] = false
		cfg["sliding_window"] = 32768
		cfg["max_window_layers"] = 21
	case "phi3", "phi3-partial":
		fused = true
		cfg["architectures"] = []string{"Phi3ForCausalLM"}
		cfg["model_type"] = "phi3"
		cfg["rms_norm_eps"] = 1e-5
		cfg["original_max_position_embeddings"] = 2048
		cfg["rope_scaling"] = nil
		cfg["sliding_window"] = 2047
		cfg["resid_pdrop"] = 0.0
		cfg["embd_pdrop"] = 0.0
		if arch == "phi3-partial" {
			cfg["partial_rotary_factor"] = 0.75
			cfg["tie_word_embeddings"] = true
			delete(cfg, "sliding_window")
		}
	case "gemma2":
		gemma = true
		hd = 32
		cfg["architectures"] = []string{"Gemma2ForCausalLM"}
		cfg["model_type"] = "gemma2"
		cfg["head_dim"] = hd
		cfg["query_pre_attn_scalar"] = hd
		cfg["hidden_act"] = "gelu_pytorch_tanh"
		cfg["hidden_activation"] = "gelu_pytorch_tanh"
		cfg["attn_logit_softcapping"] = 5.0
		cfg["final_logit_softcapping"] = 4.0
		cfg["sliding_window"] = 8
		cfg["tie_word_embeddings"] = true
	case "gemma3":
		gemma, qkNorm = true, true
		hd, layers = 32, 6
		types := make([]string, layers)
		for i := range types {
			types[i] = "sliding_attention"
			if (i+1)%6 == 0 {
				types[i] = "full_attention"
			}
		}
		cfg["architectures"] = []string{"Gemma3ForCausalLM"}
		cfg["model_type"] = "gemma3_text"
		cfg["head_dim"] = hd
		cfg["query_pre_attn_scalar"] = hd
		cfg["hidden_act"] = "gelu_pytorch_tanh"
		cfg["hidden_activation"] = "gelu_pytorch_tanh"
		cfg["attn_logit_softcapping"] = nil
		cfg["final_logit_softcapping"] = nil
		cfg["sliding_window"] = 8
		cfg["sliding_window_pattern"] = 6
		cfg["layer_types"] = types
		cfg["rope_theta"] = 1000000.0
		cfg["rope_local_base_freq"] = 10000.0
		cfg["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": 8.0}
		cfg["tie_word_embeddings"] = true
	default:
		return nil, fmt.Errorf("hftest: unknown architecture %q", arch)
	}
	cfg["num_hidden_layers"] = layers

	rng := rand.New(rand.NewPCG(seed, 7))
	var ts []Tensor
	add := func(name string, norm bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			switch {
			case norm && gemma: // stored as w, applied as 1+w
				v[i] = float32(0.2 * rng.NormFloat64())
			case norm:
				v[i] = float32(1 + 0.2*rng.NormFloat64())
			default:
				v[i] = gguf.Float16ToFloat32(gguf.Float32ToFloat16(float32(0.2 * rng.NormFloat64())))
			}
		}
		ts = append(ts, Tensor{Name: name, Shape: shape, Data: v})
	}
	add("model.embed_tokens.weight", false, nv, hidden)
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", true, hidden)
		if fused {
			add(p+"self_attn.qkv_proj.weight", false, (heads+2*kv)*hd, hidden)
		} else {
			add(p+"self_attn.q_proj.weight", false, heads*hd, hidden)
			add(p+"self_attn.k_proj.weight", false, kv*hd, hidden)
			add(p+"self_attn.v_proj.weight", false, kv*hd, hidden)
		}
		if qkvBias {
			// Biases are 1-D: the converter keeps them in F32.
			add(p+"self_attn.q_proj.bias", false, heads*hd)
			add(p+"self_attn.k_proj.bias", false, kv*hd)
			add(p+"self_attn.v_proj.bias", false, kv*hd)
		}
		if qkNorm {
			add(p+"self_attn.q_norm.weight", true, hd)
			add(p+"self_attn.k_norm.weight", true, hd)
		}
		add(p+"self_attn.o_proj.weight", false, hidden, heads*hd)
		add(p+"post_attention_layernorm.weight", true, hidden)
		if gemma {
			add(p+"pre_feedforward_layernorm.weight", true, hidden)
			add(p+"post_feedforward_layernorm.weight", true, hidden)
		}
		if fused {
			add(p+"mlp.gate_up_proj.weight", false, 2*ff, hidden)
		} else {
			add(p+"mlp.gate_proj.weight", false, ff, hidden)
			add(p+"mlp.up_proj.weight", false, ff, hidden)
		}
		add(p+"mlp.down_proj.weight", false, hidden, ff)
	}
	add("model.norm.weight", true, hidden)
	if cfg["tie_word_embeddings"] == false {
		add("lm_head.weight", false, nv, hidden)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := WriteJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return nil, err
	}
	if err := WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts); err != nil {
		return nil, err
	}
	if err := WriteTokenizer(dir, tk); err != nil {
		return nil, err
	}
	return &Checkpoint{Dir: dir, Arch: arch, Config: cfg, Tok: tk, Tensors: ts}, nil
}

// ToF32 copies the GGUF file in to out with every F16 and BF16 tensor widened to F32, so that
// llama.cpp computes in F32 what a converter wrote in F16.
func ToF32(in, out string) error {
	g, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer g.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := gguf.NewWriter(f)
	for _, kv := range g.KV {
		v := kv.Value
		if kv.Key == "general.file_type" {
			v = uint32(0) // all F32
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			return err
		}
	}
	widen := func(t gguf.TensorType) bool { return t == gguf.TensorF16 || t == gguf.TensorBF16 }
	for _, t := range g.Tensors {
		typ := t.Type
		if widen(typ) {
			typ = gguf.TensorF32
		}
		if err := w.AddTensor(t.Name, typ, t.Shape...); err != nil {
			return err
		}
	}
	for _, t := range g.Tensors {
		if t.Elements() == 0 {
			continue
		}
		if err := copyTensor(w, g, t, widen(t.Type)); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

func copyTensor(w *gguf.Writer, g *gguf.File, t gguf.TensorInfo, widen bool) error {
	if widen {
		v, err := g.ReadFloat32(t.Name)
		if err != nil {
			return err
		}
		return w.WriteFloat32(t.Name, v)
	}
	b, err := g.ReadRaw(t.Name)
	if err != nil {
		return err
	}
	return w.WriteRaw(t.Name, b)
}
