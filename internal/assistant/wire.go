package assistant

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mbd-dev/mbd/internal/endpoint"
)

// This file holds what the HTTP providers share: an HTTP client that records the status, headers
// and error body of each answer for the call that made it (the SDKs do not all expose them), and
// the Retry-After parser. Error bodies, messages and redaction are endpoint's.

// callInfo is what the transport saw of a call's last HTTP answer.
type callInfo struct {
	status int
	header http.Header
	body   []byte // error answers only (status >= 400), at most 64 KiB
}

type callInfoKey struct{}

// withCallInfo returns a context under which the providers' HTTP client records into info.
func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	info := &callInfo{}
	return context.WithValue(ctx, callInfoKey{}, info), info
}

type recordingTransport struct{ base http.RoundTripper }

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	info, _ := req.Context().Value(callInfoKey{}).(*callInfo)
	if info == nil || res == nil {
		return res, err
	}
	body, rerr := endpoint.KeepErrorBody(res, 64<<10)
	info.status, info.header, info.body = res.StatusCode, res.Header, body
	if rerr != nil {
		return res, rerr
	}
	return res, err
}

// newHTTPClient is the HTTP client of one provider: no overall timeout (Client sets one per call
// through the context).
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: recordingTransport{base: tr}}
}

// wireError turns a failed SDK call into the error Client expects: an *APIError when the server
// answered with an error status, else the SDK's error with context. The key is redacted from both.
func wireError(provider, key string, info *callInfo, err error) error {
	if info.status >= 400 {
		msg := endpoint.Message(info.body)
		if msg == "" {
			msg = http.StatusText(info.status)
		}
		return &APIError{
			Provider:   provider,
			Status:     info.status,
			RetryAfter: parseRetryAfter(info.header, time.Now()),
			Message:    endpoint.Redact(msg, key),
		}
	}
	// The SDK's message, on one line (genai appends the whole body of an unparsable answer).
	e := fmt.Errorf("%s: %w", provider, err)
	msg := endpoint.Redact(e.Error(), key)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg = endpoint.Clip(msg); msg == e.Error() {
		return e
	}
	return endpoint.WithMessage(e, msg)
}

// parseRetryAfter reads retry-after-ms (OpenAI, Anthropic) or Retry-After (seconds or an HTTP
// date); 0 when absent or unreadable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
