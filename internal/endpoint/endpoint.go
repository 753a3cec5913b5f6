// Package endpoint holds what mbd's clients of remote APIs share. First, the check applied to the
// URL of a remote API before a key is sent there: an API key goes in clear text over plain http, so
// it is only sent that way to the same machine (a loopback host) unless the user says otherwise with
// MBD_ALLOW_INSECURE_KEY=1. Then the handling of error answers: keeping the body of one for the
// caller's SDK, extracting a short message from it in the formats of OpenAI, vLLM, FastAPI,
// Anthropic and Gemini, and redacting the key from every message.
package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// AllowInsecureEnv names the environment variable that allows sending a key over plain http to
// another machine (a trusted network, a tunnel).
const AllowInsecureEnv = "MBD_ALLOW_INSECURE_KEY"

// CheckKey refuses to send a key (keyEnv names where it came from) to base over plain http
// unless the host is a loopback address or AllowInsecureEnv is 1. It returns nil when there is
// no key to send.
func CheckKey(base, keyEnv string, haveKey bool) error {
	if !haveKey {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("base URL is not a URL")
	}
	if !strings.EqualFold(u.Scheme, "http") || Loopback(u.Hostname()) || os.Getenv(AllowInsecureEnv) == "1" {
		return nil
	}
	return fmt.Errorf("refusing to send the API key in %s in clear text to %s (plain http to another machine): use https, unset %s, or set %s=1",
		keyEnv, u.Host, keyEnv, AllowInsecureEnv)
}

// Loopback reports whether host (a name or an address, without port) is this machine.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// KeepErrorBody reads the body of an error answer (status >= 400), at most limit bytes, and puts
// what it read back in res.Body, so that an SDK that cannot parse every server's error format
// still reads the same body. It returns nil for other answers.
func KeepErrorBody(res *http.Response, limit int64) ([]byte, error) {
	if res.StatusCode < 400 || res.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit))
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

// Message extracts a short human message from the body of an error answer: {"error":{"message"}}
// (OpenAI, newer vLLM, Anthropic, Gemini), a top-level "message" (older vLLM), "detail" (FastAPI)
// or "error" string (vLLM's {"error": "Unauthorized"}), such a field that is not a string as JSON,
// or else the text itself.
func Message(raw []byte) string {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		if e, ok := obj["error"].(map[string]any); ok {
			obj = e
		}
		for _, k := range []string{"message", "detail", "error"} {
			switch v := obj[k].(type) {
			case nil:
			case string:
				if v != "" {
					return Clip(v)
				}
			default:
				if b, err := json.Marshal(v); err == nil {
					return Clip(string(b))
				}
			}
		}
	}
	return Clip(strings.TrimSpace(string(raw)))
}

// Clip shortens s to 500 bytes and an ellipsis.
func Clip(s string) string {
	const max = 500
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// Redact removes key from s.
func Redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// RedactErr makes sure key never appears in err's message (errors.Is and errors.As still see err).
func RedactErr(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return WithMessage(err, Redact(err.Error(), key))
}

// WithMessage returns an error whose message is msg (a redacted or shortened one) and that wraps err.
func WithMessage(err error, msg string) error { return &messageError{msg: msg, err: err} }

type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }
