package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests below run every provider against a local server that speaks its documented wire
// format: OpenAI chat completions, Anthropic Messages, Gemini generateContent.

// wire describes one provider's format.
type wire struct {
	name    string
	ref     string // model reference for Open
	keyEnv  string
	baseEnv string
	base    func(srvURL string) string // the base URL to put in baseEnv
	path    string                     // the request path the server expects
	// auth reports whether the request carries key the provider's way.
	auth    func(r *http.Request, key string) bool
	ok      func(text string) string // a 200 body answering text, 10 input and 5 output tokens
	refused []string                 // 200 bodies that are refusals
	errBody func(status int, msg string) string
	// checkRequest checks the request body of ask(...) with JSON mode and temperature 0.
	checkRequest func(t *testing.T, body map[string]any)
}

var wires = []wire{
	{
		name: "openai", ref: "openai:gpt-4o-mini", keyEnv: "OPENAI_API_KEY", baseEnv: "OPENAI_BASE_URL",
		base: func(u string) string { return u + "/v1" },
		path: "/v1/chat/completions",
		auth: func(r *http.Request, key string) bool { return r.Header.Get("Authorization") == "Bearer "+key },
		ok: func(text string) string {
			return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":%q,"refusal":null},"logprobs":null,"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`, text)
		},
		refused: []string{
			`{"id":"chatcmpl-2","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",` +
				`"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"logprobs":null,"finish_reason":"stop"}],` +
				`"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`,
			`{"id":"chatcmpl-3","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",` +
				`"choices":[{"index":0,"message":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"content_filter"}],` +
				`"usage":{"prompt_tokens":10,"completion_tokens":0,"total_tokens":10}}`,
		},
		errBody: func(status int, msg string) string {
			return fmt.Sprintf(`{"error":{"message":%q,"type":"server_error","param":null,"code":null}}`, msg)
		},
		checkRequest: func(t *testing.T, b map[string]any) {
			if b["model"] != "gpt-4o-mini" {
				t.Errorf("model %v", b["model"])
			}
			if temp, ok := b["temperature"]; !ok || temp != 0.0 {
				t.Errorf("temperature %v (present %v), want an explicit 0", temp, ok)
			}
			if rf, _ := b["response_format"].(map[string]any); rf["type"] != "json_object" {
				t.Errorf("response_format %v", b["response_format"])
			}
			if b["max_completion_tokens"] != 50.0 {
				t.Errorf("max_completion_tokens %v", b["max_completion_tokens"])
			}
			msgs, _ := b["messages"].([]any)
			if len(msgs) < 2 {
				t.Fatalf("messages %v", b["messages"])
			}
			last := msgs[len(msgs)-1].(map[string]any)
			if last["role"] != "user" || msgs[len(msgs)-2].(map[string]any)["role"] != "system" {
				t.Errorf("messages %v", msgs)
			}
		},
	},
	{
		name: "anthropic", ref: "anthropic:claude-haiku-4-5", keyEnv: "ANTHROPIC_API_KEY", baseEnv: "ANTHROPIC_BASE_URL",
		base: func(u string) string { return u },
		path: "/v1/messages",
		auth: func(r *http.Request, key string) bool {
			// The Messages API takes the key as x-api-key or, as anthropic-sdk-go v2 sends it,
			// a bearer token; anthropic-version is required.
			return r.Header.Get("anthropic-version") != "" &&
				(r.Header.Get("x-api-key") == key || r.Header.Get("Authorization") == "Bearer "+key)
		},
		ok: func(text string) string {
			return fmt.Sprintf(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",`+
				`"content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,`+
				`"usage":{"input_tokens":10,"output_tokens":5}}`, text)
		},
		refused: []string{
			`{"id":"msg_2","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],` +
				`"stop_reason":"refusal","stop_sequence":null,"stop_details":{"type":"refusal","category":"cyber","explanation":"Declined."},` +
				`"usage":{"input_tokens":10,"output_tokens":5}}`,
		},
		errBody: func(status int, msg string) string {
			return fmt.Sprintf(`{"type":"error","error":{"type":"api_error","message":%q}}`, msg)
		},
		checkRequest: func(t *testing.T, b map[string]any) {
			if b["model"] != "claude-haiku-4-5" || b["max_tokens"] != 50.0 {
				t.Errorf("model %v max_tokens %v", b["model"], b["max_tokens"])
			}
			sys, _ := json.Marshal(b["system"])
			if !strings.Contains(string(sys), "You judge.") || !strings.Contains(string(sys), "JSON") {
				t.Errorf("system %s", sys)
			}
			msgs, _ := b["messages"].([]any)
			if len(msgs) != 1 || msgs[0].(map[string]any)["role"] != "user" {
				t.Errorf("messages %v (the system prompt belongs in system)", b["messages"])
			}
		},
	},
	{
		name: "gemini", ref: "gemini:gemini-2.5-flash", keyEnv: "GEMINI_API_KEY", baseEnv: "GEMINI_BASE_URL",
		base: func(u string) string { return u },
		path: "/v1beta/models/gemini-2.5-flash:generateContent",
		auth: func(r *http.Request, key string) bool {
			return r.Header.Get("x-goog-api-key") == key || r.URL.Query().Get("key") == key
		},
		ok: func(text string) string {
			return fmt.Sprintf(`{"candidates":[{"content":{"role":"model","parts":[{"text":%q}]},"finishReason":"STOP","index":0}],`+
				`"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":15},"modelVersion":"gemini-2.5-flash"}`, text)
		},
		refused: []string{
			`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":10,"totalTokenCount":10}}`,
			`{"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"SAFETY","index":0}],` +
				`"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":0,"totalTokenCount":10}}`,
		},
		errBody: func(status int, msg string) string {
			return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":"INTERNAL"}}`, status, msg)
		},
		checkRequest: func(t *testing.T, b map[string]any) {
			gc, _ := b["generationConfig"].(map[string]any)
			if temp, ok := gc["temperature"]; !ok || temp != 0.0 {
				t.Errorf("temperature %v (present %v), want an explicit 0", temp, ok)
			}
			if gc["responseMimeType"] != "application/json" || gc["maxOutputTokens"] != 50.0 {
				t.Errorf("generationConfig %v", gc)
			}
			si, _ := json.Marshal(b["systemInstruction"])
			if !strings.Contains(string(si), "You judge.") {
				t.Errorf("systemInstruction %s", si)
			}
			contents, _ := b["contents"].([]any)
			if len(contents) != 1 || contents[0].(map[string]any)["role"] != "user" {
				t.Errorf("contents %v", b["contents"])
			}
		},
	},
}

// fakeServer answers with the next scripted behaviour, then with ok answers.
type fakeServer struct {
	t   *testing.T
	w   wire
	key string
	srv *httptest.Server

	mu       sync.Mutex
	script   []string // "ok", "refused:N", "429", "500", "500-echo-key", "slow", "malformed", "malformed-echo-key"
	hits     int
	inflight int
	maxIn    int
	delay    time.Duration
	bodies   []map[string]any
}

func newFakeServer(t *testing.T, w wire, key string) *fakeServer {
	f := &fakeServer{t: t, w: w, key: key}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Setenv(w.keyEnv, key)
	t.Setenv(w.baseEnv, w.base(f.srv.URL))
	if w.name == "gemini" {
		t.Setenv("GOOGLE_API_KEY", "")
		t.Setenv("GOOGLE_GEMINI_BASE_URL", "")
	}
	return f
}

func (f *fakeServer) then(script ...string) {
	f.mu.Lock()
	f.script = append(f.script, script...)
	f.mu.Unlock()
}

func (f *fakeServer) stats() (hits, maxIn int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits, f.maxIn
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.hits++
	f.inflight++
	f.maxIn = max(f.maxIn, f.inflight)
	step := "ok"
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		f.t.Errorf("%s: request body is not JSON: %s", f.w.name, body)
	}
	f.bodies = append(f.bodies, b)
	delay := f.delay
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if r.Method != http.MethodPost || r.URL.Path != f.w.path {
		f.t.Errorf("%s: request %s %s, want POST %s", f.w.name, r.Method, r.URL.Path, f.w.path)
		http.Error(w, "not found", 404)
		return
	}
	if !f.w.auth(r, f.key) {
		f.t.Errorf("%s: request without the key or required headers: %v", f.w.name, r.Header)
		w.WriteHeader(401)
		io.WriteString(w, f.w.errBody(401, "invalid key"))
		return
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	w.Header().Set("Content-Type", "application/json")
	ok := f.w.ok(`{"answer": "yes"}`)
	switch {
	case step == "ok":
		io.WriteString(w, ok)
	case strings.HasPrefix(step, "refused:"):
		var i int
		fmt.Sscanf(step, "refused:%d", &i)
		io.WriteString(w, f.w.refused[i])
	case step == "429":
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
		io.WriteString(w, f.w.errBody(429, "rate limited"))
	case step == "503":
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(503)
		io.WriteString(w, f.w.errBody(503, "overloaded"))
	case step == "500":
		w.WriteHeader(500)
		io.WriteString(w, f.w.errBody(500, "internal error"))
	case step == "500-echo-key":
		// A hostile or careless server repeats the credentials it received.
		w.WriteHeader(500)
		io.WriteString(w, f.w.errBody(500, "bad auth header: "+r.Header.Get("Authorization")+r.Header.Get("x-api-key")+r.Header.Get("x-goog-api-key")))
	case step == "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, ok)
	case step == "malformed":
		io.WriteString(w, ok[:len(ok)/2])
	case step == "malformed-echo-key":
		io.WriteString(w, `{"candidates": "key `+f.key+`"`)
	default:
		f.t.Fatalf("unknown step %q", step)
	}
}

func (f *fakeServer) lastBody() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[len(f.bodies)-1]
}

