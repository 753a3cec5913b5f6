package llamacpp

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

var (
	modelOnce sync.Once
	modelDir  string
	modelTok  *bpe.Tokenizer
)

// tinyModels creates, once per test binary, a plain and a chat tiny model (random weights).
func tinyModels(t testing.TB) (plain, chat string, tok *bpe.Tokenizer) {
	t.Helper()
	modelOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mbd-llamacpp-test-*")
		if err != nil {
			t.Fatal(err)
		}
		modelDir = dir
		cfg := tinymodel.DefaultConfig()
		cfg.WeightType, _ = tinymodel.ParseWeightType("f32")
		cfg.InitStd = 0.2 // peaky enough that sampling settings matter
		if modelTok, err = tinymodel.TrainAndCreate(filepath.Join(dir, "plain.gguf"), "", cfg, 1); err != nil {
			t.Fatal(err)
		}
		cfg.Chat = true
		if _, err := tinymodel.TrainAndCreate(filepath.Join(dir, "chat.gguf"), "", cfg, 1); err != nil {
			t.Fatal(err)
		}
	})
	return filepath.Join(modelDir, "plain.gguf"), filepath.Join(modelDir, "chat.gguf"), modelTok
}

func TestMain(m *testing.M) {
	code := m.Run()
	if modelDir != "" {
		os.RemoveAll(modelDir)
	}
	os.Exit(code)
}

// loadT loads a model with one thread: ggml's worker threads spin while they wait, so two of them on
// a busy 2-core machine (go test runs packages in parallel) slow decoding down a hundredfold.
func loadT(t *testing.T, o Options) *Model {
	t.Helper()
	if o.Threads == 0 {
		o.Threads = 1
	}
	m, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestLoadErrors(t *testing.T) {
	plain, _, _ := tinyModels(t)
	dir := t.TempDir()
	good, _ := os.ReadFile(plain)
	os.WriteFile(filepath.Join(dir, "text.gguf"), []byte("not a model"), 0o644)
	os.WriteFile(filepath.Join(dir, "trunc.gguf"), good[:len(good)/3], 0o644)
	os.WriteFile(filepath.Join(dir, "empty.gguf"), nil, 0o644)
	for _, tt := range []struct{ file, want string }{
		{"missing.gguf", "no such file"},
		{"text.gguf", `not a GGUF file (starts with "not ", want "GGUF")`},
		{"empty.gguf", "not a GGUF file (too short)"},
		{"trunc.gguf", "llama.cpp cannot load the model"},
	} {
		_, err := Load(Options{Path: filepath.Join(dir, tt.file)})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.file) {
			t.Errorf("%s: error %v, want one naming the file and %q", tt.file, err, tt.want)
		}
	}
}

func TestTokenizeMatchesOurBPE(t *testing.T) {
	plain, _, tok := tinyModels(t)
	m := loadT(t, Options{Path: plain})
	for _, s := range []string{"Hello, world!", "  two  spaces\nand a newline", "café Ωmega 42 ünïcode", "", "don't stop"} {
		got, err := m.Tokenize(s, false, false)
		if err != nil {
			t.Fatal(err)
		}
		var want []int32
		for _, id := range tok.Encode(s) {
			want = append(want, int32(id))
		}
		if !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %v, our encoder gives %v", s, got, want)
		}
		if back := m.Detokenize(got, false); back != s {
			t.Errorf("Detokenize(Tokenize(%q)) = %q", s, back)
		}
	}
	withBOS, _ := m.Tokenize("hi", true, false)
	if len(withBOS) == 0 || withBOS[0] != 0 {
		t.Errorf("add_special did not add BOS: %v", withBOS)
	}
}

