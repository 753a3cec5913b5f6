// Package hftest writes tiny Hugging Face checkpoints for tests: a small Llama model (tinymodel's
// default shape, random weights) as a Hugging Face folder — config.json, an F32 model.safetensors,
// a byte-level BPE tokenizer.json and tokenizer_config.json — and the same weights as a GGUF file
// written directly, the reference a converted file must match; and (WriteArch) tiny random
// checkpoints in the Hugging Face formats of Llama, Mistral, Qwen2, Phi-3 and Gemma 2 and 3, for
// parity tests against hfref's forward pass.
package hftest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// Tensor is one tensor of a Hugging Face checkpoint: its name, its PyTorch shape (outermost
// first) and its F32 data in row-major order.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// WriteSafetensors writes tensors as an F32 .safetensors file: an 8-byte little-endian header
// length, the JSON header (name -> dtype, shape, data_offsets), then the raw data.
func WriteSafetensors(path string, ts []Tensor) error {
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data bytes.Buffer
	for _, x := range ts {
		start := data.Len()
		if err := binary.Write(&data, binary.LittleEndian, x.Data); err != nil {
			return err
		}
		header[x.Name] = map[string]any{"dtype": "F32", "shape": x.Shape, "data_offsets": []int{start, data.Len()}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 { // the format pads the header with spaces to an 8-byte boundary
		h = append(h, ' ')
	}
	var file bytes.Buffer
	binary.Write(&file, binary.LittleEndian, uint64(len(h)))
	file.Write(h)
	file.Write(data.Bytes())
	return os.WriteFile(path, file.Bytes(), 0o644)
}

// WriteJSON writes v as indented JSON.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteTokenizer writes tok as a Hugging Face byte-level BPE tokenizer.json and a
// tokenizer_config.json naming <s> and </s> as BOS and EOS.
func WriteTokenizer(dir string, tok *bpe.Tokenizer) error {
	vocab := make(map[string]int, len(tok.Tokens))
	var added []map[string]any
	for id, s := range tok.Tokens {
		vocab[s] = id
		if tok.Types[id] == bpe.TokenControl {
			added = append(added, map[string]any{"id": id, "content": s, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": false, "special": true})
		}
	}
	merges := make([][]string, len(tok.Merges))
	for i, m := range tok.Merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok {
			return fmt.Errorf("merge %q", m)
		}
		merges[i] = []string{l, r}
	}
	err := WriteJSON(filepath.Join(dir, "tokenizer.json"), map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   added,
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges},
	})
	if err != nil {
		return err
	}
	return WriteJSON(filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"tokenizer_class": "PreTrainedTokenizerFast",
		"bos_token":       bpe.BOS,
		"eos_token":       bpe.EOS,
		"add_bos_token":   true,
		"add_eos_token":   false,
	})
}

// HFName maps a GGUF llama tensor name to its Hugging Face name.
func HFName(name string) string {
	r := strings.NewReplacer(
		"token_embd", "model.embed_tokens", "output_norm", "model.norm", "output.", "lm_head.", "blk.", "model.layers.",
		"attn_norm", "input_layernorm", "ffn_norm", "post_attention_layernorm",
		"attn_q", "self_attn.q_proj", "attn_k", "self_attn.k_proj", "attn_v", "self_attn.v_proj", "attn_output", "self_attn.o_proj",
		"ffn_gate", "mlp.gate_proj", "ffn_up", "mlp.up_proj", "ffn_down", "mlp.down_proj")
	return r.Replace(name)
}

