package modelconvert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mbd-dev/mbd/internal/gguf"
)

// Aliases are architectures the converter does not know that convert as another one: transformers'
// MistralForCausalLM is LlamaForCausalLM with an optional sliding window (Mistral 7B v0.1's 4096
// tokens; none from v0.2 on), which llama.cpp's llama graph does not apply.
var Aliases = map[string]string{
	"MistralForCausalLM": "LlamaForCausalLM",
}

// fixes are mbd's corrections to what the converter writes, found by TestParity (llama.cpp on the
// converted file against hfref's forward pass over the checkpoint):
//
//   - an alias architecture: config.json is handed to the converter with the target name;
//   - llama with head_dim ≠ hidden_size/num_attention_heads (Mistral Nemo): the converter writes
//     rope.dimension_count = hidden/heads, which llama.cpp refuses ("invalid n_rot"); transformers
//     rotates the whole head, so it is head_dim;
//   - phi3 with partial_rotary_factor (Phi-4-mini): transformers rotates head_dim·factor
//     dimensions; the converter writes head_dim;
//   - phi3 without rope_scaling (Phi-3-mini-4k): the converter writes empty rope_factors_long and
//     rope_factors_short tensors, which llama.cpp refuses (it wants n_rot/2 factors or none);
//   - gemma3 with a "linear" rope_scaling (Gemma 3 4B, 12B, 27B): the converter drops it (it knows
//     yarn only); llama.cpp reads rope.scaling.type and rope.scaling.factor and applies them to the
//     global layers, as transformers does.
type fixes struct {
	arch   string         // the architecture handed to the converter
	config []byte         // config.json as handed to the converter when arch is an alias
	kv     map[string]any // metadata to set after conversion
	drop   []string       // tensors to drop when they have no elements
}

func (x *fixes) rewrites() bool { return len(x.kv) > 0 || len(x.drop) > 0 }

// skipFix leaves out the named fix, for the test that shows each one is needed.
var skipFix = func(name string) bool { return false }