func genAll(t *testing.T, m *Model, reqs []llm.GenRequest, s llm.Sampling) map[string]llm.GenResult {
	t.Helper()
	out := map[string]llm.GenResult{}
	err := m.Generate(context.Background(), reqs, s, func(r llm.GenResult) error {
		if _, dup := out[r.ID]; dup {
			t.Errorf("result %s twice", r.ID)
		}
		out[r.ID] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(reqs) {
		t.Fatalf("%d results for %d requests", len(out), len(reqs))
	}
	return out
}

func scoreT(t *testing.T, m *Model, reqs []llm.ScoreRequest) []llm.ScoreResult {
	t.Helper()
	res, err := m.Score(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func requests(n int) []llm.GenRequest {
	prompts := []string{"The weather today is", "Once upon a time", "To make bread, you", "The capital of"}
	var reqs []llm.GenRequest
	for i := range n {
		reqs = append(reqs, llm.GenRequest{ID: string(rune('a' + i)), Prompt: prompts[i%len(prompts)], Seed: uint64(i / 2)})
	}
	return reqs
}

func TestGenerateBatchedSeeded(t *testing.T) {
	plain, _, _ := tinyModels(t)
	s := llm.Sampling{Temperature: 1, MaxTokens: 12}
	reqs := requests(11)

	m8 := loadT(t, Options{Path: plain, Parallel: 8, Ctx: 128})
	a := genAll(t, m8, reqs, s)
	b := genAll(t, m8, reqs, s)
	for id := range a {
		if a[id] != b[id] {
			t.Errorf("%s: same seed, different result:\n%+v\n%+v", id, a[id], b[id])
		}
		r := a[id]
		if r.CompletionTokens == 0 || r.FinishReason == "" || !r.HasLogprob || r.LogprobSum >= 0 {
			t.Errorf("%s: implausible result %+v", id, r)
		}
		if r.FinishReason == "length" && r.CompletionTokens != s.MaxTokens {
			t.Errorf("%s: finished by length after %d tokens", id, r.CompletionTokens)
		}
	}
	// Requests with the same prompt and seed give the same text; other seeds give other texts.
	if a["a"].Completion != a["e"].Completion && reqs[0].Seed == reqs[4].Seed {
		t.Error("same prompt and seed, different completions")
	}
	distinct := map[string]bool{}
	for _, r := range a {
		distinct[r.Completion] = true
	}
	if len(distinct) < 4 {
		t.Errorf("only %d distinct completions of 11", len(distinct))
	}

	// Greedy decoding does not depend on the batch.
	g := llm.Sampling{Temperature: 0, MaxTokens: 10}
	m1 := loadT(t, Options{Path: plain, Parallel: 1, Ctx: 128})
	g1, g8 := genAll(t, m1, reqs[:4], g), genAll(t, m8, reqs[:4], g)
	for id := range g1 {
		if g1[id].Completion != g8[id].Completion {
			t.Errorf("%s: greedy text differs between batch sizes 1 and 8: %q vs %q", id, g1[id].Completion, g8[id].Completion)
		}
	}
}

func TestGenerateStopAndErrors(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain, Parallel: 2, Ctx: 64})
	free := genAll(t, m, requests(1), llm.Sampling{Temperature: 0, MaxTokens: 16})["a"].Completion
	if len(free) < 2 {
		t.Skipf("greedy completion too short to test stop strings: %q", free)
	}
	stop := free[len(free)/2 : len(free)/2+1]
	got := genAll(t, m, requests(1), llm.Sampling{Temperature: 0, MaxTokens: 16, Stop: []string{stop}})["a"]
	if got.FinishReason != "stop" || got.Completion != free[:strings.Index(free, stop)] {
		t.Errorf("stop %q: got %+v from %q", stop, got, free)
	}
	if err := m.Generate(context.Background(), requests(1), llm.Sampling{MaxTokens: 1000}, func(llm.GenResult) error { return nil }); err == nil || !strings.Contains(err.Error(), "exceeds the context") {
		t.Errorf("over-long request: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Generate(ctx, requests(3), llm.Sampling{MaxTokens: 4}, func(llm.GenResult) error { return nil }); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

// TestScoreMatchesLogSoftmax checks batched teacher-forced scoring against a direct log-softmax of
// the logits of each sequence decoded alone.
func TestScoreMatchesLogSoftmax(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain, Parallel: 4, Ctx: 256, Batch: 64})
	reqs := []llm.ScoreRequest{
		{ID: "1", Prompt: "The weather today is", Completion: " sunny with a light wind from the west."},
		{ID: "2", Prompt: "Once upon a time", Completion: " there was a baker who made bread every morning before dawn, and sold it in the town square."},
		{ID: "3", Prompt: "Hi", Completion: "!"},
		{ID: "4", Prompt: "Empty completion", Completion: ""},
		{ID: "5", Prompt: "To make bread, you", Completion: " need flour, water, salt and yeast."},
	}
	res := scoreT(t, m, reqs)
	for i, r := range reqs {
		p, _ := m.Tokenize(r.Prompt, true, false)
		c, _ := m.Tokenize(r.Completion, false, false)
		logits, err := m.rawLogits(append(p, c...))
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		for j, tok := range c {
			want += logSoftmax(logits[len(p)-1+j], tok)
		}
		got := res[i]
		if got.ID != r.ID || !slices.Equal(got.Tokens, c) || len(got.Logprobs) != len(c) {
			t.Fatalf("%s: result %+v for %d completion tokens", r.ID, got, len(c))
		}
		if math.Abs(got.Sum-want) > 1e-4 {
			t.Errorf("%s: score %.6f, direct log-softmax sum %.6f", r.ID, got.Sum, want)
		}
		if len(c) > 0 && math.Abs(got.Mean-got.Sum/float64(len(c))) > 1e-12 {
			t.Errorf("%s: mean %v is not sum/n", r.ID, got.Mean)
		}
	}
}

func logSoftmax(logits []float32, tok int32) float64 {
	maxv := math.Inf(-1)
	for _, l := range logits {
		maxv = math.Max(maxv, float64(l))
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - maxv)
	}
	return float64(logits[tok]) - maxv - math.Log(sum)
}

func TestEmbed(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain, Parallel: 3, Ctx: 128})
	texts := []string{"the cat sat", "the cat sat", "a completely different sentence about bread", "x", "fifth text here"}
	vecs, err := m.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if len(v) != 64 || math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d: dim %d, squared norm %v", i, len(v), n)
		}
	}
	if !slices.Equal(vecs[0], vecs[1]) {
		t.Error("the same text embedded twice differs")
	}
	if slices.Equal(vecs[0], vecs[2]) {
		t.Error("different texts embed the same")
	}
}

