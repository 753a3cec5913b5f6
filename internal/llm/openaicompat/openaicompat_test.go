package openaicompat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat/vllmtest"
)

// noKeyEnv names an environment variable that is never set, so tests do not pick up a real key.
const noKeyEnv = "MBD_OPENAICOMPAT_TEST_NO_KEY"

func newServer(t *testing.T, opts ...vllmtest.Option) *vllmtest.Server {
	t.Helper()
	srv := vllmtest.NewServer(fakeModel{}, append([]vllmtest.Option{vllmtest.WithTokenizer(fakeTok{})}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *vllmtest.Server, edit func(*openaicompat.Config)) *openaicompat.Client {
	t.Helper()
	cfg := openaicompat.Config{BaseURL: srv.BaseURL(), Model: srv.ModelName(), APIKeyEnv: noKeyEnv, MaxRetryDelay: 20 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	c, err := openaicompat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func collect(t *testing.T, m llm.Model, reqs []llm.GenRequest, s llm.Sampling) (map[string]llm.GenResult, error) {
	t.Helper()
	var mu sync.Mutex
	got := map[string]llm.GenResult{}
	err := m.Generate(context.Background(), reqs, s, func(r llm.GenResult) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[r.ID]; dup {
			t.Errorf("result %s yielded twice", r.ID)
		}
		got[r.ID] = r
		return nil
	})
	return got, err
}

func genReqs(n int) []llm.GenRequest {
	reqs := make([]llm.GenRequest, n)
	for i := range reqs {
		reqs[i] = llm.GenRequest{ID: fmt.Sprintf("r%d", i), Prompt: fmt.Sprintf("prompt number %d", i), Seed: uint64(i * 1000)}
	}
	return reqs
}

func bodyOf(t *testing.T, r vllmtest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("request body %s: %v", r.Body, err)
	}
	return m
}

// tagTemplate is the fake server's chat template in the tests that compare remote and local
// results: each message as [role]content, then [assistant].
func tagTemplate(msgs []vllmtest.ChatMessage) (string, error) {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%s]%s", m.Role, m.Content)
	}
	return b.String() + "[assistant]", nil
}

// forBothAPIs runs f as a subtest on the completions API (chat false) and on the chat API.
func forBothAPIs(t *testing.T, f func(t *testing.T, chat bool)) {
	for _, chat := range []bool{false, true} {
		t.Run(fmt.Sprintf("chat=%v", chat), func(t *testing.T) { f(t, chat) })
	}
}

// apiClient starts a fake server with tagTemplate and a client on its completions API or, with
// the system prompt "sys", on its chat API; edit, if not nil, changes the config further.
func apiClient(t *testing.T, chat bool, edit func(*openaicompat.Config)) (*vllmtest.Server, *openaicompat.Client) {
	t.Helper()
	srv := newServer(t, vllmtest.WithChatTemplate(tagTemplate))
	return srv, newClient(t, srv, func(cfg *openaicompat.Config) {
		cfg.Chat = chat
		if chat {
			cfg.SystemPrompt = "sys"
		}
		if edit != nil {
			edit(cfg)
		}
	})
}

// localPrompt is the prompt the wrapped model gets for prompt through apiClient(chat).
func localPrompt(chat bool, prompt string) string {
	if chat {
		return "[system]sys[user]" + prompt + "[assistant]"
	}
	return prompt
}

