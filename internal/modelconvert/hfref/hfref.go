// Package hfref is a plain-Go float64 forward pass of Hugging Face decoder checkpoints, written
// from the transformers modeling code of each architecture, for tests that check a converted model
// against the checkpoint it came from. It reads config.json and model.safetensors (F32, F16 or
// BF16) from a model directory and computes, for a token sequence, the logits at every position.
//
// One decoder block covers the families it knows:
//
//   - llama, mistral, qwen2 (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM):
//     h += o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))) with n = RMSNorm(h)·w, then
//     h += down_proj(silu(gate_proj(n)) * up_proj(n)) with n = RMSNorm(h)·w'. Qwen2's q/k/v
//     projections have biases; Mistral and Qwen2 may restrict attention to a sliding window.
//   - phi3 (Phi3ForCausalLM): the same with q, k and v split from one qkv_proj and gate and up
//     split from one gate_up_proj (gate first); partial_rotary_factor rotates only the first
//     dimensions of each head.
//   - gemma2, gemma3 (Gemma2ForCausalLM, Gemma3ForCausalLM): embeddings times sqrt(hidden), every
//     RMSNorm scales by 1+w, a norm after attention and around the feed-forward
//     (post_attention_layernorm, pre_ and post_feedforward_layernorm), GELU (tanh approximation),
//     scores scaled by query_pre_attn_scalar^-1/2; Gemma 2 soft-caps attention scores and final
//     logits (c·tanh(x/c)) and slides a window on even layers; Gemma 3 normalizes q and k per head
//     (q_norm, k_norm) and uses rope_local_base_freq without scaling on its sliding layers.
//
// RoPE is the transformers form (rotate_half: dimension i pairs with i+d/2 within the rotated
// part) with inverse frequencies base^(-2i/d), divided by the factor of a "linear" rope_scaling.
// Attention is causal with grouped key-value heads; a sliding window of w lets position i see
// positions j with i-j < w. Output weights are lm_head, or the embeddings when tied.
package hfref

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/gguf"
)

// Config holds the config.json fields the forward pass reads.
type Config struct {
	ModelType           string   `json:"model_type"`
	Architectures       []string `json:"architectures"`
	VocabSize           int      `json:"vocab_size"`
	HiddenSize          int      `json:"hidden_size"`
	IntermediateSize    int      `json:"intermediate_size"`
	NumHiddenLayers     int      `json:"num_hidden_layers"`
	NumAttentionHeads   int      `json:"num_attention_heads"`
	NumKeyValueHeads    int      `json:"num_key_value_heads"`
	HeadDim             int      `json:"head_dim"`
	RMSNormEps          float64  `json:"rms_norm_eps"`
	RopeTheta           float64  `json:"rope_theta"`
	RopeLocalBaseFreq   float64  `json:"rope_local_base_freq"`
	PartialRotaryFactor float64  `json:"partial_rotary_factor"`
	RopeScaling         *struct {
		RopeType string  `json:"rope_type"`
		Type     string  `json:"type"`
		Factor   float64 `json:"factor"`
	} `json:"rope_scaling"`
	TieWordEmbeddings     bool     `json:"tie_word_embeddings"`
	HiddenAct             string   `json:"hidden_act"`
	HiddenActivation      string   `json:"hidden_activation"`
	QueryPreAttnScalar    float64  `json:"query_pre_attn_scalar"`
	AttnLogitSoftcapping  float64  `json:"attn_logit_softcapping"`
	FinalLogitSoftcapping float64  `json:"final_logit_softcapping"`
	SlidingWindow         int      `json:"sliding_window"`
	UseSlidingWindow      *bool    `json:"use_sliding_window"`
	MaxWindowLayers       int      `json:"max_window_layers"`
	SlidingWindowPattern  int      `json:"sliding_window_pattern"`
	LayerTypes            []string `json:"layer_types"`
}

// Model is a checkpoint loaded for the forward pass.
type Model struct {
	Cfg     Config
	family  string // llama, phi3, gemma2 or gemma3
	hd      int    // head dimension
	rotDim  int    // rotated dimensions of each head
	weights map[string][]float64

	// GELUF16 rounds GELU's input and output to float16, as ggml's CPU GELU (a float16 table)
	// does; it separates that rounding from a converter's errors.
	GELUF16 bool
}

