package assistant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeProvider answers from a function and counts calls and calls in flight.
type fakeProvider struct {
	ref      string
	answer   func(ctx context.Context, n int, req Request) (Response, error)
	calls    atomic.Int32
	inflight atomic.Int32
	maxIn    atomic.Int32
}

func (f *fakeProvider) Ref() string { return f.ref }

func (f *fakeProvider) Chat(ctx context.Context, req Request) (Response, error) {
	n := int(f.calls.Add(1))
	in := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxIn.Load()
		if in <= m || f.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	if f.answer == nil {
		return Response{Text: "echo: " + req.Messages[len(req.Messages)-1].Content, FinishReason: "stop", InputTokens: 10, OutputTokens: 5}, nil
	}
	return f.answer(ctx, n, req)
}

// sleeps records the waits of a Client instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// testLogger returns a logger writing JSON lines into buf.
func testLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func ask(text string) Request {
	return Request{Messages: []Message{{Role: System, Content: "You judge."}, {Role: User, Content: text}}, MaxTokens: 50, JSON: true}
}

// chatConcurrently makes the calls ask("0") ... ask(n-1) all at once.
func chatConcurrently(t *testing.T, c *Client, n int) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.Chat(context.Background(), ask(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func newTestClient(t *testing.T, p Provider, o Options) (*Client, *sleeps, *syncBuffer) {
	t.Helper()
	s := &sleeps{}
	logs := &syncBuffer{}
	if o.CacheDir == "" && !o.NoCache {
		o.CacheDir = t.TempDir()
	}
	if o.Sleep == nil {
		o.Sleep = s.sleep
	}
	if o.Logger == nil {
		o.Logger = testLogger(logs)
	}
	c, err := New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return c, s, logs
}

func TestCacheRerunMakesNoCalls(t *testing.T) {
	dir := t.TempDir()
	reqs := []Request{ask("a"), ask("b"), {Messages: []Message{{Role: User, Content: "b"}}, Temperature: 1, Seed: 7}}
	p := &fakeProvider{ref: "openai:gpt-4o-mini"}
	run := func() (*Client, []Response) {
		c, _, _ := newTestClient(t, p, Options{CacheDir: dir})
		var out []Response
		for _, r := range reqs {
			resp, err := c.Chat(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, resp)
		}
		return c, out
	}
	c1, first := run()
	if got := p.calls.Load(); got != 3 {
		t.Fatalf("first run: %d calls, want 3", got)
	}
	if u := c1.Usage(); u.Calls != 3 || u.CacheHits != 0 || u.InputTokens != 30 || u.OutputTokens != 15 {
		t.Errorf("first run usage %+v", u)
	}
	c2, second := run()
	if got := p.calls.Load(); got != 3 {
		t.Fatalf("second run made %d more calls, want 0", got-3)
	}
	if u := c2.Usage(); u.Calls != 0 || u.CacheHits != 3 || u.Cost != 0 || u.InputTokens != 0 {
		t.Errorf("second run usage %+v", u)
	}
	for i := range first {
		if !second[i].Cached || first[i].Cached {
			t.Errorf("request %d: Cached %v then %v", i, first[i].Cached, second[i].Cached)
		}
		second[i].Cached = false
		if second[i] != first[i] {
			t.Errorf("request %d: cached %+v, want %+v", i, second[i], first[i])
		}
	}
	// Layout: CacheDir/ab/abcdef....json holding the Response JSON.
	key := cacheKey("openai:gpt-4o-mini", "", reqs[0])
	b, err := os.ReadFile(filepath.Join(dir, key[:2], key+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil || r.Text != "echo: a" {
		t.Errorf("cache file %s: %v %+v", b, err, r)
	}
	// The seed and the model reference are part of the key.
	if cacheKey("openai:gpt-4o-mini", "", reqs[2]) == cacheKey("openai:gpt-4o", "", reqs[2]) {
		t.Error("the key ignores the reference")
	}
	r2 := reqs[2]
	r2.Seed = 8
	if cacheKey("m", "", r2) == cacheKey("m", "", reqs[2]) {
		t.Error("the key ignores the seed")
	}
}

func TestNoCacheAndCorruptEntry(t *testing.T) {
	p := &fakeProvider{ref: "openai:gpt-4o-mini"}
	c, _, _ := newTestClient(t, p, Options{NoCache: true})
	for range 2 {
		if _, err := c.Chat(context.Background(), ask("x")); err != nil {
			t.Fatal(err)
		}
	}
	if p.calls.Load() != 2 {
		t.Errorf("NoCache: %d calls, want 2", p.calls.Load())
	}
	dir := t.TempDir()
	key := cacheKey(p.ref, "", ask("x"))
	os.MkdirAll(filepath.Join(dir, key[:2]), 0o755)
	os.WriteFile(filepath.Join(dir, key[:2], key+".json"), []byte(`{"text": "trunc`), 0o644)
	c, _, logs := newTestClient(t, p, Options{CacheDir: dir})
	resp, err := c.Chat(context.Background(), ask("x"))
	if err != nil || resp.Cached || resp.Text != "echo: x" {
		t.Fatalf("corrupt entry: %+v, %v", resp, err)
	}
	if !strings.Contains(logs.String(), "corrupt") {
		t.Errorf("no warning about the corrupt entry: %s", logs)
	}
	if resp, _ := c.Chat(context.Background(), ask("x")); !resp.Cached {
		t.Error("the corrupt entry was not replaced")
	}
}

func TestRefusalIsAnAnswerAndCached(t *testing.T) {
	p := &fakeProvider{ref: "anthropic:claude-haiku-4-5", answer: func(context.Context, int, Request) (Response, error) {
		return Response{Refused: true, FinishReason: "refusal", InputTokens: 3, OutputTokens: 1}, nil
	}}
	c, _, _ := newTestClient(t, p, Options{})
	for i := range 2 {
		resp, err := c.Chat(context.Background(), ask("x"))
		if err != nil || !resp.Refused || resp.Cached != (i == 1) {
			t.Fatalf("call %d: %+v, %v", i, resp, err)
		}
	}
	if p.calls.Load() != 1 {
		t.Errorf("%d calls, want 1", p.calls.Load())
	}
}

func TestRetries(t *testing.T) {
	fail := func(errs ...error) func(context.Context, int, Request) (Response, error) {
		return func(_ context.Context, n int, _ Request) (Response, error) {
			if n <= len(errs) {
				return Response{}, errs[n-1]
			}
			return Response{Text: "ok", FinishReason: "stop"}, nil
		}
	}
	e500 := &APIError{Provider: "x", Status: 500, Message: "boom"}
	for _, tt := range []struct {
		name      string
		answer    func(context.Context, int, Request) (Response, error)
		opts      Options
		wantCalls int32
		wantErr   bool
		check     func(t *testing.T, waits []time.Duration)
	}{
		{name: "backoff grows with jitter", answer: fail(e500, e500, e500), wantCalls: 4, check: func(t *testing.T, w []time.Duration) {
			if len(w) != 3 {
				t.Fatalf("waits %v", w)
			}
			for i, d := range w {
				lo := time.Second << i / 2
				if d < lo || d > 2*lo {
					t.Errorf("wait %d = %s, want in [%s, %s]", i, d, lo, 2*lo)
				}
			}
		}},
		{name: "Retry-After wins", answer: fail(&APIError{Status: 429, RetryAfter: 7 * time.Second}, &APIError{Status: 503, RetryAfter: 1500 * time.Millisecond}), wantCalls: 3, check: func(t *testing.T, w []time.Duration) {
			if len(w) != 2 || w[0] != 7*time.Second || w[1] != 1500*time.Millisecond {
				t.Errorf("waits %v, want [7s 1.5s]", w)
			}
		}},
		{name: "Retry-After of an hour: not retried", answer: fail(&APIError{Status: 429, RetryAfter: time.Hour}), wantCalls: 1, wantErr: true},
		{name: "400 not retried", answer: fail(&APIError{Status: 400}), wantCalls: 1, wantErr: true},
		{name: "parse error not retried", answer: fail(errors.New("invalid JSON")), wantCalls: 1, wantErr: true},
		{name: "gives up", answer: fail(e500, e500, e500), opts: Options{MaxRetries: 2}, wantCalls: 3, wantErr: true},
		{name: "no retries", answer: fail(e500), opts: Options{MaxRetries: -1}, wantCalls: 1, wantErr: true},
		{name: "cap at 60s", answer: fail(e500, e500, e500, e500, e500, e500, e500, e500), opts: Options{MaxRetries: 8}, wantCalls: 9, check: func(t *testing.T, w []time.Duration) {
			for _, d := range w[6:] {
				if d < 30*time.Second || d > 60*time.Second {
					t.Errorf("wait %s beyond the cap", d)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{ref: "openai:gpt-4o", answer: tt.answer}
			tt.opts.Seed = 1
			c, s, _ := newTestClient(t, p, tt.opts)
			resp, err := c.Chat(context.Background(), ask("x"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err == nil && resp.Text != "ok" {
				t.Errorf("resp %+v", resp)
			}
			if err != nil && (resp != Response{}) {
				t.Errorf("an error with a response: %+v", resp)
			}
			if got := p.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			u := c.Usage()
			if u.Calls != int(tt.wantCalls) || u.Retries != int(tt.wantCalls)-1 {
				t.Errorf("usage %+v", u)
			}
			if tt.check != nil {
				tt.check(t, s.got())
			}
		})
	}
}

func TestTimeoutRetriedCancelNot(t *testing.T) {
	block := func(ctx context.Context, _ int, _ Request) (Response, error) {
		<-ctx.Done()
		return Response{}, fmt.Errorf("post: %w", ctx.Err())
	}
	p := &fakeProvider{ref: "openai:gpt-4o", answer: block}
	c, _, _ := newTestClient(t, p, Options{Timeout: 20 * time.Millisecond, MaxRetries: 2})
	_, err := c.Chat(context.Background(), ask("x"))
	if !errors.Is(err, context.DeadlineExceeded) || p.calls.Load() != 3 {
		t.Errorf("timeouts: %v after %d calls, want DeadlineExceeded after 3", err, p.calls.Load())
	}

	p = &fakeProvider{ref: "openai:gpt-4o", answer: block}
	c, _, _ = newTestClient(t, p, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = c.Chat(ctx, ask("x"))
	if !errors.Is(err, context.Canceled) || p.calls.Load() != 1 {
		t.Errorf("cancel: %v after %d calls, want Canceled after 1", err, p.calls.Load())
	}
}

func TestBudget(t *testing.T) {
	// Each answer has 10 input and 5 output tokens: $0.50 + $0.50.
	prices := map[string]Price{"my-model": {Input: 50000, Output: 100000}}
	p := &fakeProvider{ref: "openai-compat:http://localhost:8000/v1#my-model"}
	c, _, _ := newTestClient(t, p, Options{Budget: 2.5, Prices: prices})
	for i := range 3 {
		if _, err := c.Chat(context.Background(), ask(fmt.Sprint(i))); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	// $3 spent >= $2.50: no new call starts; cached answers still come back.
	_, err := c.Chat(context.Background(), ask("3"))
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("fourth call: %v, want ErrBudget", err)
	}
	if resp, err := c.Chat(context.Background(), ask("0")); err != nil || !resp.Cached {
		t.Errorf("cached answer after the budget: %+v %v", resp, err)
	}
	if p.calls.Load() != 3 {
		t.Errorf("%d calls, want 3", p.calls.Load())
	}
	if u := c.Usage(); math.Abs(u.Cost-3) > 1e-9 {
		t.Errorf("cost %v, want 3", u.Cost)
	}
}

func TestConcurrencyBoundAndRate(t *testing.T) {
	p := &fakeProvider{ref: "gemini:gemini-2.5-flash", answer: func(context.Context, int, Request) (Response, error) {
		time.Sleep(30 * time.Millisecond)
		return Response{Text: "ok", FinishReason: "STOP"}, nil
	}}
	c, _, _ := newTestClient(t, p, Options{Concurrency: 3, NoCache: true})
	chatConcurrently(t, c, 12)
	if m := p.maxIn.Load(); m > 3 || m < 2 {
		t.Errorf("max in flight %d, want 3 (at most)", m)
	}

	// 600 requests a minute: one every 100 ms after the first.
	p = &fakeProvider{ref: "gemini:gemini-2.5-flash"}
	c, _, _ = newTestClient(t, p, Options{RequestsPerMinute: 600, NoCache: true})
	start := time.Now()
	for i := range 3 {
		c.Chat(context.Background(), ask(fmt.Sprint(i)))
	}
	if el := time.Since(start); el < 180*time.Millisecond {
		t.Errorf("3 calls at 600/min took %s, want >= 200ms", el)
	}

	// 60,000 tokens a minute (1,000 a second): a call estimated at the whole minute's worth
	// empties the bucket, and the next call of about 53 tokens waits for them.
	c, _, _ = newTestClient(t, p, Options{TokensPerMinute: 60000, NoCache: true})
	c.Chat(context.Background(), Request{Messages: []Message{{Role: User, Content: "x"}}, MaxTokens: 70000})
	start = time.Now()
	c.Chat(context.Background(), ask("y"))
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Errorf("a call over the token rate took %s, want about 53ms", el)
	}
}

func TestPrices(t *testing.T) {
	for _, tt := range []struct {
		ref    string
		want   Price
		priced bool
	}{
		{"openai:gpt-4o-mini", Price{0.15, 0.60}, true},
		{"openai:gpt-4o-mini-2024-07-18", Price{0.15, 0.60}, true},
		{"openai:gpt-4o-2024-08-06", Price{2.50, 10}, true},
		{"anthropic:claude-3-5-haiku-latest", Price{0.80, 4}, true},
		{"anthropic:claude-sonnet-4-5-20250929", Price{3, 15}, true},
		{"anthropic:claude-sonnet-4-6", Price{}, false}, // not a snapshot of claude-sonnet-4
		{"gemini:models/gemini-2.5-flash", Price{0.30, 2.50}, true},
		{"openai-compat:http://h/v1#qwen", Price{}, false},
		{"openai-compat:http://h/v1#mine", Price{1, 2}, true},
		{"gguf:/m.gguf", Price{}, true},
	} {
		p, ok := lookupPrice(tt.ref, map[string]Price{"mine": {1, 2}})
		if p != tt.want || ok != tt.priced {
			t.Errorf("%s: %v %v, want %v %v", tt.ref, p, ok, tt.want, tt.priced)
		}
	}
	// An unpriced model warns once.
	p := &fakeProvider{ref: "openai-compat:http://h/v1#qwen"}
	c, _, logs := newTestClient(t, p, Options{})
	c.Chat(context.Background(), ask("1"))
	c.Chat(context.Background(), ask("2"))
	if n := strings.Count(logs.String(), "no price"); n != 1 {
		t.Errorf("%d price warnings, want 1: %s", n, logs)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond},
		{nil, 0},
	} {
		if got := parseRetryAfter(tt.h, now); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.h, got, tt.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	t.Setenv("GEMINI_API_KEY", "")
	t.Setenv("GOOGLE_API_KEY", "")
	for _, tt := range []struct{ ref, want string }{
		{"openai:gpt-4o", "OPENAI_API_KEY"},
		{"anthropic:claude-haiku-4-5", "ANTHROPIC_API_KEY"},
		{"gemini:gemini-2.5-flash", "GEMINI_API_KEY"},
		{"claude:x", "builtin"},
		{"builtin", "openai-compat:URL#MODEL"},
		{"openai:", "nothing after"},
		{"openai-compat:http://localhost:8000/v1", "URL#MODEL"},
		{"openai-compat:ftp://x#m", "http(s)"},
		{"gguf:/no/such/model.gguf", "no such file"},
		{"gguf:m.gguf?threads=x", "threads"},
		{"gguf:m.gguf?quant=q4_0", "unknown option"},
	} {
		_, err := Open(tt.ref, Options{NoCache: true})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q): %v, want an error containing %q", tt.ref, err, tt.want)
		}
	}
	// A URL carrying a secret is refused without being repeated.
	_, err := Open("openai-compat:http://user:hunter2@h/v1#m", Options{NoCache: true})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("credentials in the URL: %v", err)
	}
	_, err = Open("openai-compat:http://h/v1?api-key=hunter2#m", Options{NoCache: true})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("key in the query: %v", err)
	}
	c, err := Open("openai-compat:http://localhost:8000/v1/#qwen", Options{NoCache: true})
	if err != nil || c.Ref() != "openai-compat:http://localhost:8000/v1#qwen" {
		t.Errorf("openai-compat without a key: %v", err)
	}
}
