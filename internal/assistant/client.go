package assistant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Options.
const (
	DefaultConcurrency = 4
	DefaultMaxRetries  = 5
	DefaultTimeout     = 120 * time.Second
	// DefaultMaxTokens is the answer length asked for when Request.MaxTokens is 0 (Anthropic and
	// local models need one).
	DefaultMaxTokens = 1024

	backoffBase = time.Second
	backoffCap  = 60 * time.Second
	// maxRetryAfter is the longest wait a Retry-After header is obeyed for; a server that asks for
	// more (a daily quota, say) gets no retry and the call fails with its message.
	maxRetryAfter = 10 * time.Minute
)

// Options configure a Client. The zero value is usable: cache under the user's cache folder,
// 4 calls at a time, no rate limits, 5 retries, 120 s per call, no budget, DefaultPrices.
type Options struct {
	// CacheDir holds the answer cache; default $XDG_CACHE_HOME/mbd/assistant (~/.cache/mbd/assistant).
	CacheDir string
	// NoCache turns the cache off (neither read nor written).
	NoCache bool
	// Concurrency is the most calls in flight at once (default 4).
	Concurrency int
	// RequestsPerMinute and TokensPerMinute limit the calls made (0: unlimited). Tokens are
	// estimated before a call as a quarter of the characters of the messages plus the answer length
	// asked for.
	RequestsPerMinute float64
	TokensPerMinute   int
	// MaxRetries is the number of retries after a failed call that is worth retrying (HTTP 429,
	// 408, 409, 5xx, timeouts, connection errors); default 5, negative for none. Waits grow
	// exponentially from 1 s to at most 60 s, with jitter; a Retry-After header wins when present.
	MaxRetries int
	// Timeout bounds each call (default 120 s, negative for none). A call that times out is retried.
	Timeout time.Duration
	// Budget in dollars stops the run cleanly: once the cost of the answers received reaches it, a
	// call that is not answered from the cache returns an error wrapping ErrBudget, without being
	// made. Calls already in flight finish, so the spend can overshoot the budget by at most the
	// cost of Concurrency calls. 0 means no budget. The cost comes from Prices: a model without a
	// price costs 0, so no budget applies to it (a warning says so).
	Budget float64
	// Prices add to and override DefaultPrices, keyed by model name (or by the full reference).
	Prices map[string]Price
	// Logger gets retries, cache problems and price warnings; default slog.Default().
	Logger *slog.Logger
	// Sleep waits between retries; default a timer that ends early with ctx. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Seed seeds the jitter of the backoff; 0 seeds it from the clock.
	Seed uint64
}

// Usage counts what a Client did. Calls are requests sent to the provider (retries included);
// tokens and cost are those of the answers received, refusals included, cache hits excluded.
type Usage struct {
	Calls        int     `json:"calls"`
	CacheHits    int     `json:"cache_hits"`
	Retries      int     `json:"retries"`
	Errors       int     `json:"errors"` // Chat calls that failed after their retries (budget stops and cancellations aside)
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	Cost         float64 `json:"cost"` // dollars
}

// Client sends requests to a Provider through the cache, the concurrency bound, the rate limits,
// retries and the budget. It is safe for concurrent use.
type Client struct {
	p          Provider
	ref        string
	endpoint   string // the provider's resolved base URL, part of the cache key
	cacheDir   string // "" when the cache is off
	timeout    time.Duration
	maxRetries int
	budget     float64
	price      Price
	priced     bool
	log        *slog.Logger
	sleep      func(ctx context.Context, d time.Duration) error
	sem        chan struct{}
	rpm        *rate.Limiter
	tpm        *rate.Limiter
	tpmBurst   int

	mu          sync.Mutex
	usage       Usage
	rng         *rand.Rand
	priceWarned bool
}

// New wraps a provider. It makes no call.
func New(p Provider, o Options) (*Client, error) {
	if p == nil {
		return nil, errors.New("assistant: no provider")
	}
	if o.Concurrency < 0 || o.RequestsPerMinute < 0 || o.TokensPerMinute < 0 || o.Budget < 0 {
		return nil, errors.New("assistant: negative concurrency, rate limit or budget")
	}
	c := &Client{
		p:          p,
		ref:        p.Ref(),
		endpoint:   endpointOf(p),
		timeout:    o.Timeout,
		maxRetries: o.MaxRetries,
		budget:     o.Budget,
		log:        o.Logger,
		sleep:      o.Sleep,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	n := o.Concurrency
	if n == 0 {
		n = DefaultConcurrency
	}
	c.sem = make(chan struct{}, n)
	if o.RequestsPerMinute > 0 {
		c.rpm = rate.NewLimiter(rate.Limit(o.RequestsPerMinute/60), 1)
	}
	if o.TokensPerMinute > 0 {
		c.tpmBurst = o.TokensPerMinute
		c.tpm = rate.NewLimiter(rate.Limit(float64(o.TokensPerMinute)/60), o.TokensPerMinute)
	}
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	c.rng = rand.New(rand.NewPCG(seed, 0x6d6264)) // "mbd"
	c.price, c.priced = lookupPrice(c.ref, o.Prices)
	if !o.NoCache {
		dir := o.CacheDir
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return nil, fmt.Errorf("assistant: no cache folder (set CacheDir or XDG_CACHE_HOME, or turn the cache off): %w", err)
			}
			dir = filepath.Join(base, "mbd", "assistant")
		}
		c.cacheDir = dir
	}
	return c, nil
}

// endpointOf is the base URL of providers that report one.
func endpointOf(p Provider) string {
	if e, ok := p.(interface{ Endpoint() string }); ok {
		return e.Endpoint()
	}
	return ""
}

// Ref is the provider's model reference (it contains no key).
func (c *Client) Ref() string { return c.ref }