func TestGenerateRoundTrip(t *testing.T) {
	forBothAPIs(t, func(t *testing.T, chat bool) {
		srv, c := apiClient(t, chat, nil)
		reqs := genReqs(7)
		reqs = append(reqs, llm.GenRequest{ID: "huge-seed", Prompt: "x", Seed: math.MaxUint64 - 5})
		s := llm.Sampling{Temperature: 0.7, MaxTokens: 20, Stop: []string{"|t="}}
		got, err := collect(t, c, reqs, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(reqs) {
			t.Fatalf("got %d results for %d requests", len(got), len(reqs))
		}
		for _, r := range reqs {
			local := r
			local.Prompt = localPrompt(chat, r.Prompt)
			want, err := collect(t, fakeModel{}, []llm.GenRequest{local}, s)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := got[r.ID], want[r.ID]; g != w {
				t.Errorf("%s: remote %+v\n local %+v", r.ID, g, w)
			}
		}
		if chat {
			if n := len(srv.RequestsTo("/v1/chat/completions")); n != len(reqs) {
				t.Errorf("%d chat requests, want %d", n, len(reqs))
			}
		} else if n := len(srv.RequestsTo("/v1/completions")); n != len(reqs) {
			t.Errorf("%d completion requests, want %d", n, len(reqs))
		}
	})
}

func TestGenerateLengthAndNoLogprobs(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.NoLogprobs = true })
	got, err := collect(t, c, genReqs(1), llm.Sampling{MaxTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := got["r0"]
	if r.FinishReason != "length" || r.CompletionTokens != 3 || r.HasLogprob || r.LogprobSum != 0 {
		t.Errorf("got %+v; want length, 3 tokens, no logprob", r)
	}
	if _, ok := bodyOf(t, srv.RequestsTo("/v1/completions")[0])["logprobs"]; ok {
		t.Error("logprobs requested despite NoLogprobs")
	}
}

func TestRequestBodiesSendZeros(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	chat := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.Chat = true })

	// Greedy, seed 0, nothing optional set.
	if _, err := collect(t, c, []llm.GenRequest{{ID: "a", Prompt: "p", Seed: 0}}, llm.Sampling{Temperature: 0}); err != nil {
		t.Fatal(err)
	}
	b := bodyOf(t, srv.RequestsTo("/v1/completions")[0])
	for k, want := range map[string]any{"temperature": 0.0, "logprobs": 0.0, "seed": 0.0, "prompt": "p", "model": "test-model"} {
		if v, ok := b[k]; !ok || v != want {
			t.Errorf("completions body %s = %v (present %v), want %v; body %v", k, v, ok, want, b)
		}
	}
	if v, ok := b["max_tokens"]; !ok || v != nil {
		t.Errorf("completions body max_tokens = %v (present %v); want an explicit null for \"off\"", v, ok)
	}
	for _, k := range []string{"top_k", "min_p", "repetition_penalty", "top_p", "stop", "echo"} {
		if _, ok := b[k]; ok {
			t.Errorf("completions body has %s although it is off: %v", k, b)
		}
	}

	// vLLM extras only when in effect.
	s := llm.Sampling{Temperature: 0.5, TopK: 40, MinP: 0.05, RepetitionPenalty: 1.1, TopP: 0.9, MaxTokens: 8, Stop: []string{"\n"}}
	if _, err := collect(t, c, []llm.GenRequest{{ID: "b", Prompt: "p", Seed: 7}}, s); err != nil {
		t.Fatal(err)
	}
	b = bodyOf(t, srv.RequestsTo("/v1/completions")[1])
	for k, want := range map[string]any{"top_k": 40.0, "min_p": 0.05, "repetition_penalty": 1.1, "top_p": 0.9, "max_tokens": 8.0, "seed": 7.0} {
		if b[k] != want {
			t.Errorf("completions body %s = %v, want %v", k, b[k], want)
		}
	}
	if _, err := collect(t, c, []llm.GenRequest{{ID: "c", Prompt: "p"}}, llm.Sampling{RepetitionPenalty: 1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := bodyOf(t, srv.RequestsTo("/v1/completions")[2])["repetition_penalty"]; ok {
		t.Error("repetition_penalty 1 (off) was sent")
	}

	// Chat asks for logprobs: true.
	if _, err := collect(t, chat, []llm.GenRequest{{ID: "d", Prompt: "p"}}, llm.Sampling{}); err != nil {
		t.Fatal(err)
	}
	b = bodyOf(t, srv.RequestsTo("/v1/chat/completions")[0])
	if b["logprobs"] != true || b["temperature"] != 0.0 || b["seed"] != 0.0 {
		t.Errorf("chat body %v: want logprobs true, temperature 0, seed 0", b)
	}

	// Scoring: max_tokens 0, echo, prompt_logprobs 0, token-id prompt.
	if _, err := c.Score(context.Background(), []llm.ScoreRequest{{Prompt: "ab", Completion: "c"}}); err != nil {
		t.Fatal(err)
	}
	b = bodyOf(t, srv.RequestsTo("/v1/completions")[3])
	for k, want := range map[string]any{"max_tokens": 0.0, "echo": true, "prompt_logprobs": 0.0, "temperature": 0.0} {
		if v, ok := b[k]; !ok || v != want {
			t.Errorf("score body %s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if want := []any{1.0, 'a' + 10.0, 'b' + 10.0, 'c' + 10.0}; !slices.Equal(b["prompt"].([]any), want) {
		t.Errorf("score prompt %v, want %v", b["prompt"], want)
	}
	tk := srv.RequestsTo("/tokenize")
	if len(tk) != 2 {
		t.Fatalf("%d tokenize requests, want 2", len(tk))
	}
	if b := bodyOf(t, tk[0]); b["prompt"] != "ab" || b["add_special_tokens"] != true || b["model"] != "test-model" {
		t.Errorf("prompt tokenize body %v", b)
	}
	if b := bodyOf(t, tk[1]); b["prompt"] != "c" || b["add_special_tokens"] != false {
		t.Errorf("completion tokenize body %v", b)
	}
}

func TestScoreMatchesModel(t *testing.T) {
	forBothAPIs(t, func(t *testing.T, chat bool) {
		srv, c := apiClient(t, chat, func(cfg *openaicompat.Config) { cfg.Concurrency = 3 })
		reqs := []llm.ScoreRequest{
			{ID: "a", Prompt: "The capital of France is", Completion: " Paris."},
			{ID: "b", Prompt: "The capital of France is", Completion: " Lyon, obviously"},
			{ID: "c", Prompt: "Q: 2+2?\nA:", Completion: " 4"},
			{ID: "empty", Prompt: "anything", Completion: ""},
			{ID: "unicode", Prompt: "naïve", Completion: " café ☕"},
			{ID: "ambig1", Prompt: "ab", Completion: "cd"},
			{ID: "ambig2", Prompt: "abc", Completion: "d"},
		}
		got, err := c.Score(context.Background(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		local := slices.Clone(reqs)
		for i := range local {
			local[i].Prompt = localPrompt(chat, reqs[i].Prompt)
		}
		want, _ := fakeModel{}.Score(context.Background(), local)
		for i := range reqs {
			g, w := got[i], want[i]
			if g.ID != w.ID || !slices.Equal(g.Tokens, w.Tokens) || !slices.Equal(g.Logprobs, w.Logprobs) || g.Sum != w.Sum || g.Mean != w.Mean {
				t.Errorf("%s: remote %+v\n local %+v", reqs[i].ID, g, w)
			}
		}
		if got[3].Tokens == nil || len(got[3].Tokens) != 0 || got[3].Sum != 0 || got[3].Mean != 0 {
			t.Errorf("empty completion: %+v", got[3])
		}
		// The shared prompt is tokenized once (cache); the empty completion needs no scoring call.
		if n := len(srv.RequestsTo("/v1/completions")); n != len(reqs)-1 {
			t.Errorf("%d scoring requests, want %d", n, len(reqs)-1)
		}
	})
}

func TestCannotScore(t *testing.T) {
	reqs := []llm.ScoreRequest{{Prompt: "a", Completion: "b"}}
	t.Run("no prompt_logprobs", func(t *testing.T) {
		srv := newServer(t, vllmtest.WithoutPromptLogprobs())
		c := newClient(t, srv, nil)
		res, err := c.Score(context.Background(), reqs)
		if !errors.Is(err, llm.ErrCannotScore) || res != nil || !strings.Contains(err.Error(), srv.BaseURL()) || !strings.Contains(err.Error(), "prompt_logprobs") {
			t.Errorf("res %v err %v; want ErrCannotScore naming the server", res, err)
		}
	})
	t.Run("no tokenize", func(t *testing.T) {
		srv := newServer(t, vllmtest.WithoutTokenize())
		c := newClient(t, srv, nil)
		_, err := c.Score(context.Background(), reqs)
		if !errors.Is(err, llm.ErrCannotScore) || !strings.Contains(err.Error(), srv.URL+"/tokenize") || !strings.Contains(err.Error(), "404") {
			t.Errorf("err %v; want ErrCannotScore naming /tokenize", err)
		}
	})
	t.Run("hosted", func(t *testing.T) {
		t.Setenv("MBD_TEST_API_KEY", "k")
		cfg, err := openaicompat.ParseRef("openai:gpt-4o-mini?key_env=MBD_TEST_API_KEY")
		if err != nil {
			t.Fatal(err)
		}
		c, err := openaicompat.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Score(context.Background(), reqs); !errors.Is(err, llm.ErrCannotScore) {
			t.Errorf("err %v", err)
		}
	})
}

func TestEmbed(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.EmbedBatchSize = 2 })
	texts := []string{"a", "banana", "", "cab", "aaaa"}
	got, err := c.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := fakeModel{}.Embed(context.Background(), texts)
	if len(got) != len(texts) {
		t.Fatalf("%d vectors", len(got))
	}
	for i, v := range got {
		var norm, n2 float64
		for j, x := range v {
			norm += float64(x) * float64(x)
			n2 += float64(raw[i][j]) * float64(raw[i][j])
		}
		if math.Abs(norm-1) > 1e-6 {
			t.Errorf("vector %d has norm² %v", i, norm)
		}
		for j := range v {
			if want := float64(raw[i][j]) / math.Sqrt(n2); math.Abs(float64(v[j])-want) > 1e-6 {
				t.Errorf("vector %d[%d] = %v, want %v", i, j, v[j], want)
			}
		}
	}
	if n := len(srv.RequestsTo("/v1/embeddings")); n != 3 {
		t.Errorf("%d embedding requests, want 3", n)
	}
	if b := bodyOf(t, srv.RequestsTo("/v1/embeddings")[0]); b["encoding_format"] != "float" {
		t.Errorf("embedding body %v", b)
	}

	for name, srv := range map[string]*vllmtest.Server{
		"404":          newServer(t, vllmtest.WithoutEmbeddings()),
		"model-cannot": vllmtest.NewServer(noEmbedModel{}),
	} {
		if name == "model-cannot" {
			t.Cleanup(srv.Close)
		}
		c := newClient(t, srv, nil)
		if _, err := c.Embed(context.Background(), texts); !errors.Is(err, llm.ErrCannotEmbed) {
			t.Errorf("%s: err %v; want ErrCannotEmbed", name, err)
		}
	}
}

func TestWrongModelName(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.Model = "nope" })
	_, err := collect(t, c, genReqs(1), llm.Sampling{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "`nope` does not exist") {
		t.Errorf("err %v", err)
	}
}

func TestSystemPromptFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "sys.txt")
	if err := os.WriteFile(f, []byte("You are terse."), 0o644); err != nil {
		t.Fatal(err)
	}
	var sys string
	srv := newServer(t, vllmtest.WithChatTemplate(func(msgs []vllmtest.ChatMessage) (string, error) {
		sys = msgs[0].Content
		return msgs[len(msgs)-1].Content, nil
	}))
	cfg, err := openaicompat.ParseRef("openai-compat:" + srv.BaseURL() + "#test-model?chat=1&system=" + f + "&key_env=" + noKeyEnv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := openaicompat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, c, genReqs(1), llm.Sampling{}); err != nil {
		t.Fatal(err)
	}
	if sys != "You are terse." {
		t.Errorf("system prompt %q", sys)
	}
	if c.Info().Ref != cfg.Ref {
		t.Errorf("Info().Ref = %q", c.Info().Ref)
	}
	cfg.SystemPromptFile = filepath.Join(dir, "missing.txt")
	if _, err := openaicompat.New(cfg); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: err %v", err)
	}
}

