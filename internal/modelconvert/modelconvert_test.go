package modelconvert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ollama/ollama/convert"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
	"github.com/mbd-dev/mbd/internal/table"
)

// makeTinyLlama writes a tiny Llama checkpoint and its reference GGUF (hftest.WriteLlama).
func makeTinyLlama(t *testing.T) *hftest.Llama {
	t.Helper()
	m, err := hftest.WriteLlama(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := hftest.WriteJSON(path, v); err != nil {
		t.Fatal(err)
	}
}

func TestConvertLlama(t *testing.T) {
	m := makeTinyLlama(t)
	out := filepath.Join(t.TempDir(), "converted.gguf")
	arch, warnings, err := Check(m.HFDir)
	if err != nil || arch != "LlamaForCausalLM" || len(warnings) != 0 {
		t.Fatalf("Check: %q, %v, %v", arch, warnings, err)
	}
	if err := Convert(m.HFDir, out); err != nil {
		t.Fatal(err)
	}
	inputs := Inputs(m.HFDir)
	files := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if len(inputs) != len(files) {
		t.Errorf("Inputs = %v, want %v", inputs, files)
	}
	for i := range min(len(inputs), len(files)) {
		if inputs[i] != filepath.Join(m.HFDir, files[i]) {
			t.Errorf("Inputs[%d] = %s, want %s", i, inputs[i], files[i])
		}
	}

	// The weights, read back with our GGUF reader, are the ones written to model.safetensors.
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	nv, e := len(m.Tok.Tokens), m.Cfg.NEmbd
	emb, err := g.ReadFloat32("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := g.Tensor("token_embd.weight")
	if !slices.Equal(ti.Shape, []uint64{uint64(e), uint64(nv)}) || ti.Type != gguf.TensorF16 {
		t.Fatalf("token_embd.weight: shape %v type %s, want [%d %d] F16", ti.Shape, ti.Type, e, nv)
	}
	hfEmb := m.HF["model.embed_tokens.weight"]
	for _, c := range [][2]int{{0, 0}, {1, 5}, {300, 63}, {nv - 1, 17}, {nv - 1, e - 1}} {
		tokID, dim := c[0], c[1]
		if got, want := emb[tokID*e+dim], hfEmb.Data[tokID*e+dim]; got != want {
			t.Errorf("token_embd[token %d][%d] = %v, safetensors has %v", tokID, dim, got, want)
		}
	}
	// Every tensor: same name, shape and values as the reference (F16-exact 2-D weights, F32 norms);
	// attn_q and attn_k come back in GGUF row order after the converter's un-permutation.
	if len(g.Tensors) != len(m.Tensors) {
		t.Errorf("%d tensors, want %d", len(g.Tensors), len(m.Tensors))
	}
	for name, want := range m.Tensors {
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
	if n, ok := gguf.Get[uint32](g, "llama.block_count"); !ok || int(n) != m.Cfg.NLayer {
		t.Errorf("llama.block_count = %v", n)
	}

	// llama.cpp loads it and sees the configuration.
	conv, err := llamacpp.Load(llamacpp.Options{Path: out, Threads: 2, Parallel: 2, Ctx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()
	info := conv.Info()
	if info.Arch != "llama" || info.Layers != m.Cfg.NLayer || info.EmbeddingDim != e || info.VocabSize != nv {
		t.Errorf("info: arch %q layers %d embd %d vocab %d; want llama %d %d %d",
			info.Arch, info.Layers, info.EmbeddingDim, info.VocabSize, m.Cfg.NLayer, e, nv)
	}
	if info.ContextTrain != m.Cfg.ContextLength {
		t.Errorf("trained context %d, want %d", info.ContextTrain, m.Cfg.ContextLength)
	}

	// Its tokenizer is ours.
	texts := []string{"The quick brown fox jumps over the lazy dog.", "hello world", "  Numbers: 12345, 3.14!\nnew line",
		"naïve café — ünïcödé", "don't stop"}
	for _, s := range texts {
		got, err := conv.Tokenize(s, false, false)
		if err != nil {
			t.Fatal(err)
		}
		want := m.Tok.Encode(s)
		if !slices.Equal(toInts(got), want) {
			t.Errorf("tokenize %q: converted model %v, bpe %v", s, got, want)
		}
		withBOS, err := conv.Tokenize(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(withBOS) == 0 || int(withBOS[0]) != m.Tok.BOSID {
			t.Errorf("tokenize %q with specials: %v does not start with BOS %d", s, withBOS, m.Tok.BOSID)
		}
	}

	// And it computes what the reference computes.
	ref, err := llamacpp.Load(llamacpp.Options{Path: m.Ref, Threads: 2, Parallel: 2, Ctx: 256})
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
		ents, err := os.ReadDir(m.HFDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if slices.Contains(skip, e.Name()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(m.HFDir, e.Name()))
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
	file := filepath.Join(m.HFDir, "config.json")

	for _, c := range []struct {
		name string
		dir  string
		want []string
	}{
		{"not a directory", file, []string{"not a directory"}},
		{"no such directory", filepath.Join(t.TempDir(), "missing"), []string{"no such directory"}},
		{"no config.json", noConfig, []string{"config.json"}},
		{"unsupported architecture", unsupported, []string{`unsupported architecture "FancyNewForCausalLM"`, "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"}},
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
	for from, to := range Aliases {
		if slices.Contains(Architectures, from) || !slices.Contains(Architectures, to) {
			t.Errorf("alias %s -> %s: want an architecture the converter lacks, to one it has", from, to)
		}
	}
	if err := load("FancyNewForCausalLM"); err == nil || !strings.Contains(err.Error(), "unsupported architecture") {
		t.Errorf("unknown architecture: %v", err)
	}
}

func TestNeeded(t *testing.T) {
	for name, want := range map[string]bool{
		"config.json": true, "model.safetensors": true, "model-00001-of-00002.safetensors": true,
		"tokenizer.json": true, "tokenizer.model": true, "tokenizer_config.json": true,
		"pytorch_model.bin": false, "README.md": false, "sub/model.safetensors": false, "original/consolidated.00.pth": false,
	} {
		if got := Needed(name); got != want {
			t.Errorf("Needed(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/ollama/ollama" {
			want = "ollama-" + f[1] + "."
		}
	}
	if v := Version; want == "" || !strings.HasPrefix(v, want) {
		t.Errorf("Version = %q, want %s<revision> (from go.mod)", v, want)
	}
}