// Usage returns the counters so far.
func (c *Client) Usage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage
}

// Close releases the provider's resources (the loaded model of a gguf: provider).
func (c *Client) Close() error {
	if cl, ok := c.p.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Chat answers req from the cache or by calling the provider, retrying failures that are worth
// it. Refusals are answers (Refused set), and are cached like any other. Errors name the model
// reference; once the budget is spent they wrap ErrBudget; a cancelled ctx is returned as is
// (wrapped), never retried.
func (c *Client) Chat(ctx context.Context, req Request) (Response, error) {
	if len(req.Messages) == 0 {
		return Response{}, fmt.Errorf("%s: a request needs at least one message", c.ref)
	}
	var key string
	if c.cacheDir != "" {
		key = cacheKey(c.ref, c.endpoint, req)
		if resp, ok := c.cacheGet(key); ok {
			c.mu.Lock()
			c.usage.CacheHits++
			c.mu.Unlock()
			resp.Cached = true
			return resp, nil
		}
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, req)
		if err == nil {
			c.account(resp)
			if key != "" {
				c.cachePut(key, resp)
			}
			return resp, nil
		}
		if errors.Is(err, ErrBudget) {
			return Response{}, err
		}
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("%s: %w", c.ref, ctx.Err())
		}
		wait, retry := c.backoff(attempt, err)
		if !retry || attempt >= c.maxRetries {
			c.mu.Lock()
			c.usage.Errors++
			c.mu.Unlock()
			var ae *APIError
			switch {
			case errors.As(err, &ae) && ae.RetryAfter > maxRetryAfter:
				return Response{}, fmt.Errorf("%s: %w (not retried: the server asked to wait %s)", c.ref, err, ae.RetryAfter)
			case attempt > 0:
				return Response{}, fmt.Errorf("%s: gave up after %d attempts: %w", c.ref, attempt+1, err)
			}
			return Response{}, fmt.Errorf("%s: %w", c.ref, err)
		}
		c.log.Warn("assistant call failed; retrying", "model", c.ref, "attempt", attempt+1, "wait", wait, "err", err)
		c.mu.Lock()
		c.usage.Retries++
		c.mu.Unlock()
		if err := c.sleep(ctx, wait); err != nil {
			return Response{}, fmt.Errorf("%s: %w", c.ref, err)
		}
	}
}

// attempt makes one call to the provider within the budget, the concurrency bound, the rate
// limits and the per-call timeout.
func (c *Client) attempt(ctx context.Context, req Request) (Response, error) {
	if err := c.checkBudget(); err != nil {
		return Response{}, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	}
	defer func() { <-c.sem }()
	// Check again: the calls we waited for may have spent the rest.
	if err := c.checkBudget(); err != nil {
		return Response{}, err
	}
	if c.rpm != nil {
		if err := c.rpm.Wait(ctx); err != nil {
			return Response{}, fmt.Errorf("request rate limit: %w", err)
		}
	}
	if c.tpm != nil {
		if err := c.tpm.WaitN(ctx, min(estimateTokens(req), c.tpmBurst)); err != nil {
			return Response{}, fmt.Errorf("token rate limit: %w", err)
		}
	}
	callCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	c.mu.Lock()
	c.usage.Calls++
	c.mu.Unlock()
	resp, err := c.p.Chat(callCtx, req)
	if err != nil && ctx.Err() == nil && callCtx.Err() == context.DeadlineExceeded {
		// Our per-call timeout, not the caller's context: say so, and make sure errors.Is sees it.
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", c.timeout, err)
		} else {
			err = fmt.Errorf("no answer within %s: %w (%v)", c.timeout, context.DeadlineExceeded, err)
		}
	}
	return resp, err
}

func (c *Client) checkBudget() error {
	if c.budget <= 0 {
		return nil
	}
	c.mu.Lock()
	spent := c.usage.Cost
	c.mu.Unlock()
	if spent >= c.budget {
		return fmt.Errorf("%s: spent $%.4f of the $%.4f budget: %w", c.ref, spent, c.budget, ErrBudget)
	}
	return nil
}

func (c *Client) account(resp Response) {
	cost := c.price.cost(resp.InputTokens, resp.OutputTokens)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.usage.InputTokens += int64(resp.InputTokens)
	c.usage.OutputTokens += int64(resp.OutputTokens)
	c.usage.Cost += cost
	if !c.priced && !c.priceWarned && modelName(c.ref) != "" {
		c.priceWarned = true
		c.log.Warn("no price for this assistant model: its cost counts as 0 and no budget applies (set prices to fix)", "model", c.ref)
	}
}

// backoff says how long to wait before retry number attempt+1, and whether to retry at all.
func (c *Client) backoff(attempt int, err error) (time.Duration, bool) {
	if !retryable(err) {
		return 0, false
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		if ae.RetryAfter > maxRetryAfter {
			return 0, false
		}
		return ae.RetryAfter, true
	}
	d := backoffCap
	if attempt < 16 {
		d = min(backoffCap, backoffBase<<attempt)
	}
	c.mu.Lock()
	jitter := time.Duration(c.rng.Int64N(int64(d/2) + 1))
	c.mu.Unlock()
	return d/2 + jitter, true
}

// retryable reports whether a failed call is worth making again: HTTP 429, 408, 409 and 5xx,
// timeouts, and transport failures (connection refused or reset, closed before an answer).
// Answers that cannot be parsed are not retried.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Retryable()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true // http.Client.Do failed: no answer came
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// estimateTokens guesses the tokens of a call for the token rate limit: 4 characters a token for
// the messages, plus the answer length asked for.
func estimateTokens(req Request) int {
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	out := req.MaxTokens
	if out <= 0 {
		out = DefaultMaxTokens
	}
	return n/4 + out + 1
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