func TestParseRef(t *testing.T) {
	good := []struct {
		ref  string
		want openaicompat.Config
	}{
		{"openai-compat:http://host:8000/v1#model-name", openaicompat.Config{BaseURL: "http://host:8000/v1", Model: "model-name"}},
		{"openai-compat:http://host:8000/v1/#org/Model-7B?chat=1&system=sys.txt", openaicompat.Config{BaseURL: "http://host:8000/v1", Model: "org/Model-7B", Chat: true, SystemPromptFile: "sys.txt"}},
		{"openai-compat:https://h/v1#m?key_env=MY_KEY&concurrency=4&rps=2.5&retries=0&timeout=30s&max_retry_delay=1m&embed_batch=16&logprobs=0",
			openaicompat.Config{BaseURL: "https://h/v1", Model: "m", APIKeyEnv: "MY_KEY", Concurrency: 4, RequestsPerSecond: 2.5, MaxRetries: -1, Timeout: 30 * time.Second, MaxRetryDelay: time.Minute, EmbedBatchSize: 16, NoLogprobs: true}},
		{"openai:gpt-4o-mini", openaicompat.Config{BaseURL: "https://api.openai.com/v1", Model: "gpt-4o-mini", Chat: true, RequireAPIKey: true}},
		{"openai:gpt-3.5-turbo-instruct?chat=0&retries=5", openaicompat.Config{BaseURL: "https://api.openai.com/v1", Model: "gpt-3.5-turbo-instruct", RequireAPIKey: true, MaxRetries: 5}},
	}
	for _, tc := range good {
		got, err := openaicompat.ParseRef(tc.ref)
		if err != nil {
			t.Errorf("%s: %v", tc.ref, err)
			continue
		}
		tc.want.Ref = tc.ref
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.ref, got, tc.want)
		}
	}
	bad := map[string]string{
		"gguf:x.gguf":                               "not an OpenAI-compatible reference",
		"openai-compat:http://host:8000/v1":         "missing #model-name",
		"openai-compat:http://host:8000/v1#":        "empty model name",
		"openai-compat:ftp://host/v1#m":             "http:// or https://",
		"openai-compat:http:///v1#m":                "no host",
		"openai-compat:http://h/v1?x=1#m":           "must not carry a query",
		"openai-compat:http://user:pw@h/v1#m":       "credentials",
		"openai-compat:http://h/v1#m?chat=maybe":    "chat=",
		"openai-compat:http://h/v1#m?temperature=1": `unknown option "temperature"`,
		"openai-compat:http://h/v1#m?concurrency=0": "positive integer",
		"openai-compat:http://h/v1#m?system=f.txt":  "needs the chat API",
		"openai-compat:http://h/v1#m?timeout=soon":  "duration",
		"openai-compat:http://h/v1#m?chat=1&chat=0": "given 2 times",
		"openai:":              "empty model name",
		"openai:gpt-4o?rps=-1": "non-negative",
	}
	for ref, want := range bad {
		_, err := openaicompat.ParseRef(ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v; want one containing %q", ref, err, want)
		}
	}
}