// planFixes reads dir/config.json and decides the fixes.
func planFixes(dir string) (*fixes, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config.json: %v", err)
	}
	var cfg struct {
		Architectures       []string `json:"architectures"`
		HiddenSize          int      `json:"hidden_size"`
		NumAttentionHeads   int      `json:"num_attention_heads"`
		HeadDim             int      `json:"head_dim"`
		PartialRotaryFactor float64  `json:"partial_rotary_factor"`
		RopeScaling         *struct {
			Type     string  `json:"type"`
			RopeType string  `json:"rope_type"`
			Factor   float64 `json:"factor"`
		} `json:"rope_scaling"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("config.json: %v", err)
	}
	x := &fixes{kv: map[string]any{}}
	if len(cfg.Architectures) > 0 {
		x.arch = cfg.Architectures[0]
	}
	if to, ok := Aliases[x.arch]; ok && !skipFix("alias") {
		x.arch = to
		raw["architectures"] = []string{to}
		if x.config, err = json.Marshal(raw); err != nil {
			return nil, err
		}
	}
	headDim := 0
	if cfg.NumAttentionHeads > 0 {
		headDim = cfg.HiddenSize / cfg.NumAttentionHeads
	}
	switch x.arch {
	case "LlamaForCausalLM":
		if cfg.HeadDim > 0 && cfg.HeadDim != headDim && !skipFix("head_dim") {
			x.kv["llama.rope.dimension_count"] = uint32(cfg.HeadDim)
		}
	case "Phi3ForCausalLM":
		if f := cfg.PartialRotaryFactor; f > 0 && f < 1 && !skipFix("partial_rotary") {
			x.kv["phi3.rope.dimension_count"] = uint32(float64(headDim) * f)
		}
		if (cfg.RopeScaling == nil || cfg.RopeScaling.Type == "") && !skipFix("rope_factors") {
			x.drop = []string{"rope_factors_long.weight", "rope_factors_short.weight"}
		}
	case "Gemma3ForCausalLM":
		if s := cfg.RopeScaling; s != nil && (s.RopeType == "linear" || s.Type == "linear") && s.Factor > 0 && !skipFix("linear_rope") {
			x.kv["gemma3.rope.scaling.type"] = "linear"
			x.kv["gemma3.rope.scaling.factor"] = float32(s.Factor)
		}
	}
	return x, nil
}

// fsys is the directory as the converter sees it: config.json replaced when the architecture is
// an alias.
func (x *fixes) fsys(dir string) fs.FS {
	base := os.DirFS(dir)
	if x.config == nil {
		return base
	}
	return overlayFS{base: base, name: "config.json", data: x.config}
}

// overlayFS is base with one file's content replaced.
type overlayFS struct {
	base fs.FS
	name string
	data []byte
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if name != o.name {
		return o.base.Open(name)
	}
	return &memFile{Reader: bytes.NewReader(o.data), name: name, size: int64(len(o.data))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return 0o444 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }

// rewrite copies the GGUF file src to dst with x's metadata set (replaced in place, or added at
// the end) and its empty tensors to drop left out.
func (x *fixes) rewrite(src *os.File, dst io.Writer) error {
	st, err := src.Stat()
	if err != nil {
		return err
	}
	g, err := gguf.NewReader(src, st.Size())
	if err != nil {
		return fmt.Errorf("reading the converted file: %v", err)
	}
	w := gguf.NewWriter(dst)
	seen := map[string]bool{}
	for _, kv := range g.KV {
		v := kv.Value
		if nv, ok := x.kv[kv.Key]; ok {
			v, seen[kv.Key] = nv, true
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(x.kv)) {
		if !seen[k] {
			if err := w.AddKV(k, x.kv[k]); err != nil {
				return err
			}
		}
	}
	var keep []gguf.TensorInfo
	for _, t := range g.Tensors {
		if t.Elements() == 0 && slices.Contains(x.drop, t.Name) {
			continue
		}
		if err := w.AddTensor(t.Name, t.Type, t.Shape...); err != nil {
			return err
		}
		keep = append(keep, t)
	}
	buf := make([]byte, 1<<20)
	for _, t := range keep {
		r, err := g.TensorData(t.Name)
		if err != nil {
			return err
		}
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if werr := w.WriteRaw(t.Name, buf[:n]); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return err
			}
		}
	}
	return w.Close()
}

// configWarnings names what llama.cpp will compute differently from transformers for a
// configuration that converts: settings its graphs fix rather than read. The real checkpoints have
// the values it fixes.
func configWarnings(arch string, b []byte) []string {
	var cfg struct {
		HiddenSize           int      `json:"hidden_size"`
		NumHiddenLayers      int      `json:"num_hidden_layers"`
		NumAttentionHeads    int      `json:"num_attention_heads"`
		HeadDim              int      `json:"head_dim"`
		SlidingWindow        *int     `json:"sliding_window"`
		QueryPreAttnScalar   float64  `json:"query_pre_attn_scalar"`
		SlidingWindowPattern int      `json:"sliding_window_pattern"`
		LayerTypes           []string `json:"layer_types"`
		RopeLocalBaseFreq    float64  `json:"rope_local_base_freq"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return nil
	}
	var w []string
	switch arch {
	case "MistralForCausalLM":
		if sw := cfg.SlidingWindow; sw != nil && *sw > 0 {
			w = append(w, fmt.Sprintf("sliding_window %d is not applied (llama.cpp runs Mistral as Llama): sequences past %d tokens differ", *sw, *sw))
		}
	case "Gemma2ForCausalLM", "Gemma3ForCausalLM":
		// llama.cpp scales queries by 1/sqrt(hidden/heads) for the 27B models (46 layers for
		// Gemma 2, 62 for Gemma 3), else by 1/sqrt(head_dim); it reads no query_pre_attn_scalar.
		// Local layers: every other one from the first (Gemma 2), five in six (Gemma 3).
		big, period := 46, 2
		if arch == "Gemma3ForCausalLM" {
			big, period = 62, 6
		}
		if cfg.NumAttentionHeads > 0 && cfg.QueryPreAttnScalar > 0 {
			scalar := cfg.HeadDim
			if cfg.NumHiddenLayers == big {
				scalar = cfg.HiddenSize / cfg.NumAttentionHeads
			}
			if scalar > 0 && float64(scalar) != cfg.QueryPreAttnScalar {
				w = append(w, fmt.Sprintf("query_pre_attn_scalar %v: llama.cpp scales queries by 1/sqrt(%d) here", cfg.QueryPreAttnScalar, scalar))
			}
		}
		for i, t := range cfg.LayerTypes {
			if local := i%period < period-1; local != (t == "sliding_attention") {
				w = append(w, fmt.Sprintf("layer_types: llama.cpp makes layer %d %s", i, map[bool]string{true: "sliding", false: "global"}[local]))
				break
			}
		}
		if p := cfg.SlidingWindowPattern; arch == "Gemma3ForCausalLM" && len(cfg.LayerTypes) == 0 && p > 0 && p != period {
			w = append(w, fmt.Sprintf("sliding_window_pattern %d: llama.cpp uses %d", p, period))
		}
		if f := cfg.RopeLocalBaseFreq; arch == "Gemma3ForCausalLM" && f > 0 && f != 10000 {
			w = append(w, fmt.Sprintf("rope_local_base_freq %v: llama.cpp uses 10000", f))
		}
	}
	return w
}
