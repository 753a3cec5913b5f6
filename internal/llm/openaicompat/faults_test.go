package openaicompat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat/vllmtest"
)

func TestRetryAfter429(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ra   func(time.Time) string
		min  time.Duration
	}{
		{"seconds", vllmtest.RetryAfterSeconds(1), time.Second},
		// An HTTP date has whole seconds: now+2s truncated is at least 1s away.
		{"date", vllmtest.RetryAfterDate(2 * time.Second), time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, vllmtest.WithTooManyRequests(1, tc.ra))
			// MaxRetryDelay caps backoff, not how long a Retry-After is honoured up to; use 5s.
			c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.MaxRetryDelay = 5 * time.Second })
			start := time.Now()
			got, err := collect(t, c, genReqs(1), llm.Sampling{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %v", got)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if gap := reqs[1].Time.Sub(reqs[0].Time); gap < tc.min {
				t.Errorf("retried after %v, Retry-After asked for at least %v", gap, tc.min)
			}
			if el := time.Since(start); el > 4*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	srv := newServer(t, vllmtest.WithTooManyRequests(1, vllmtest.RetryAfterSeconds(60)))
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.MaxRetryDelay = time.Second })
	_, err := collect(t, c, genReqs(1), llm.Sampling{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), `wait "60"`) {
		t.Fatalf("err = %v; want a 429 error saying the wait was too long", err)
	}
}

func TestRetry500ThenSuccess(t *testing.T) {
	srv := newServer(t, vllmtest.WithServerErrors(2))
	c := newClient(t, srv, nil)
	got, err := collect(t, c, genReqs(1), llm.Sampling{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(srv.Requests()) != 3 {
		t.Errorf("got %d results after %d requests; want 1 after 3", len(got), len(srv.Requests()))
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := newServer(t, vllmtest.WithServerErrors(100))
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.MaxRetries = 2 })
	_, err := collect(t, c, genReqs(1), llm.Sampling{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{srv.BaseURL(), "/completions", "HTTP 500", "injected server error", "gave up after 3 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	var he *openaicompat.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 500 {
		t.Errorf("error %v is not an HTTPError 500", err)
	}

	// No retries at all.
	srv2 := newServer(t, vllmtest.WithServerErrors(100))
	c2 := newClient(t, srv2, func(cfg *openaicompat.Config) { cfg.MaxRetries = -1 })
	if _, err := collect(t, c2, genReqs(1), llm.Sampling{}); err == nil || len(srv2.Requests()) != 1 {
		t.Errorf("err %v after %d requests; want an error after 1", err, len(srv2.Requests()))
	}
}

func TestTruncatedJSON(t *testing.T) {
	srv := newServer(t, vllmtest.WithTruncatedJSON(1))
	c := newClient(t, srv, nil)
	_, err := collect(t, c, genReqs(1), llm.Sampling{})
	if err == nil || !strings.Contains(err.Error(), "invalid JSON") || !strings.Contains(err.Error(), srv.BaseURL()) {
		t.Fatalf("err = %v; want an invalid JSON error naming the server", err)
	}
}

func TestTimeout(t *testing.T) {
	srv := newServer(t, vllmtest.WithDelay(2*time.Second))
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.Timeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := collect(t, c, genReqs(1), llm.Sampling{})
	if err == nil || !strings.Contains(err.Error(), "per-request timeout of 100ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want a timeout error", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("timed out after %v", el)
	}
}

func TestCallerCancel(t *testing.T) {
	srv := newServer(t, vllmtest.WithDelay(2*time.Second))
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.Generate(ctx, genReqs(20), llm.Sampling{}, func(llm.GenResult) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the caller's deadline", err)
	}
}

func TestYieldErrorStops(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.Concurrency = 1 })
	stop := errors.New("enough")
	n := 0
	err := c.Generate(context.Background(), genReqs(10), llm.Sampling{}, func(llm.GenResult) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d yields; want %v after 1", err, n, stop)
	}
}

func TestYieldMayCallTheClient(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.Concurrency = 1 })
	err := c.Generate(context.Background(), genReqs(3), llm.Sampling{MaxTokens: 4}, func(r llm.GenResult) error {
		_, err := c.Score(context.Background(), []llm.ScoreRequest{{Prompt: "p", Completion: r.Completion}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrencyBound(t *testing.T) {
	srv := newServer(t, vllmtest.WithDelay(40*time.Millisecond))
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.Concurrency = 3 })
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	// Generate, Score and Embed at the same time share the bound.
	wg.Add(3)
	go func() {
		defer wg.Done()
		_, err := collect(t, c, genReqs(9), llm.Sampling{})
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := c.Score(context.Background(), []llm.ScoreRequest{{Prompt: "a", Completion: "b"}, {Prompt: "c", Completion: "d"}, {Prompt: "e", Completion: "f"}})
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := c.Embed(context.Background(), []string{"a", "b", "c", "d", "e"})
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := srv.MaxInFlight(); m > 3 || m < 2 {
		t.Errorf("max in flight %d; want 2..3 (bound 3)", m)
	}
}

func TestRateLimit(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.RequestsPerSecond = 20 })
	start := time.Now()
	if _, err := collect(t, c, genReqs(5), llm.Sampling{}); err != nil {
		t.Fatal(err)
	}
	// Burst 1 at 20/s: 5 requests need at least 4 intervals of 50ms.
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Errorf("5 requests at 20/s took %v", el)
	}
}

