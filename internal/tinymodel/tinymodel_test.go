package tinymodel

import (
	"bytes"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/gguf"
)

func trained(t *testing.T, cfg Config) *bpe.Tokenizer {
	t.Helper()
	tok, err := Train("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func create(t *testing.T, tok *bpe.Tokenizer, cfg Config, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Create(&buf, tok, cfg, seed); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDefaultCorpus(t *testing.T) {
	c := DefaultCorpus()
	if len(c) < 30_000 || len(c) > 60_000 {
		t.Errorf("default corpus is %d bytes", len(c))
	}
	for _, want := range []string{"\n\n", "Recipe:", "Q: ", "°C", "café", "    "} {
		if !strings.Contains(c, want) {
			t.Errorf("default corpus lacks %q", want)
		}
	}
}

func TestCreateMetadataAndTensors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mod      func(*Config)
		fileType uint32
	}{
		{"default f16 chat", func(c *Config) { c.Chat = true }, 1},
		{"f32 mha", func(c *Config) { c.WeightType = gguf.TensorF32; c.NHeadKV = 0; c.NLayer = 1 }, 0},
		{"bf16 mqa", func(c *Config) { c.WeightType = gguf.TensorBF16; c.NHead, c.NHeadKV = 8, 1; c.VocabSize = 300 }, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mod(&cfg)
			tok := trained(t, cfg)
			b := create(t, tok, cfg, 42)
			f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			nv := len(tok.Tokens)
			if nv != cfg.VocabSize {
				t.Errorf("vocab %d, want %d", nv, cfg.VocabSize)
			}
			kvHeads := cfg.NHeadKV
			if kvHeads == 0 {
				kvHeads = cfg.NHead
			}
			want := map[string]any{
				"general.architecture":                   "llama",
				"general.name":                           "mbd-tiny",
				"general.file_type":                      tc.fileType,
				"llama.vocab_size":                       uint32(nv),
				"llama.context_length":                   uint32(cfg.ContextLength),
				"llama.embedding_length":                 uint32(cfg.NEmbd),
				"llama.block_count":                      uint32(cfg.NLayer),
				"llama.feed_forward_length":              uint32(cfg.NFF),
				"llama.attention.head_count":             uint32(cfg.NHead),
				"llama.attention.head_count_kv":          uint32(kvHeads),
				"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
				"llama.rope.freq_base":                   float32(10000),
				"llama.rope.dimension_count":             uint32(cfg.NEmbd / cfg.NHead),
				"tokenizer.ggml.model":                   "gpt2",
				"tokenizer.ggml.pre":                     "default",
				"tokenizer.ggml.tokens":                  tok.Tokens,
				"tokenizer.ggml.merges":                  tok.Merges,
				"tokenizer.ggml.bos_token_id":            uint32(0),
				"tokenizer.ggml.eos_token_id":            uint32(1),
				"tokenizer.ggml.add_bos_token":           true,
				"tokenizer.ggml.add_eos_token":           false,
			}
			if cfg.Chat {
				want["tokenizer.chat_template"] = ChatMLTemplate
				want["tokenizer.ggml.eot_token_id"] = uint32(3)
			}
			for k, v := range want {
				got, ok := f.Lookup(k)
				if !ok || !reflect.DeepEqual(got, v) {
					t.Errorf("%s = %#v (%T), want %#v (%T)", k, got, got, v, v)
				}
			}
			if len(f.KV) != len(want)+1 { // + token_type
				t.Errorf("%d keys, want %d", len(f.KV), len(want)+1)
			}
			types, _ := gguf.Get[[]int32](f, "tokenizer.ggml.token_type")
			if len(types) != nv || types[0] != 3 || types[1] != 3 || types[nv-1] != 1 {
				t.Errorf("token types %v…", types[:min(len(types), 5)])
			}
			if _, ok := f.Lookup("tokenizer.chat_template"); ok != cfg.Chat {
				t.Errorf("chat template present = %v", ok)
			}
			if !strings.Contains(ChatMLTemplate, "<|im_start|>") {
				t.Error("llama.cpp detects ChatML by <|im_start|>")
			}

			// the tokenizer read back from the file encodes like the original
			tokens, _ := gguf.Get[[]string](f, "tokenizer.ggml.tokens")
			merges, _ := gguf.Get[[]string](f, "tokenizer.ggml.merges")
			tt := make([]bpe.TokenType, len(types))
			for i, v := range types {
				tt[i] = bpe.TokenType(v)
			}
			back, err := bpe.New(tokens, tt, merges)
			if err != nil {
				t.Fatal(err)
			}
			text := DefaultCorpus()[:2000]
			if !slices.Equal(back.Encode(text), tok.Encode(text)) {
				t.Error("tokenizer from the file encodes differently")
			}

			e, ff := uint64(cfg.NEmbd), uint64(cfg.NFF)
			kv := e / uint64(cfg.NHead) * uint64(kvHeads)
			shapes := map[string][]uint64{
				"token_embd.weight":  {e, uint64(nv)},
				"output_norm.weight": {e},
				"output.weight":      {e, uint64(nv)},
			}
			for l := 0; l < cfg.NLayer; l++ {
				p := "blk." + string(rune('0'+l)) + "."
				shapes[p+"attn_norm.weight"] = []uint64{e}
				shapes[p+"attn_q.weight"] = []uint64{e, e}
				shapes[p+"attn_k.weight"] = []uint64{e, kv}
				shapes[p+"attn_v.weight"] = []uint64{e, kv}
				shapes[p+"attn_output.weight"] = []uint64{e, e}
				shapes[p+"ffn_norm.weight"] = []uint64{e}
				shapes[p+"ffn_gate.weight"] = []uint64{e, ff}
				shapes[p+"ffn_up.weight"] = []uint64{e, ff}
				shapes[p+"ffn_down.weight"] = []uint64{ff, e}
			}
			if len(f.Tensors) != len(shapes) {
				t.Errorf("%d tensors, want %d", len(f.Tensors), len(shapes))
			}
			var params uint64
			for _, ti := range f.Tensors {
				s, ok := shapes[ti.Name]
				if !ok || !reflect.DeepEqual(ti.Shape, s) {
					t.Errorf("tensor %s shape %v, want %v", ti.Name, ti.Shape, s)
				}
				wantType := cfg.WeightType
				if len(s) == 1 {
					wantType = gguf.TensorF32
				}
				if ti.Type != wantType {
					t.Errorf("tensor %s type %s, want %s", ti.Name, ti.Type, wantType)
				}
				params += ti.Elements()
				v, err := f.ReadFloat32(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				if len(s) == 1 {
					for _, x := range v {
						if x != 1 {
							t.Fatalf("norm %s has %v", ti.Name, x)
						}
					}
					continue
				}
				var sum, sq float64
				for _, x := range v {
					sum += float64(x)
					sq += float64(x) * float64(x)
				}
				mean := sum / float64(len(v))
				std := math.Sqrt(sq/float64(len(v)) - mean*mean)
				if math.Abs(mean) > 0.005 || math.Abs(std-cfg.InitStd) > 0.004 {
					t.Errorf("tensor %s: mean %.4f std %.4f", ti.Name, mean, std)
				}
			}
			if params != cfg.ParamCount(nv) {
				t.Errorf("params %d, ParamCount %d", params, cfg.ParamCount(nv))
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	tok := trained(t, cfg)
	a, b, c := create(t, tok, cfg, 7), create(t, tok, cfg, 7), create(t, tok, cfg, 8)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same file")
	}
	// F16 is F32 rounded: the same draws
	cfg32 := cfg
	cfg32.WeightType = gguf.TensorF32
	d := create(t, tok, cfg32, 7)
	f16, _ := gguf.NewReader(bytes.NewReader(a), int64(len(a)))
	f32, _ := gguf.NewReader(bytes.NewReader(d), int64(len(d)))
	x, _ := f16.ReadFloat32("blk.1.ffn_down.weight")
	y, _ := f32.ReadFloat32("blk.1.ffn_down.weight")
	for i := range x {
		if x[i] != gguf.Float16ToFloat32(gguf.Float32ToFloat16(y[i])) {
			t.Fatalf("element %d: f16 %v, f32 %v", i, x[i], y[i])
		}
	}
}

func TestTrainAndCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	cfg := DefaultConfig()
	cfg.Chat = true
	tok, err := TrainAndCreate(path, "A tiny corpus. A tiny corpus, again!\n", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.HasChatTokens() || len(tok.Tokens) >= cfg.VocabSize {
		t.Errorf("tokenizer: chat %v, %d tokens", tok.HasChatTokens(), len(tok.Tokens))
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, _ := gguf.Get[uint32](f, "llama.vocab_size"); int(n) != len(tok.Tokens) {
		t.Errorf("vocab_size %d, tokenizer %d", n, len(tok.Tokens))
	}
	if _, err := TrainAndCreate(filepath.Join(t.TempDir(), "x.gguf"), "", Config{}, 1); err == nil {
		t.Error("zero config accepted")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"n_embd 0":          func(c *Config) { c.NEmbd = 0 },
		"n_embd % n_head":   func(c *Config) { c.NHead = 3 },
		"odd head size":     func(c *Config) { c.NEmbd, c.NHead = 60, 4*5 },
		"n_head_kv divides": func(c *Config) { c.NHeadKV = 3 },
		"n_head_kv > n_head": func(c *Config) {
			c.NHeadKV = 8
		},
		"n_layer 0":      func(c *Config) { c.NLayer = 0 },
		"n_ff 0":         func(c *Config) { c.NFF = 0 },
		"context 0":      func(c *Config) { c.ContextLength = 0 },
		"rope base":      func(c *Config) { c.RopeFreqBase = 0 },
		"eps":            func(c *Config) { c.RMSNormEps = 0 },
		"std":            func(c *Config) { c.InitStd = -1 },
		"weight type Q8": func(c *Config) { c.WeightType = gguf.TensorQ8_0 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := DefaultConfig()
	tok := trained(t, cfg) // no chat tokens
	cfg.Chat = true
	if err := Create(&bytes.Buffer{}, tok, cfg, 1); err == nil {
		t.Error("Chat with a tokenizer without chat tokens accepted")
	}
	for _, s := range []string{"f32", "F16", "bf16"} {
		if _, err := ParseWeightType(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseWeightType("q4"); err == nil {
		t.Error("ParseWeightType(q4) accepted")
	}
}
