package endpoint

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		base    string
		key     bool
		allow   string
		wantErr bool
	}{
		{"http://10.0.0.5:8000/v1", true, "", true},
		{"http://example.com/v1", true, "", true},
		{"HTTP://example.com/v1", true, "", true},
		{"http://example.com/v1", true, "1", false},
		{"http://example.com/v1", true, "yes", true},
		{"http://example.com/v1", false, "", false},
		{"https://example.com/v1", true, "", false},
		{"http://127.0.0.1:8000/v1", true, "", false},
		{"http://127.8.9.1/v1", true, "", false},
		{"http://[::1]:8000/v1", true, "", false},
		{"http://localhost:8000/v1", true, "", false},
		{"http://api.localhost/v1", true, "", false},
		{"http://localhost.example.com/v1", true, "", true},
	} {
		t.Setenv(AllowInsecureEnv, tc.allow)
		err := CheckKey(tc.base, "OPENAI_API_KEY", tc.key)
		if (err != nil) != tc.wantErr {
			t.Errorf("CheckKey(%s, key=%v, allow=%q) = %v, want error %v", tc.base, tc.key, tc.allow, err, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "OPENAI_API_KEY") {
			t.Errorf("message does not name the variable: %v", err)
		}
	}
}

func TestMessage(t *testing.T) {
	long := strings.Repeat("x", 600)
	for _, tc := range []struct{ body, want string }{
		{`{"error":{"message":"bad model","type":"invalid_request_error"}}`, "bad model"},      // OpenAI, vLLM
		{`{"type":"error","error":{"type":"api_error","message":"overloaded"}}`, "overloaded"}, // Anthropic
		{`{"message":"old vLLM"}`, "old vLLM"},
		{`{"detail":"Not Found"}`, "Not Found"}, // FastAPI
		{`{"detail":[{"loc":["body"],"msg":"field required"}]}`, `[{"loc":["body"],"msg":"field required"}]`},
		{`{"error":"Unauthorized"}`, "Unauthorized"},
		{`{"error":{"message":""},"detail":"x"}`, `{"error":{"message":""},"detail":"x"}`}, // the error object has no message
		{"  upstream timed out\n", "upstream timed out"},
		{long, long[:500] + "..."},
		{"", ""},
	} {
		if got := Message([]byte(tc.body)); got != tc.want {
			t.Errorf("Message(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestRedactErr(t *testing.T) {
	base := errors.New("call with sk-123 failed")
	err := RedactErr(base, "sk-123")
	if err.Error() != "call with [redacted] failed" || !errors.Is(err, base) {
		t.Errorf("RedactErr: %q (wraps the error: %v)", err, errors.Is(err, base))
	}
	if RedactErr(base, "other") != base || RedactErr(base, "") != base || RedactErr(nil, "k") != nil {
		t.Error("RedactErr changed an error without the key")
	}
}
