package backends

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat/vllmtest"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

func tinyModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	cfg := tinymodel.DefaultConfig()
	cfg.InitStd = 0.2
	if _, err := tinymodel.TrainAndCreate(path, "", cfg, 7); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRemoteEqualsLocal serves a real in-process model over vLLM's wire format and checks that the
// OpenAI-compatible client gets the same scores, texts and embeddings as the model gives locally.
func TestRemoteEqualsLocal(t *testing.T) {
	local, err := llamacpp.Load(llamacpp.Options{Path: tinyModel(t), Parallel: 4, Ctx: 256, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	srv := vllmtest.NewServer(local, vllmtest.WithTokenizer(vllmtest.TokenizerFuncs{
		TokenizeFunc:   func(text string, addSpecial bool) ([]int32, error) { return local.Tokenize(text, addSpecial, false) },
		DetokenizeFunc: func(ids []int32) (string, error) { return local.Detokenize(ids, false), nil },
	}))
	defer srv.Close()
	remote, err := openaicompat.New(openaicompat.Config{BaseURL: srv.BaseURL(), Model: srv.ModelName(), APIKeyEnv: "MBD_TEST_NO_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	ctx := context.Background()

	reqs := []llm.ScoreRequest{
		{ID: "1", Prompt: "The weather today is", Completion: " sunny with a light wind."},
		{ID: "2", Prompt: "Once upon a time", Completion: " there was a baker."},
		{ID: "3", Prompt: "Numbers:", Completion: " 1, 2, 3, café"},
	}
	want, got := onBoth(t, local, remote, func(m llm.Model) ([]llm.ScoreResult, error) { return m.Score(ctx, reqs) })
	for i := range reqs {
		if len(got[i].Logprobs) != len(want[i].Logprobs) {
			t.Fatalf("%s: %d remote log-probs, %d local", reqs[i].ID, len(got[i].Logprobs), len(want[i].Logprobs))
		}
		for j := range want[i].Logprobs {
			if math.Abs(got[i].Logprobs[j]-want[i].Logprobs[j]) > 1e-9 {
				t.Errorf("%s token %d: remote %v, local %v", reqs[i].ID, j, got[i].Logprobs[j], want[i].Logprobs[j])
			}
		}
	}

	gen := []llm.GenRequest{{ID: "a", Prompt: "Once upon a time", Seed: 3}, {ID: "b", Prompt: "The weather", Seed: 4}}
	s := llm.Sampling{Temperature: 0.7, MaxTokens: 8}
	lg, rg := onBoth(t, local, remote, func(m llm.Model) (map[string]string, error) {
		out := map[string]string{}
		err := m.Generate(ctx, gen, s, func(r llm.GenResult) error { out[r.ID] = r.Completion; return nil })
		return out, err
	})
	for id := range lg {
		if lg[id] != rg[id] {
			t.Errorf("%s: remote text %q, local %q", id, rg[id], lg[id])
		}
	}

	texts := []string{"the cat sat", "bread and butter"}
	le, re := onBoth(t, local, remote, func(m llm.Model) ([][]float32, error) { return m.Embed(ctx, texts) })
	for i := range texts {
		for j := range le[i] {
			if math.Abs(float64(le[i][j]-re[i][j])) > 1e-6 {
				t.Fatalf("embedding %d differs at %d: %v vs %v", i, j, re[i][j], le[i][j])
			}
		}
	}
}

// onBoth calls f on the local and then on the remote model and returns both results.
func onBoth[T any](t *testing.T, local, remote llm.Model, f func(llm.Model) (T, error)) (T, T) {
	t.Helper()
	l, err := f(local)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f(remote)
	if err != nil {
		t.Fatal(err)
	}
	return l, r
}

func TestOpenRefs(t *testing.T) {
	path := tinyModel(t)
	sys := filepath.Join(t.TempDir(), "sys.txt")
	os.WriteFile(sys, []byte("Be brief.\n"), 0o644)
	m, err := Open("gguf:" + path + "?system=" + sys + "&parallel=2&ctx=128&threads=1")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := m.(*llamacpp.Model).FormatPrompt("Hi"); p != "Be brief.\n\nHi" {
		t.Errorf("system prompt not applied: %q", p)
	}
	m.Close()

	q, err := Open("gguf:" + path + "?quant=q8_0&threads=1")
	if err != nil {
		t.Fatal(err)
	}
	if ft := q.Info().FileType; ft != "Q8_0" {
		t.Errorf("quant=q8_0 loaded a %s model", ft)
	}
	q.Close()
	if _, err := os.Stat(strings.TrimSuffix(path, ".gguf") + ".q8_0.gguf"); err != nil {
		t.Errorf("quantized copy not cached: %v", err)
	}

	for ref, want := range map[string]string{
		"tiny.gguf":                   "want gguf:PATH",
		"ftp:x":                       `unknown scheme "ftp"`,
		"gguf:" + path + "?color=red": `unknown option "color"`,
		"gguf:" + path + "?ctx=big":   "want a whole number",
		"gguf:/nope.gguf":             "no such file",
		"openai-compat:not a url":     "",
	} {
		_, err := Open(ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): %v, want an error containing %q", ref, err, want)
		}
	}
}

func TestCheckAndFiles(t *testing.T) {
	for _, ref := range []string{
		"gguf:m.gguf", "gguf:m.gguf?ctx=64&parallel=256&batch=1&threads=512&gpu-layers=0&chat=off&quant=Q8_0&lora=a.gguf&lora-scale=-0.5", "gguf:m.gguf?exact=1",
		"gguf:m.gguf?gpu-layers=all", "gguf:m.gguf?gpu-layers=99",
		"openai-compat:http://localhost:8000/v1#m?chat=1&system=s.txt", "openai:gpt-4o-mini", "synth:animal=0.5?seed=2",
	} {
		if err := Check(ref); err != nil {
			t.Errorf("Check(%q): %v", ref, err)
		}
	}
	for ref, want := range map[string]string{
		"m.gguf":                                "want gguf:PATH",
		"ftp:x":                                 `unknown scheme "ftp"`,
		"gguf:":                                 "no model path",
		"gguf:m.gguf?ctx=0":                     `ctx="0": want a whole number of at least 1`,
		"gguf:m.gguf?ctx=-5":                    `ctx="-5"`,
		"gguf:m.gguf?ctx=big":                   "want a whole number",
		"gguf:m.gguf?parallel=257":              "parallel=257: want a whole number in [1, 256]",
		"gguf:m.gguf?threads=100000":            "threads=100000: want a whole number in [1, 512]",
		"gguf:m.gguf?batch=0":                   `batch="0"`,
		"gguf:m.gguf?gpu-layers=-1":             `gpu-layers="-1": want a whole number of at least 0 or all`,
		"gguf:m.gguf?gpu-layers=most":           `gpu-layers="most"`,
		"gguf:m.gguf?lora-scale=NaN":            "lora-scale=NaN: want a finite number",
		"gguf:m.gguf?lora-scale=x":              `lora-scale="x": want a number`,
		"gguf:m.gguf?chat=maybe":                `chat="maybe"`,
		"gguf:m.gguf?quant=Q9":                  `quant="Q9": want one of`,
		"gguf:m.gguf?system=":                   "system=: want a file name",
		"gguf:m.gguf?colour=red":                `unknown option "colour"`,
		"gguf:m.gguf?exact=yes":                 `exact="yes": want 1 or 0`,
		"synth:animal=NaN":                      "not a number in [0, 1]",
		"openai-compat:http://h/v1":             "missing #model-name",
		"openai-compat:ftp://h/v1#m":            "must start with http:// or https://",
		"gguf:m.gguf?ctx=16777216&parallel=256": "the context of all sequences",
	} {
		if err := Check(ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q): %v, want an error containing %q", ref, err, want)
		}
	}
	for ref, want := range map[string][]string{
		"gguf:m.gguf": {"m.gguf"},
		"gguf:m.gguf?system=s.txt&lora=a.gguf&quant=q8_0": {"m.gguf", "s.txt", "a.gguf"},
		"openai-compat:http://h/v1#m?chat=1&system=s.txt": {"s.txt"},
		"openai:gpt-4o-mini":                              nil,
		"synth:base":                                      nil,
	} {
		got, err := Files(ref)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Files(%q) = %v, %v; want %v", ref, got, err, want)
		}
	}
}

func TestLocalFiles(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want []string
	}{
		{"gguf:m.gguf?threads=1", []string{"m.gguf"}},
		{"gguf:m.gguf?system=s.txt&lora=a.gguf", []string{"m.gguf", "s.txt", "a.gguf"}},
		{"builtin", nil},
		{"openai:gpt-4o-mini", nil},
		{"synth:base", nil},
		{"nonsense", nil},
		{"", nil},
	} {
		got := LocalFiles(tc.ref)
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("LocalFiles(%q) = %v, want %v", tc.ref, got, want)
		}
	}
}