func f16(x float64) float64 { return float64(gguf.Float16ToFloat32(gguf.Float32ToFloat16(float32(x)))) }

// Load reads dir/config.json and dir/model.safetensors.
func Load(dir string) (*Model, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	m := &Model{}
	if err := json.Unmarshal(b, &m.Cfg); err != nil {
		return nil, fmt.Errorf("%s: config.json: %v", dir, err)
	}
	if err := m.derive(); err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	m.weights, err = readSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// derive sets the family, head and rotary dimensions and defaults from Cfg.
func (m *Model) derive() error {
	c := &m.Cfg
	switch c.ModelType {
	case "llama", "mistral", "qwen2":
		m.family = "llama"
	case "phi3":
		m.family = "phi3"
	case "gemma2":
		m.family = "gemma2"
	case "gemma3", "gemma3_text":
		m.family = "gemma3"
	default:
		return fmt.Errorf("model_type %q: not known to hfref", c.ModelType)
	}
	if c.NumAttentionHeads <= 0 || c.HiddenSize <= 0 {
		return fmt.Errorf("hidden_size %d, num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	m.hd = c.HeadDim
	if m.hd == 0 {
		m.hd = c.HiddenSize / c.NumAttentionHeads
	}
	m.rotDim = m.hd
	if c.PartialRotaryFactor > 0 {
		m.rotDim = int(float64(m.hd) * c.PartialRotaryFactor)
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	return nil
}

// readSafetensors reads every tensor of a .safetensors file as float64, row-major.
func readSafetensors(path string) (map[string][]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: header length %d", path, n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	data := b[8+n:]
	out := map[string][]float64{}
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var t struct {
			Dtype   string   `json:"dtype"`
			Offsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || len(t.Offsets) != 2 || t.Offsets[0] > t.Offsets[1] || t.Offsets[1] > uint64(len(data)) {
			return nil, fmt.Errorf("%s: tensor %s: bad header", path, name)
		}
		src := data[t.Offsets[0]:t.Offsets[1]]
		var v []float64
		switch t.Dtype {
		case "F32":
			for i := 0; i+4 <= len(src); i += 4 {
				v = append(v, float64(math.Float32frombits(binary.LittleEndian.Uint32(src[i:]))))
			}
		case "F16":
			for i := 0; i+2 <= len(src); i += 2 {
				v = append(v, float64(gguf.Float16ToFloat32(binary.LittleEndian.Uint16(src[i:]))))
			}
		case "BF16":
			for i := 0; i+2 <= len(src); i += 2 {
				v = append(v, float64(gguf.BFloat16ToFloat32(binary.LittleEndian.Uint16(src[i:]))))
			}
		default:
			return nil, fmt.Errorf("%s: tensor %s: dtype %s", path, name, t.Dtype)
		}
		out[name] = v
	}
	return out, nil
}

func (m *Model) w(name string) []float64 {
	v, ok := m.weights[name]
	if !ok {
		panic("hfref: no tensor " + name)
	}
	return v
}

// linear returns W·x (+ b), W row-major [out][len(x)].
func linear(w, b, x []float64) []float64 {
	n := len(x)
	out := make([]float64, len(w)/n)
	for i := range out {
		var s float64
		for j, xv := range x {
			s += w[i*n+j] * xv
		}
		if b != nil {
			s += b[i]
		}
		out[i] = s
	}
	return out
}

// rmsNorm is x/sqrt(mean(x²)+eps)·w, or ·(1+w) for Gemma.
func (m *Model) rmsNorm(x, w []float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+m.Cfg.RMSNormEps)
	out := make([]float64, len(x))
	for i, v := range x {
		s := w[i]
		if m.family == "gemma2" || m.family == "gemma3" {
			s = 1 + w[i]
		}
		out[i] = v * r * s
	}
	return out
}

func silu(x float64) float64 { return x / (1 + math.Exp(-x)) }

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func softcap(x, c float64) float64 { return c * math.Tanh(x/c) }

// sliding reports whether layer l attends within a sliding window.
func (m *Model) sliding(l int) bool {
	c := m.Cfg
	if c.SlidingWindow <= 0 {
		return false
	}
	if len(c.LayerTypes) > l {
		return c.LayerTypes[l] == "sliding_attention"
	}
	switch c.ModelType {
	case "mistral":
		return true
	case "qwen2":
		return c.UseSlidingWindow != nil && *c.UseSlidingWindow && l >= c.MaxWindowLayers
	case "gemma2":
		return (l+1)%2 != 0
	case "gemma3", "gemma3_text":
		p := c.SlidingWindowPattern
		if p == 0 {
			p = 6
		}
		return (l+1)%p != 0
	}
	return false // phi3: transformers' Phi3 uses sliding_window only with flash attention kernels
}

// rope rotates x (one head, position pos) in place, transformers' rotate_half form over the first
// m.rotDim dimensions.
func (m *Model) rope(x []float64, pos int, base, scale float64) {
	d := m.rotDim
	half := d / 2
	for i := range half {
		invFreq := math.Pow(base, -float64(2*i)/float64(d)) / scale
		a := float64(pos) * invFreq
		cos, sin := math.Cos(a), math.Sin(a)
		x1, x2 := x[i], x[i+half]
		x[i] = x1*cos - x2*sin
		x[i+half] = x2*cos + x1*sin
	}
}

// Logits runs the tokens as one sequence from position 0 and returns the logits at every
// position. Changes to Cfg since Load apply.
func (m *Model) Logits(tokens []int) [][]float64 {
	if err := m.derive(); err != nil {
		panic("hfref: " + err.Error())
	}
	c := m.Cfg
	H, nh, nkv, hd := c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, m.hd
	gemma := m.family == "gemma2" || m.family == "gemma3"
	T := len(tokens)
	emb := m.w("model.embed_tokens.weight")
	h := make([][]float64, T)
	for t, tok := range tokens {
		h[t] = slices.Clone(emb[tok*H : (tok+1)*H])
		if gemma {
			s := math.Sqrt(float64(H))
			for i := range h[t] {
				h[t][i] *= s
			}
		}
	}
	act := silu
	if a := c.HiddenActivation + c.HiddenAct; strings.Contains(a, "gelu") {
		act = geluTanh
		if m.GELUF16 {
			act = func(x float64) float64 {
				if x <= -10 || x >= 10 {
					return geluTanh(x)
				}
				return f16(geluTanh(f16(x)))
			}
		}
	}
	scaling := 1 / math.Sqrt(float64(hd))
	if gemma && c.QueryPreAttnScalar > 0 {
		scaling = 1 / math.Sqrt(c.QueryPreAttnScalar)
	}
	for l := range c.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		base, scale := c.RopeTheta, 1.0
		if c.RopeScaling != nil && (c.RopeScaling.RopeType == "linear" || c.RopeScaling.Type == "linear") {
			scale = c.RopeScaling.Factor
		}
		window := 0
		if m.sliding(l) {
			window = c.SlidingWindow
			if m.family == "gemma3" {
				base, scale = c.RopeLocalBaseFreq, 1
				if base == 0 {
					base = 10000
				}
			}
		}
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range T {
			n := m.rmsNorm(h[t], m.w(p+"input_layernorm.weight"))
			var q, k, v []float64
			if m.family == "phi3" {
				qkv := linear(m.w(p+"self_attn.qkv_proj.weight"), nil, n)
				q, k, v = qkv[:nh*hd], qkv[nh*hd:(nh+nkv)*hd], qkv[(nh+nkv)*hd:]
			} else {
				q = linear(m.w(p+"self_attn.q_proj.weight"), m.weights[p+"self_attn.q_proj.bias"], n)
				k = linear(m.w(p+"self_attn.k_proj.weight"), m.weights[p+"self_attn.k_proj.bias"], n)
				v = linear(m.w(p+"self_attn.v_proj.weight"), m.weights[p+"self_attn.v_proj.bias"], n)
			}
			for i := range nh {
				qh := q[i*hd : (i+1)*hd]
				if m.family == "gemma3" {
					copy(qh, m.rmsNorm(qh, m.w(p+"self_attn.q_norm.weight")))
				}
				m.rope(qh, t, base, scale)
			}
			for i := range nkv {
				kh := k[i*hd : (i+1)*hd]
				if m.family == "gemma3" {
					copy(kh, m.rmsNorm(kh, m.w(p+"self_attn.k_norm.weight")))
				}
				m.rope(kh, t, base, scale)
			}
			qs[t], ks[t], vs[t] = q, k, v
		}
		for t := range T {
			attn := make([]float64, nh*hd)
			for i := range nh {
				kvh := i / (nh / nkv)
				q := qs[t][i*hd : (i+1)*hd]
				lo := 0
				if window > 0 {
					lo = max(0, t-window+1)
				}
				scores := make([]float64, t+1-lo)
				mx := math.Inf(-1)
				for j := lo; j <= t; j++ {
					k := ks[j][kvh*hd : (kvh+1)*hd]
					var s float64
					for d := range hd {
						s += q[d] * k[d]
					}
					s *= scaling
					if c.AttnLogitSoftcapping > 0 && m.family == "gemma2" {
						s = softcap(s, c.AttnLogitSoftcapping)
					}
					scores[j-lo] = s
					mx = max(mx, s)
				}
				var sum float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - mx)
					sum += scores[j]
				}
				out := attn[i*hd : (i+1)*hd]
				for j := lo; j <= t; j++ {
					pj := scores[j-lo] / sum
					v := vs[j][kvh*hd : (kvh+1)*hd]
					for d := range hd {
						out[d] += pj * v[d]
					}
				}
			}
			o := linear(m.w(p+"self_attn.o_proj.weight"), nil, attn)
			if gemma {
				o = m.rmsNorm(o, m.w(p+"post_attention_layernorm.weight"))
			}
			for i := range o {
				h[t][i] += o[i]
			}
			var n []float64
			if gemma {
				n = m.rmsNorm(h[t], m.w(p+"pre_feedforward_layernorm.weight"))
			} else {
				n = m.rmsNorm(h[t], m.w(p+"post_attention_layernorm.weight"))
			}
			var gate, up []float64
			if m.family == "phi3" {
				gu := linear(m.w(p+"mlp.gate_up_proj.weight"), nil, n)
				gate, up = gu[:len(gu)/2], gu[len(gu)/2:]
			} else {
				gate = linear(m.w(p+"mlp.gate_proj.weight"), nil, n)
				up = linear(m.w(p+"mlp.up_proj.weight"), nil, n)
			}
			for i := range gate {
				gate[i] = act(gate[i]) * up[i]
			}
			f := linear(m.w(p+"mlp.down_proj.weight"), nil, gate)
			if gemma {
				f = m.rmsNorm(f, m.w(p+"post_feedforward_layernorm.weight"))
			}
			for i := range f {
				h[t][i] += f[i]
			}
		}
	}
	out := m.w("model.embed_tokens.weight")
	if lm, ok := m.weights["lm_head.weight"]; ok && !c.TieWordEmbeddings {
		out = lm
	}
	logits := make([][]float64, T)
	for t := range T {
		logits[t] = linear(out, nil, m.rmsNorm(h[t], m.w("model.norm.weight")))
		if c.FinalLogitSoftcapping > 0 {
			for i := range logits[t] {
				logits[t][i] = softcap(logits[t][i], c.FinalLogitSoftcapping)
			}
		}
	}
	return logits
}

// LogProbs returns log p(tokens[t] | tokens[:t]) for t = from, ..., len(tokens)-1 (from ≥ 1).
func (m *Model) LogProbs(tokens []int, from int) []float64 {
	logits := m.Logits(tokens)
	var out []float64
	for t := max(from, 1); t < len(tokens); t++ {
		out = append(out, LogSoftmax(logits[t-1])[tokens[t]])
	}
	return out
}

// LogSoftmax returns x - log Σ exp(x).
func LogSoftmax(x []float64) []float64 {
	mx := slices.Max(x)
	var s float64
	for _, v := range x {
		s += math.Exp(v - mx)
	}
	lse := mx + math.Log(s)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v - lse
	}
	return out
}
