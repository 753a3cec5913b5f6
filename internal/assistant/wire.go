package assistant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file holds what the HTTP providers share: an HTTP client that records the status, headers
// and error body of each answer for the call that made it (the SDKs do not all expose them), the
// Retry-After parser, and key redaction.

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
	info.status, info.header, info.body = res.StatusCode, res.Header, nil
	if res.StatusCode >= 400 && res.Body != nil {
		b, rerr := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		info.body = b
		res.Body = io.NopCloser(bytes.NewReader(b))
		if rerr != nil {
			return res, rerr
		}
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
		msg := serverMessage(info.body)
		if msg == "" {
			msg = http.StatusText(info.status)
		}
		return &APIError{
			Provider:   provider,
			Status:     info.status,
			RetryAfter: parseRetryAfter(info.header, time.Now()),
			Message:    redact(msg, key),
		}
	}
	// The SDK's message, on one line (genai appends the whole body of an unparsable answer).
	e := fmt.Errorf("%s: %w", provider, err)
	msg := redact(e.Error(), key)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg = clip(msg); msg == e.Error() {
		return e
	}
	return &redactedError{msg: msg, err: e}
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

// serverMessage extracts a short message from an error body: {"error":{"message"}} (OpenAI,
// Anthropic, Gemini), a top-level "message", "detail" or "error" string, or the text itself.
func serverMessage(raw []byte) string {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		if e, ok := obj["error"].(map[string]any); ok {
			obj = e
		}
		for _, k := range []string{"message", "detail", "error"} {
			if s, ok := obj[k].(string); ok && s != "" {
				return clip(s)
			}
		}
	}
	return clip(strings.TrimSpace(string(raw)))
}

func clip(s string) string {
	const max = 500
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// redact removes key from s.
func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// redactErr makes sure key never appears in err's message (errors.Is and As still see err).
func redactErr(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &redactedError{msg: redact(err.Error(), key), err: err}
}

// redactedError keeps the redacted (and maybe shortened) message, not the key.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