// openT is newTestClient for the provider ref names, with seed 1; it closes the client at the end.
func openT(t *testing.T, ref string, o Options) (*Client, *sleeps, *syncBuffer) {
	t.Helper()
	p, err := openProvider(ref)
	if err != nil {
		t.Fatal(err)
	}
	o.Seed = 1
	c, s, logs := newTestClient(t, p, o)
	t.Cleanup(func() { c.Close() })
	return c, s, logs
}

func TestProviders(t *testing.T) {
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			t.Run("ok", func(t *testing.T) {
				f := newFakeServer(t, w, "k-"+w.name)
				c, _, _ := openT(t, w.ref, Options{})
				resp, err := c.Chat(context.Background(), ask("Is the sky blue?"))
				if err != nil {
					t.Fatal(err)
				}
				want := Response{Text: `{"answer": "yes"}`, InputTokens: 10, OutputTokens: 5,
					FinishReason: map[string]string{"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}[w.name]}
				if resp != want {
					t.Errorf("got %+v, want %+v", resp, want)
				}
				w.checkRequest(t, f.lastBody())
				if u := c.Usage(); u.Calls != 1 || u.InputTokens != 10 || u.OutputTokens != 5 || u.Cost <= 0 {
					t.Errorf("usage %+v", u)
				}
			})
			// Calls against a server that first misbehaves as the script says.
			for _, tc := range []struct {
				name     string
				script   []string
				opts     Options
				wantHits int
				check    func(t *testing.T, c *Client, resp Response, err error, waits []time.Duration, logs string)
			}{
				{name: "429 Retry-After", script: []string{"429", "503"}, wantHits: 3,
					check: func(t *testing.T, _ *Client, _ Response, err error, waits []time.Duration, _ string) {
						if err != nil {
							t.Fatal(err)
						}
						if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 2*time.Second {
							t.Errorf("waits %v, want [7s 2s] as the Retry-After headers said", waits)
						}
					}},
				{name: "500 then ok", script: []string{"500"}, wantHits: 2,
					check: func(t *testing.T, c *Client, resp Response, err error, waits []time.Duration, logs string) {
						if err != nil || resp.Text == "" {
							t.Fatal(resp, err)
						}
						if len(waits) != 1 || c.Usage().Retries != 1 {
							t.Errorf("waits %v, usage %+v, want one wait and retry", waits, c.Usage())
						}
						if !strings.Contains(logs, "internal error") {
							t.Errorf("the retry log does not carry the server's message: %s", logs)
						}
					}},
				{name: "500 until giving up", script: []string{"500", "500", "500"}, opts: Options{MaxRetries: 2}, wantHits: 3,
					check: func(t *testing.T, _ *Client, resp Response, err error, _ []time.Duration, _ string) {
						var ae *APIError
						if !errors.As(err, &ae) || ae.Status != 500 || ae.Provider != w.name || !strings.Contains(err.Error(), "internal error") {
							t.Fatalf("err %v, want an APIError 500 with the server's message", err)
						}
						if (resp != Response{}) {
							t.Errorf("a response with the error: %+v", resp)
						}
					}},
				{name: "slow", script: []string{"slow", "slow", "slow"}, opts: Options{Timeout: 150 * time.Millisecond, MaxRetries: 2}, wantHits: 3, // timeouts are retried
					check: func(t *testing.T, _ *Client, _ Response, err error, _ []time.Duration, _ string) {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Fatalf("err %v, want DeadlineExceeded", err)
						}
					}},
				{name: "malformed", script: []string{"malformed"}, wantHits: 1, // not retried
					check: func(t *testing.T, c *Client, resp Response, err error, _ []time.Duration, _ string) {
						if err == nil || (resp != Response{}) {
							t.Fatalf("truncated JSON: %+v, %v; want an error and no response", resp, err)
						}
						if u := c.Usage(); u.Errors != 1 {
							t.Errorf("usage %+v", u)
						}
					}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f := newFakeServer(t, w, "k")
					f.then(tc.script...)
					c, s, logs := openT(t, w.ref, tc.opts)
					resp, err := c.Chat(context.Background(), ask("x"))
					tc.check(t, c, resp, err, s.got(), logs.String())
					if hits, _ := f.stats(); hits != tc.wantHits {
						t.Errorf("%d requests, want %d", hits, tc.wantHits)
					}
				})
			}
			t.Run("refusal", func(t *testing.T) {
				for i := range w.refused {
					f := newFakeServer(t, w, "k")
					f.then(fmt.Sprintf("refused:%d", i))
					c, _, _ := openT(t, w.ref, Options{})
					resp, err := c.Chat(context.Background(), ask("x"))
					if err != nil || !resp.Refused {
						t.Fatalf("refusal %d: %+v, %v; want Refused", i, resp, err)
					}
					if resp.FinishReason == "" {
						t.Errorf("refusal %d without a finish reason", i)
					}
					// Cached like any answer.
					if resp, err := c.Chat(context.Background(), ask("x")); err != nil || !resp.Cached || !resp.Refused {
						t.Errorf("refusal %d not cached: %+v %v", i, resp, err)
					}
					if hits, _ := f.stats(); hits != 1 {
						t.Errorf("%d requests, want 1", hits)
					}
				}
			})
			t.Run("cache", func(t *testing.T) {
				f := newFakeServer(t, w, "k")
				dir := t.TempDir()
				for run := range 2 {
					c, _, _ := openT(t, w.ref, Options{CacheDir: dir})
					for i := range 3 {
						resp, err := c.Chat(context.Background(), ask(fmt.Sprint(i)))
						if err != nil || resp.Cached != (run == 1) {
							t.Fatalf("run %d call %d: %+v %v", run, i, resp, err)
						}
					}
					if u := c.Usage(); run == 1 && (u.CacheHits != 3 || u.Calls != 0) {
						t.Errorf("rerun usage %+v, want 3 cache hits and no call", u)
					}
				}
				if hits, _ := f.stats(); hits != 3 {
					t.Errorf("%d requests over two runs, want 3", hits)
				}
			})
			t.Run("budget", func(t *testing.T) {
				f := newFakeServer(t, w, "k")
				// 10 input and 5 output tokens an answer: $1 a call.
				c, _, _ := openT(t, w.ref, Options{Budget: 2.5, Prices: map[string]Price{modelName(w.ref): {Input: 50000, Output: 100000}}})
				var err error
				n := 0
				for ; n < 10 && err == nil; n++ {
					_, err = c.Chat(context.Background(), ask(fmt.Sprint(n)))
				}
				// Calls 1-3 run ($2 < $2.50 before the third); the fourth is refused unsent.
				if !errors.Is(err, ErrBudget) || n != 4 {
					t.Fatalf("call %d: %v, want ErrBudget at call 4", n, err)
				}
				if hits, _ := f.stats(); hits != 3 {
					t.Errorf("%d requests reached the server, want 3", hits)
				}
			})
			t.Run("concurrency", func(t *testing.T) {
				f := newFakeServer(t, w, "k")
				f.delay = 50 * time.Millisecond
				c, _, _ := openT(t, w.ref, Options{Concurrency: 3})
				chatConcurrently(t, c, 12)
				if hits, maxIn := f.stats(); hits != 12 || maxIn > 3 || maxIn < 2 {
					t.Errorf("%d requests, at most %d in flight; want 12 and 3", hits, maxIn)
				}
			})
		})
	}
}

// TestKeysNeverLeak runs calls that succeed and fail, against servers that echo the credentials
// they receive, and looks for the keys in everything the package writes or returns.
func TestKeysNeverLeak(t *testing.T) {
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			key := "sk-test-SECRET-123-" + w.name
			f := newFakeServer(t, w, key)
			f.then("500-echo-key", "429", "ok", "500-echo-key", "500-echo-key", "malformed-echo-key", "refused:0")
			dir := t.TempDir()
			c, _, logs := openT(t, w.ref, Options{CacheDir: dir, MaxRetries: 1})
			var seen []string
			for i := range 5 {
				resp, err := c.Chat(context.Background(), ask(fmt.Sprint(i)))
				if err != nil {
					seen = append(seen, err.Error(), fmt.Sprintf("%+v %#v", err, err))
				}
				seen = append(seen, fmt.Sprintf("%+v", resp))
			}
			// 500+429 (gave up), ok, 500+500 (gave up), malformed, refusal.
			if hits, _ := f.stats(); hits != 7 {
				t.Errorf("%d requests, want 7", hits)
			}
			if len(seen) < 6 {
				t.Errorf("expected failures, got %d strings", len(seen))
			}
			seen = append(seen, logs.String(), fmt.Sprintf("%+v", c.Usage()), c.Ref())
			files := 0
			filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(path)
					seen = append(seen, path, string(b))
					files++
				}
				return nil
			})
			if files != 2 {
				t.Errorf("%d cache files, want 2 (ok, refusal)", files)
			}
			if !strings.Contains(logs.String(), "[redacted]") {
				t.Errorf("the echoed key did not reach the logs redacted: %s", logs)
			}
			for _, s := range seen {
				if strings.Contains(s, "SECRET") {
					t.Errorf("the key leaked: %s", s)
				}
			}
		})
	}
}

// TestOpenAICompat checks the openai-compat: reference against the OpenAI fake: the key is
// optional and max_tokens (not max_completion_tokens) is sent.
func TestOpenAICompat(t *testing.T) {
	w := wires[0]
	w.auth = func(r *http.Request, key string) bool { return r.Header.Get("Authorization") == "" }
	f := newFakeServer(t, w, "")
	c, _, _ := openT(t, "openai-compat:"+f.srv.URL+"/v1#gpt-4o-mini", Options{})
	resp, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: User, Content: "hi"}}, MaxTokens: 9})
	if err != nil || resp.Text == "" {
		t.Fatal(resp, err)
	}
	b := f.lastBody()
	if b["max_tokens"] != 9.0 || b["max_completion_tokens"] != nil || b["temperature"] != 0.0 {
		t.Errorf("request %v", b)
	}
	if c.Ref() != "openai-compat:"+f.srv.URL+"/v1#gpt-4o-mini" {
		t.Errorf("ref %s", c.Ref())
	}
}