func TestAPIKeyNeverInErrors(t *testing.T) {
	const key = "sk-test-0123456789-secret"
	t.Setenv("MBD_TEST_API_KEY", key)

	// A server that echoes the Authorization header in its error message.
	var gotAuth string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"message":"invalid key %s","type":"auth"}}`, gotAuth)
	}))
	defer echo.Close()
	cfg := openaicompat.Config{BaseURL: echo.URL + "/v1", Model: "m", APIKeyEnv: "MBD_TEST_API_KEY"}
	c, err := openaicompat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = collect(t, c, genReqs(1), llm.Sampling{})
	if gotAuth != "Bearer "+key {
		t.Errorf("Authorization %q; want the key from the environment", gotAuth)
	}
	if err == nil || strings.Contains(err.Error(), key) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), key) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("error %v: want a 401 error without the key", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %+v", cfg, cfg, c.Info()), key) {
		t.Error("config or info shows the key")
	}
	_, err = c.Score(context.Background(), []llm.ScoreRequest{{Prompt: "a", Completion: "b"}})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("score error %v", err)
	}

	// Connection errors.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c2, _ := openaicompat.New(openaicompat.Config{BaseURL: dead.URL + "/v1", Model: "m", APIKeyEnv: "MBD_TEST_API_KEY", MaxRetries: -1})
	if _, err := collect(t, c2, genReqs(1), llm.Sampling{}); err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("connection error %v", err)
	}

	// The fake server checks the key.
	srv := newServer(t, vllmtest.WithAPIKey(key))
	c3 := newClient(t, srv, func(cfg *openaicompat.Config) { cfg.APIKeyEnv = "MBD_TEST_API_KEY" })
	if _, err := collect(t, c3, genReqs(1), llm.Sampling{}); err != nil {
		t.Fatal(err)
	}
	srv4 := newServer(t, vllmtest.WithAPIKey("other"))
	c4 := newClient(t, srv4, func(cfg *openaicompat.Config) { cfg.APIKeyEnv = "MBD_TEST_API_KEY" })
	if _, err := collect(t, c4, genReqs(1), llm.Sampling{}); err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: err %v", err)
	}

	// openai: refs require a key.
	t.Setenv("MBD_TEST_EMPTY_KEY", "")
	rc, err := openaicompat.ParseRef("openai:gpt-4o-mini?key_env=MBD_TEST_EMPTY_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openaicompat.New(rc); err == nil || !strings.Contains(err.Error(), "MBD_TEST_EMPTY_KEY") {
		t.Errorf("missing key: err %v", err)
	}
}