func TestChatTemplateAndSystemPrompt(t *testing.T) {
	plain, chat, _ := tinyModels(t)
	m := loadT(t, Options{Path: chat, System: "Talk like a pirate."})
	got, err := m.FormatPrompt("Hi")
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nTalk like a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("chat prompt %q, want %q", got, want)
	}
	toks, _ := m.promptTokens("Hi")
	if !slices.Contains(toks, 2) { // <|im_start|> parsed as a control token
		t.Errorf("chat tokens %v lack <|im_start|>", toks)
	}
	p := loadT(t, Options{Path: plain, System: "Be brief."})
	if got, _ := p.FormatPrompt("Hi"); got != "Be brief.\n\nHi" {
		t.Errorf("plain prompt with system: %q", got)
	}
	if _, err := Load(Options{Path: plain, Chat: "on"}); err == nil || !strings.Contains(err.Error(), "no chat template") {
		t.Errorf("chat=on without a template: %v", err)
	}
	// A hidden system prompt changes what the model says.
	plainNoSys := loadT(t, Options{Path: plain})
	s := llm.Sampling{Temperature: 0, MaxTokens: 8}
	if genAll(t, p, requests(1), s)["a"].Completion == genAll(t, plainNoSys, requests(1), s)["a"].Completion {
		t.Error("the system prompt did not change the greedy completion")
	}
}

func TestQuantizeAndSave(t *testing.T) {
	plain, _, _ := tinyModels(t)
	dir := t.TempDir()
	base := loadT(t, Options{Path: plain})
	req := []llm.ScoreRequest{{ID: "1", Prompt: "The weather today is", Completion: " sunny and warm."}}
	want := scoreT(t, base, req)
	for _, typ := range []string{"F16", "Q8_0", "Q4_0"} {
		got := scoreT(t, quantizeT(t, plain, dir, typ), req)
		// Quantization moves scores a little, and the coarser the more.
		t.Logf("%s: score %.4f vs F32 %.4f", typ, got[0].Sum, want[0].Sum)
		if math.Abs(got[0].Sum-want[0].Sum) > 0.05*math.Abs(want[0].Sum)+0.5 {
			t.Errorf("%s: score %.4f far from F32's %.4f", typ, got[0].Sum, want[0].Sum)
		}
	}
	if err := Quantize(plain, filepath.Join(dir, "x.gguf"), "Q3_XYZ", 1); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("unknown type: %v", err)
	}

	saved := filepath.Join(dir, "saved.gguf")
	if err := base.Save(saved); err != nil {
		t.Fatal(err)
	}
	if got := scoreT(t, loadT(t, Options{Path: saved}), req); got[0].Sum != want[0].Sum {
		t.Errorf("saved model scores %v, original %v", got[0].Sum, want[0].Sum)
	}
}

func TestKQuants(t *testing.T) {
	dir := t.TempDir()
	cfg := tinymodel.DefaultConfig()
	cfg.NEmbd, cfg.NFF, cfg.NHead, cfg.NHeadKV = 256, 512, 4, 4
	in := filepath.Join(dir, "wide.gguf")
	if _, err := tinymodel.TrainAndCreate(in, "", cfg, 1); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"Q4_K_M", "Q5_K_M", "Q6_K"} {
		quantizeT(t, in, dir, typ)
	}
}

// quantizeT quantizes the model in to typ (a file in dir), loads the result and checks that it
// has that file type.
func quantizeT(t *testing.T, in, dir, typ string) *Model {
	t.Helper()
	out := filepath.Join(dir, typ+".gguf")
	if err := Quantize(in, out, typ, 1); err != nil {
		t.Fatal(err)
	}
	m := loadT(t, Options{Path: out})
	if ft := m.Info().FileType; ft != typ {
		t.Errorf("%s: file type %s", typ, ft)
	}
	return m
}

func TestInfo(t *testing.T) {
	_, chat, _ := tinyModels(t)
	m := loadT(t, Options{Path: chat})
	info := m.Info()
	if info.Arch != "llama" || info.VocabSize != 512 || info.Layers != 2 || info.EmbeddingDim != 64 || info.Params == 0 || info.ChatTemplate == "" || info.FileType != "F32" {
		t.Errorf("info %+v", info)
	}
}
