package modelconvert

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ollama/ollama/convert"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// hfTensor is one tensor of a Hugging Face checkpoint: its name, its PyTorch shape (outermost
// first) and its F32 data in row-major order.
type hfTensor struct {
	name  string
	shape []int
	data  []float32
}

// writeSafetensors writes tensors as an F32 .safetensors file: an 8-byte little-endian header
// length, the JSON header (name -> dtype, shape, data_offsets), then the raw data.
func writeSafetensors(t *testing.T, path string, ts []hfTensor) {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data bytes.Buffer
	for _, x := range ts {
		start := data.Len()
		if err := binary.Write(&data, binary.LittleEndian, x.data); err != nil {
			t.Fatal(err)
		}
		header[x.name] = map[string]any{"dtype": "F32", "shape": x.shape, "data_offsets": []int{start, data.Len()}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 { // the format pads the header with spaces to an 8-byte boundary
		h = append(h, ' ')
	}
	var file bytes.Buffer
	binary.Write(&file, binary.LittleEndian, uint64(len(h)))
	file.Write(h)
	file.Write(data.Bytes())
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeHFTokenizer writes tok as a Hugging Face byte-level BPE tokenizer.json and a
// tokenizer_config.json naming <s> and </s> as BOS and EOS.
func writeHFTokenizer(t *testing.T, dir string, tok *bpe.Tokenizer) {
	t.Helper()
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
			t.Fatalf("merge %q", m)
		}
		merges[i] = []string{l, r}
	}
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), map[string]any{
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
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"tokenizer_class": "PreTrainedTokenizerFast",
		"bos_token":       bpe.BOS,
		"eos_token":       bpe.EOS,
		"add_bos_token":   true,
		"add_eos_token":   false,
	})
}

// hfName maps a GGUF llama tensor name to its Hugging Face name.
func hfName(name string) string {
	r := strings.NewReplacer(
		"token_embd", "model.embed_tokens", "output_norm", "model.norm", "output.", "lm_head.", "blk.", "model.layers.",
		"attn_norm", "input_layernorm", "ffn_norm", "post_attention_layernorm",
		"attn_q", "self_attn.q_proj", "attn_k", "self_attn.k_proj", "attn_v", "self_attn.v_proj", "attn_output", "self_attn.o_proj",
		"ffn_gate", "mlp.gate_proj", "ffn_up", "mlp.up_proj", "ffn_down", "mlp.down_proj")
	return r.Replace(name)
}

