// Package openaicompat is the llm.Model backend for OpenAI-compatible HTTP servers (vLLM first of
// all, also hosted OpenAI) built on github.com/openai/openai-go/v3.
//
// Generation uses /v1/completions or /v1/chat/completions, one request per prompt, at most
// Config.Concurrency in flight. Scoring uses vLLM's extensions (POST /tokenize and
// prompt_logprobs on /v1/completions); servers without them give llm.ErrCannotScore. Embedding
// uses /v1/embeddings. Zero-valued sampling fields that matter (temperature 0, max_tokens 0,
// logprobs 0) are sent explicitly, which is why this package uses openai-go's param.Opt fields
// rather than a client that drops zero values.
package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"golang.org/x/time/rate"

	"github.com/mbd-dev/mbd/internal/endpoint"
	"github.com/mbd-dev/mbd/internal/llm"
)

// Client is an llm.Model talking to an OpenAI-compatible server. It is safe for concurrent use.
type Client struct {
	cfg      Config
	base     string // BaseURL without trailing slash
	root     string // base without a trailing /v1: where vLLM serves /tokenize
	key      string // never printed; redacted from every error
	hosted   bool   // api.openai.com: no vLLM extensions
	timeout  time.Duration
	retries  int
	sem      chan struct{}
	limiter  *rate.Limiter
	ownHTTP  *http.Client // set when New built the HTTP client (closed by Close)
	api      openai.Client
	complSvc openai.CompletionService
	chatSvc  openai.ChatCompletionService
	embSvc   openai.EmbeddingService
	opts     []option.RequestOption // for the services built on demand (files, fine-tuning)

	tokMu    sync.Mutex
	tokCache map[tokKey][]int32
}

var _ llm.Model = (*Client)(nil)

// New validates cfg, applies defaults and builds a client. It makes no network requests.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("openai-compat: no base URL (e.g. http://host:8000/v1)")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openai-compat: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	if u.User != nil {
		return nil, errors.New("openai-compat: base URL must not contain credentials; put the API key in an environment variable")
	}
	if cfg.Model == "" {
		return nil, fmt.Errorf("openai-compat %s: no model name", cfg.BaseURL)
	}
	if cfg.SystemPromptFile != "" {
		if cfg.SystemPrompt != "" {
			return nil, errors.New("openai-compat: set SystemPrompt or SystemPromptFile, not both")
		}
		b, err := os.ReadFile(cfg.SystemPromptFile)
		if err != nil {
			return nil, fmt.Errorf("openai-compat: reading system prompt: %w", err)
		}
		cfg.SystemPrompt = strings.TrimSpace(string(b)) // as gguf: refs do
	}
	if cfg.SystemPrompt != "" && !cfg.Chat {
		return nil, errors.New("openai-compat: a system prompt needs the chat API (Chat: true / chat=1)")
	}
	if cfg.APIKeyEnv == "" {
		cfg.APIKeyEnv = DefaultAPIKeyEnv
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.EmbedBatchSize <= 0 {
		cfg.EmbedBatchSize = DefaultEmbedBatchSize
	}
	if cfg.RequestsPerSecond < 0 {
		return nil, errors.New("openai-compat: negative RequestsPerSecond")
	}
	c := &Client{cfg: cfg, key: os.Getenv(cfg.APIKeyEnv), tokCache: map[tokKey][]int32{}}
	if cfg.RequireAPIKey && c.key == "" {
		return nil, fmt.Errorf("openai-compat %s: environment variable %s with the API key is not set", cfg.BaseURL, cfg.APIKeyEnv)
	}
	if err := endpoint.CheckKey(cfg.BaseURL, cfg.APIKeyEnv, c.key != ""); err != nil {
		return nil, fmt.Errorf("openai-compat %s: %w", cfg.BaseURL, err)
	}
	c.base = strings.TrimRight(cfg.BaseURL, "/")
	c.root = strings.TrimSuffix(c.base, "/v1")
	c.hosted = u.Host == "api.openai.com"
	switch {
	case cfg.MaxRetries == 0:
		c.retries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		c.retries = 0
	default:
		c.retries = cfg.MaxRetries
	}
	switch {
	case cfg.Timeout == 0:
		c.timeout = DefaultTimeout
	case cfg.Timeout > 0:
		c.timeout = cfg.Timeout
	}
	c.sem = make(chan struct{}, cfg.Concurrency)
	if cfg.RequestsPerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), 1)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Concurrency
		hc = &http.Client{Transport: tr}
		c.ownHTTP = hc
	}
	// Not openai.NewClient: it would pick up OPENAI_BASE_URL, OPENAI_ORG_ID and friends from the
	// environment, and the key must come only from cfg.APIKeyEnv.
	opts := []option.RequestOption{
		option.WithHTTPClient(hc),
		option.WithBaseURL(c.base + "/"),
		option.WithMaxRetries(c.retries),
	}
	if c.key != "" {
		opts = append(opts, option.WithAPIKey(c.key))
	}
	if c.timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(c.timeout))
	}
	if cfg.MaxRetryDelay > 0 {
		opts = append(opts, option.WithMaxRetryDelay(cfg.MaxRetryDelay))
	}
	c.api = openai.Client{Options: opts}
	c.complSvc = openai.NewCompletionService(opts...)
	c.chatSvc = openai.NewChatCompletionService(opts...)
	c.embSvc = openai.NewEmbeddingService(opts...)
	c.opts = opts
	return c, nil
}