func TestNewValidation(t *testing.T) {
	for _, cfg := range []openaicompat.Config{
		{},
		{BaseURL: "localhost:8000", Model: "m"},
		{BaseURL: "http://h/v1"},
		{BaseURL: "http://h/v1", Model: "m", SystemPrompt: "x"},
	} {
		if _, err := openaicompat.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestInfo(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	info := c.Info()
	if info.Ref != "openai-compat:"+srv.BaseURL()+"#test-model" || info.Metadata["model"] != "test-model" {
		t.Errorf("%+v", info)
	}
}

func TestKeyNotSentInClearTextOffMachine(t *testing.T) {
	t.Setenv("MBD_TEST_API_KEY", "sk-secret")
	for _, tc := range []struct {
		base, allow string
		wantErr     bool
	}{
		{"http://10.9.8.7:8000/v1", "", true},
		{"http://10.9.8.7:8000/v1", "1", false},
		{"https://10.9.8.7:8000/v1", "", false},
		{"http://127.0.0.1:8000/v1", "", false},
	} {
		t.Setenv("MBD_ALLOW_INSECURE_KEY", tc.allow)
		c, err := openaicompat.New(openaicompat.Config{BaseURL: tc.base, Model: "m", APIKeyEnv: "MBD_TEST_API_KEY"})
		if (err != nil) != tc.wantErr {
			t.Errorf("%s allow=%q: %v, want error %v", tc.base, tc.allow, err, tc.wantErr)
		}
		if err != nil && (strings.Contains(err.Error(), "sk-secret") || !strings.Contains(err.Error(), "MBD_TEST_API_KEY")) {
			t.Errorf("message %q", err)
		}
		if c != nil {
			c.Close()
		}
	}
}