// PermuteRows reorders the rows of a q or k projection from the GGUF order (the two halves of
// each rotary pair interleaved) to the Hugging Face order (first halves, then second halves, per
// head), as transformers' convert_llama_weights_to_hf does: GGUF row h*hd+2j+i is HF row
// h*hd+i*hd/2+j.
func PermuteRows(w []float32, rows, cols, heads int) []float32 {
	hd := rows / heads
	out := make([]float32, len(w))
	for h := range heads {
		for j := range hd / 2 {
			for i := range 2 {
				src, dst := h*hd+2*j+i, h*hd+i*hd/2+j
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

// Llama is a small llama model written twice: as a GGUF written directly (the reference) and as a
// Hugging Face folder with the same weights.
type Llama struct {
	Tok     *bpe.Tokenizer
	Cfg     tinymodel.Config
	Ref     string               // reference GGUF
	HFDir   string               // the Hugging Face folder
	Tensors map[string][]float32 // GGUF name -> values (GGUF row order)
	HF      map[string]Tensor    // HF name -> tensor as written
}

// WriteLlama draws random weights (2-D weights rounded to F16, so that the converter's F16 output
// holds them exactly; 1-D norm weights near 1 in full F32) and writes both forms into dir:
// dir/ref.gguf and dir/hf/.
func WriteLlama(dir string) (*Llama, error) {
	cfg := tinymodel.DefaultConfig()
	cfg.WeightType = gguf.TensorF16
	tok, err := tinymodel.Train("", cfg)
	if err != nil {
		return nil, err
	}
	nv := len(tok.Tokens)
	m := &Llama{Tok: tok, Cfg: cfg, Tensors: map[string][]float32{}, HF: map[string]Tensor{},
		Ref: filepath.Join(dir, "ref.gguf"), HFDir: filepath.Join(dir, "hf")}
	if err := os.MkdirAll(m.HFDir, 0o755); err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	gw := gguf.NewWriter(&buf)
	for _, kv := range tinymodel.Metadata(tok, cfg) {
		if err := gw.AddKV(kv.Key, kv.Value); err != nil {
			return nil, err
		}
	}
	specs := cfg.Tensors(nv)
	for _, s := range specs {
		if err := gw.AddTensor(s.Name, s.Type, s.Shape...); err != nil {
			return nil, err
		}
	}
	var hfs []Tensor
	for _, s := range specs {
		n := 1
		for _, d := range s.Shape {
			n *= int(d)
		}
		v := make([]float32, n)
		for i := range v {
			if s.Norm {
				v[i] = float32(1 + 0.2*rng.NormFloat64())
			} else {
				v[i] = gguf.Float16ToFloat32(gguf.Float32ToFloat16(float32(0.3 * rng.NormFloat64())))
			}
		}
		if err := gw.WriteFloat32(s.Name, v); err != nil {
			return nil, err
		}
		m.Tensors[s.Name] = v
		// The PyTorch shape is the ggml shape reversed; the row-major data is the same, except for
		// the rotary row order of q and k.
		shape := make([]int, len(s.Shape))
		for i, d := range s.Shape {
			shape[len(shape)-1-i] = int(d)
		}
		data := v
		switch {
		case strings.HasSuffix(s.Name, "attn_q.weight"):
			data = PermuteRows(v, shape[0], shape[1], cfg.NHead)
		case strings.HasSuffix(s.Name, "attn_k.weight"):
			data = PermuteRows(v, shape[0], shape[1], cfg.NHeadKV)
		}
		ht := Tensor{Name: HFName(s.Name), Shape: shape, Data: data}
		m.HF[ht.Name] = ht
		hfs = append(hfs, ht)
	}
	if err := gw.Close(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(m.Ref, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}

	err = WriteJSON(filepath.Join(m.HFDir, "config.json"), map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"hidden_size":             cfg.NEmbd,
		"intermediate_size":       cfg.NFF,
		"num_hidden_layers":       cfg.NLayer,
		"num_attention_heads":     cfg.NHead,
		"num_key_value_heads":     cfg.NHeadKV,
		"max_position_embeddings": cfg.ContextLength,
		"rms_norm_eps":            cfg.RMSNormEps,
		"rope_theta":              cfg.RopeFreqBase,
		"vocab_size":              nv,
		"bos_token_id":            tok.BOSID,
		"eos_token_id":            tok.EOSID,
		"hidden_act":              "silu",
		"tie_word_embeddings":     false,
		"torch_dtype":             "float32",
	})
	if err != nil {
		return nil, err
	}
	if err := WriteSafetensors(filepath.Join(m.HFDir, "model.safetensors"), hfs); err != nil {
		return nil, err
	}
	if err := WriteTokenizer(m.HFDir, tok); err != nil {
		return nil, err
	}
	return m, nil
}