// hfPermuteRows reorders the rows of a q or k projection from the GGUF order (the two halves of
// each rotary pair interleaved) to the Hugging Face order (first halves, then second halves, per
// head), as transformers' convert_llama_weights_to_hf does: GGUF row h*hd+2j+i is HF row
// h*hd+i*hd/2+j.
func hfPermuteRows(w []float32, rows, cols, heads int) []float32 {
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

// tinyLlama holds a small llama model twice: as a GGUF written directly (the reference) and as a
// Hugging Face directory with the same weights.
type tinyLlama struct {
	tok     *bpe.Tokenizer
	cfg     tinymodel.Config
	ref     string // reference GGUF
	hfDir   string
	tensors map[string][]float32 // GGUF name -> values (GGUF row order)
	hf      map[string]hfTensor  // HF name -> tensor as written
}

// makeTinyLlama draws random weights (2-D weights rounded to F16, so that the converter's F16
// output holds them exactly; 1-D norm weights near 1 in full F32) and writes both forms.
func makeTinyLlama(t *testing.T) *tinyLlama {
	t.Helper()
	cfg := tinymodel.DefaultConfig()
	cfg.WeightType = gguf.TensorF16
	tok, err := tinymodel.Train("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	nv := len(tok.Tokens)
	m := &tinyLlama{tok: tok, cfg: cfg, tensors: map[string][]float32{}, hf: map[string]hfTensor{}}

	dir := t.TempDir()
	m.ref = filepath.Join(dir, "ref.gguf")
	m.hfDir = filepath.Join(dir, "hf")
	if err := os.Mkdir(m.hfDir, 0o755); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	gw := gguf.NewWriter(&buf)
	for _, kv := range tinymodel.Metadata(tok, cfg) {
		if err := gw.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	specs := cfg.Tensors(nv)
	for _, s := range specs {
		if err := gw.AddTensor(s.Name, s.Type, s.Shape...); err != nil {
			t.Fatal(err)
		}
	}
	var hfs []hfTensor
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
			t.Fatal(err)
		}
		m.tensors[s.Name] = v
		// The PyTorch shape is the ggml shape reversed; the row-major data is the same, except for
		// the rotary row order of q and k.
		shape := make([]int, len(s.Shape))
		for i, d := range s.Shape {
			shape[len(shape)-1-i] = int(d)
		}
		data := v
		switch {
		case strings.HasSuffix(s.Name, "attn_q.weight"):
			data = hfPermuteRows(v, shape[0], shape[1], cfg.NHead)
		case strings.HasSuffix(s.Name, "attn_k.weight"):
			data = hfPermuteRows(v, shape[0], shape[1], cfg.NHeadKV)
		}
		ht := hfTensor{name: hfName(s.Name), shape: shape, data: data}
		m.hf[ht.name] = ht
		hfs = append(hfs, ht)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.ref, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	writeJSON(t, filepath.Join(m.hfDir, "config.json"), map[string]any{
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
	writeSafetensors(t, filepath.Join(m.hfDir, "model.safetensors"), hfs)
	writeHFTokenizer(t, m.hfDir, tok)
	return m
}

func TestConvertLlama(t *testing.T) {
	m := makeTinyLlama(t)
	out := filepath.Join(t.TempDir(), "converted.gguf")
	arch, warnings, err := Check(m.hfDir)
	if err != nil || arch != "LlamaForCausalLM" || len(warnings) != 0 {
		t.Fatalf("Check: %q, %v, %v", arch, warnings, err)
	}
	if err := Convert(m.hfDir, out); err != nil {
		t.Fatal(err)
	}
	inputs := Inputs(m.hfDir)
	files := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if len(inputs) != len(files) {
		t.Errorf("Inputs = %v, want %v", inputs, files)
	}
	for i := range min(len(inputs), len(files)) {
		if inputs[i] != filepath.Join(m.hfDir, files[i]) {
			t.Errorf("Inputs[%d] = %s, want %s", i, inputs[i], files[i])
		}
	}

	// The weights, read back with our GGUF reader, are the ones written to model.safetensors.
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	nv, e := len(m.tok.Tokens), m.cfg.NEmbd
	emb, err := g.ReadFloat32("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := g.Tensor("token_embd.weight")
	if !slices.Equal(ti.Shape, []uint64{uint64(e), uint64(nv)}) || ti.Type != gguf.TensorF16 {
		t.Fatalf("token_embd.weight: shape %v type %s, want [%d %d] F16", ti.Shape, ti.Type, e, nv)
	}
	hfEmb := m.hf["model.embed_tokens.weight"]
	for _, c := range [][2]int{{0, 0}, {1, 5}, {300, 63}, {nv - 1, 17}, {nv - 1, e - 1}} {
		tokID, dim := c[0], c[1]
		if got, want := emb[tokID*e+dim], hfEmb.data[tokID*e+dim]; got != want {
			t.Errorf("token_embd[token %d][%d] = %v, safetensors has %v", tokID, dim, got, want)
		}
	}
	// Every tensor: same name, shape and values as the reference (F16-exact 2-D weights, F32 norms);
	// attn_q and attn_k come back in GGUF row order after the converter's un-permutation.
	if len(g.Tensors) != len(m.tensors) {
		t.Errorf("%d tensors, want %d", len(g.Tensors), len(m.tensors))
	}
	for name, want := range m.tensors {
		got, err := g.ReadFloat32(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d values, want %d", name, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s differs from the reference (first at %d: %v, want %v)", name, i, got[i], want[i])
				break
			}
		}
	}
	if n, ok := gguf.Get[uint32](g, "llama.block_count"); !ok || int(n) != m.cfg.NLayer {
		t.Errorf("llama.block_count = %v", n)
	}

	// llama.cpp loads it and sees the configuration.
	conv, err := llamacpp.Load(llamacpp.Options{Path: out, Threads: 2, Parallel: 2, Ctx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()
	info := conv.Info()
	if info.Arch != "llama" || info.Layers != m.cfg.NLayer || info.EmbeddingDim != e || info.VocabSize != nv {
		t.Errorf("info: arch %q layers %d embd %d vocab %d; want llama %d %d %d",
			info.Arch, info.Layers, info.EmbeddingDim, info.VocabSize, m.cfg.NLayer, e, nv)
	}
	if info.ContextTrain != m.cfg.ContextLength {
		t.Errorf("trained context %d, want %d", info.ContextTrain, m.cfg.ContextLength)
	}

	// Its tokenizer is ours.
	texts := []string{"The quick brown fox jumps over the lazy dog.", "hello world", "  Numbers: 12345, 3.14!\nnew line",
		"naïve café — ünïcödé", "don't stop"}
	for _, s := range texts {
		got, err := conv.Tokenize(s, false, false)
		if err != nil {
			t.Fatal(err)
		}
		want := m.tok.Encode(s)
		if !slices.Equal(toInts(got), want) {
			t.Errorf("tokenize %q: converted model %v, bpe %v", s, got, want)
		}
		withBOS, err := conv.Tokenize(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(withBOS) == 0 || int(withBOS[0]) != m.tok.BOSID {
			t.Errorf("tokenize %q with specials: %v does not start with BOS %d", s, withBOS, m.tok.BOSID)
		}
	}

	// And it computes what the reference computes.
	ref, err := llamacpp.Load(llamacpp.Options{Path: m.ref, Threads: 2, Parallel: 2, Ctx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	reqs := []llm.ScoreRequest{
		{ID: "a", Prompt: "The quick brown fox", Completion: " jumps over the lazy dog."},
		{ID: "b", Prompt: "Once upon a time", Completion: ", there was a model converted from safetensors."},
	}
	got, err := conv.Score(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Score(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		if !slices.Equal(got[i].Tokens, want[i].Tokens) || len(got[i].Logprobs) == 0 {
			t.Fatalf("%s: tokens %v, reference %v", reqs[i].ID, got[i].Tokens, want[i].Tokens)
		}
		for j := range got[i].Logprobs {
			if d := math.Abs(got[i].Logprobs[j] - want[i].Logprobs[j]); d > 1e-4 {
				t.Errorf("%s token %d: logprob %v, reference %v", reqs[i].ID, j, got[i].Logprobs[j], want[i].Logprobs[j])
				break
			}
		}
	}
	// The weights are far from uniform, so agreement is not trivial.
	if d := math.Abs(want[0].Mean - math.Log(1/float64(nv))); d < 0.1 {
		t.Errorf("reference mean logprob %v is that of a uniform model", want[0].Mean)
	}
}

func toInts(ids []int32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

func TestConvertErrors(t *testing.T) {
	m := makeTinyLlama(t)
	copyDir := func(t *testing.T, skip ...string) string {
		dst := t.TempDir()
		ents, err := os.ReadDir(m.hfDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if slices.Contains(skip, e.Name()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(m.hfDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dst
	}

	noConfig := copyDir(t, "config.json")
	unsupported := copyDir(t)
	writeJSON(t, filepath.Join(unsupported, "config.json"), map[string]any{"architectures": []string{"FancyNewForCausalLM"}, "hidden_size": 64})
	noArch := copyDir(t)
	writeJSON(t, filepath.Join(noArch, "config.json"), map[string]any{"hidden_size": 64})
	noTokenizer := copyDir(t, "tokenizer.json")
	noWeights := copyDir(t, "model.safetensors")
	badWeights := copyDir(t)
	if err := os.WriteFile(filepath.Join(badWeights, "model.safetensors"), []byte("\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(m.hfDir, "config.json")

	for _, c := range []struct {
		name string
		dir  string
		want []string
	}{
		{"not a directory", file, []string{"not a directory"}},
		{"no such directory", filepath.Join(t.TempDir(), "missing"), []string{"no such directory"}},
		{"no config.json", noConfig, []string{"config.json"}},
		{"unsupported architecture", unsupported, []string{`unsupported architecture "FancyNewForCausalLM"`, "LlamaForCausalLM", "Qwen2ForCausalLM"}},
		{"no architecture", noArch, []string{"no architecture", "LlamaForCausalLM"}},
		{"no tokenizer", noTokenizer, []string{"no tokenizer", "tokenizer.json"}},
		{"no weights", noWeights, []string{"no weights", "safetensors"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Check(c.dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q: %v", w, err)
				}
			}
		})
	}

	t.Run("bad weights", func(t *testing.T) {
		if _, _, err := Check(badWeights); err != nil {
			t.Fatalf("Check: %v", err)
		}
		outDir := t.TempDir()
		var ie *table.InputError
		if err := Convert(badWeights, filepath.Join(outDir, "out.gguf")); !errors.As(err, &ie) || ie.Path != badWeights {
			t.Errorf("malformed weights: %v, want an InputError naming the directory", err)
		}
		if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
			t.Errorf("left files behind: %v", ents)
		}
	})
	t.Run("missing tokenizer_config.json warns", func(t *testing.T) {
		dir := copyDir(t, "tokenizer_config.json")
		_, warnings, err := Check(dir)
		if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "tokenizer_config.json") {
			t.Errorf("warnings %q, %v; want one about tokenizer_config.json", warnings, err)
		}
	})
}

// TestArchitecturesKnownToOllama checks Architectures against the converter: each
// one gets past its architecture switch (failing later, on the files this test leaves out), and an
// unknown one does not.
func TestArchitecturesKnownToOllama(t *testing.T) {
	load := func(arch string) (err error) {
		dir := t.TempDir()
		writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{arch}})
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		_, _, err = convert.LoadModelMetadata(os.DirFS(dir))
		return err
	}
	for _, arch := range Architectures {
		if err := load(arch); err != nil && strings.Contains(err.Error(), "unsupported architecture") {
			t.Errorf("%s: %v", arch, err)
		}
	}
	if err := load("FancyNewForCausalLM"); err == nil || !strings.Contains(err.Error(), "unsupported architecture") {
		t.Errorf("unknown architecture: %v", err)
	}
}