// Info describes the remote model as far as the reference tells (no request is made).
func (c *Client) Info() llm.Info {
	ref := c.cfg.Ref
	if ref == "" {
		ref = "openai-compat:" + c.base + "#" + c.cfg.Model
		if c.cfg.Chat {
			ref += "?chat=1"
		}
	}
	api := "completions"
	if c.cfg.Chat {
		api = "chat"
	}
	return llm.Info{
		Ref:         ref,
		Arch:        "remote",
		Description: fmt.Sprintf("%s served by the OpenAI-compatible server at %s (%s API)", c.cfg.Model, c.base, api),
		Metadata:    map[string]string{"base_url": c.base, "model": c.cfg.Model, "api": api},
	}
}

// Close releases idle connections of the HTTP client New created.
func (c *Client) Close() error {
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections()
	}
	return nil
}

// parallel runs fn(ctx, i) for i in [0, n), at most Concurrency at a time (the bound is shared
// with every other call on the client), then, if fn succeeded, then(i) after the slot is released
// (so that a slow or re-entrant callback does not hold it). The first error cancels the others and
// is returned; a cancelled parent context wins over the errors it caused.
func (c *Client) parallel(parent context.Context, n int, fn func(ctx context.Context, i int) error, then func(i int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for i := 0; i < n; i++ {
		if !c.acquire(ctx) {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := fn(ctx, i)
			<-c.sem
			if err == nil && then != nil {
				err = then(i)
			}
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return fmt.Errorf("openai-compat %s: %w", c.base, err)
	}
	return firstErr
}

// acquire takes a concurrency slot, or reports false when ctx ends first.
func (c *Client) acquire(ctx context.Context) bool {
	select {
	case c.sem <- struct{}{}:
		if ctx.Err() != nil {
			<-c.sem
			return false
		}
		return true
	case <-ctx.Done():
		return false
	}
}

// call makes one logical API request through openai-go (which retries), after waiting for the
// rate limiter, and turns failures into errors that name the server, endpoint and attempts.
func (c *Client) call(ctx context.Context, path string, fn func(ctx context.Context, opts ...option.RequestOption) error) error {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("openai-compat %s: %w", c.base, ctx.Err())
			}
			return fmt.Errorf("openai-compat %s: rate limiter: %w", c.base, err)
		}
	}
	var st attemptState
	count := option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		st.attempts++
		res, err := next(req)
		st.retryAfter, st.status, st.body = "", 0, nil
		if res != nil {
			st.retryAfter = res.Header.Get("Retry-After")
			st.status = res.StatusCode
			// Keep the error body: openai-go cannot parse every server's error format
			// (vLLM's 401 is {"error": "Unauthorized"}).
			var rerr error
			if st.body, rerr = endpoint.KeepErrorBody(res, 1<<20); rerr != nil {
				return res, rerr
			}
		}
		return res, err
	})
	err := fn(ctx, count)
	if err == nil {
		return nil
	}
	return c.describe(ctx, path, st, err)
}

// request makes the API request fn(ctx, params) through c.call and returns its response; fn is an
// openai-go service method such as c.complSvc.New.
func request[P, R any](ctx context.Context, c *Client, path string, fn func(context.Context, P, ...option.RequestOption) (*R, error), params P) (*R, error) {
	var resp *R
	err := c.call(ctx, path, func(ctx context.Context, opts ...option.RequestOption) (err error) {
		resp, err = fn(ctx, params, opts...)
		return err
	})
	return resp, err
}

// attemptState records the last attempt of a call.
type attemptState struct {
	attempts   int
	status     int
	retryAfter string
	body       []byte
}

// HTTPError is an error answer from the server.
type HTTPError struct {
	StatusCode int
	msg        string
	err        error
}

func (e *HTTPError) Error() string { return e.msg }
func (e *HTTPError) Unwrap() error { return e.err }

// statusOf returns the HTTP status of an error answer, 0 for other errors.
func statusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

func (c *Client) where(path string) string {
	return fmt.Sprintf("openai-compat %s (model %q): POST %s", c.base, c.cfg.Model, path)
}

func (c *Client) describe(ctx context.Context, path string, st attemptState, err error) error {
	where := c.where(path)
	var out error
	switch {
	case ctx.Err() != nil:
		out = fmt.Errorf("%s: %w", where, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		out = fmt.Errorf("%s: no response within the per-request timeout of %s: %w", where, c.timeout, err)
	case st.status >= 400:
		msg := fmt.Sprintf("%s: HTTP %d %s", where, st.status, http.StatusText(st.status))
		if sm := endpoint.Message(st.body); sm != "" {
			msg += ": " + sm
		}
		if st.attempts > 1 {
			msg += fmt.Sprintf(" (gave up after %d attempts)", st.attempts)
		} else if c.retries > 0 && st.retryAfter != "" && (st.status == 429 || st.status >= 500) {
			msg += fmt.Sprintf(" (not retried: the server asked to wait %q, longer than the maximum retry delay)", st.retryAfter)
		}
		out = &HTTPError{StatusCode: st.status, msg: endpoint.Redact(msg, c.key), err: err}
	case strings.Contains(err.Error(), "error parsing response json"), isJSONError(err):
		out = fmt.Errorf("%s: invalid JSON in the response (truncated or not JSON): %w", where, err)
	case st.attempts > 1:
		out = fmt.Errorf("%s: gave up after %d attempts: %w", where, st.attempts, err)
	default:
		out = fmt.Errorf("%s: %w", where, err)
	}
	return endpoint.RedactErr(out, c.key)
}

func isJSONError(err error) bool {
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF)
}
