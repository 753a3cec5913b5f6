package assistant

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Answers cached from one base URL must not be served for another: the endpoint is in the key.
func TestCacheKeyedByEndpoint(t *testing.T) {
	server := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c","object":"chat.completion","created":1,"model":"m",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, name)
		}))
	}
	one, two := server("one"), server("two")
	defer one.Close()
	defer two.Close()
	dir := t.TempDir()
	t.Setenv("OPENAI_API_KEY", "sk-test")
	for _, tc := range []struct{ base, want string }{
		{one.URL + "/v1", "one"}, {two.URL + "/v1", "two"}, {one.URL + "/v1", "one"},
	} {
		t.Setenv("OPENAI_BASE_URL", tc.base)
		c, err := Open("openai:gpt-4o-mini", Options{CacheDir: dir, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Chat(context.Background(), ask("same question"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text != tc.want {
			t.Errorf("base %s answered %q (cached %v), want %q", tc.base, resp.Text, resp.Cached, tc.want)
		}
	}
	if cacheKey("openai:m", "http://a/v1", ask("x")) == cacheKey("openai:m", "http://b/v1", ask("x")) {
		t.Error("the key ignores the endpoint")
	}
}

// A key is never sent in clear text to another machine without the user's say-so.
func TestKeyNotSentOverPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		ref, baseEnv, base, keyEnv string
		allow, wantErr             bool
	}{
		{ref: "openai-compat:http://10.1.2.3:8000/v1#m", keyEnv: "OPENAI_API_KEY", wantErr: true},
		{ref: "openai-compat:http://10.1.2.3:8000/v1#m", keyEnv: "OPENAI_API_KEY", allow: true},
		{ref: "openai-compat:http://10.1.2.3:8000/v1#m"}, // no key: nothing to leak
		{ref: "openai-compat:https://10.1.2.3:8000/v1#m", keyEnv: "OPENAI_API_KEY"},
		{ref: "openai-compat:http://127.0.0.1:8000/v1#m", keyEnv: "OPENAI_API_KEY"},
		{ref: "openai:gpt-4o", baseEnv: "OPENAI_BASE_URL", base: "http://proxy.example:80/v1", keyEnv: "OPENAI_API_KEY", wantErr: true},
		{ref: "anthropic:claude", baseEnv: "ANTHROPIC_BASE_URL", base: "http://proxy.example", keyEnv: "ANTHROPIC_API_KEY", wantErr: true},
		{ref: "gemini:g", baseEnv: "GEMINI_BASE_URL", base: "http://proxy.example", keyEnv: "GEMINI_API_KEY", wantErr: true},
		{ref: "gemini:g", keyEnv: "GEMINI_API_KEY"},
	} {
		t.Run(tc.ref+tc.base, func(t *testing.T) {
			for _, v := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL"} {
				t.Setenv(v, "")
			}
			if tc.keyEnv != "" {
				t.Setenv(tc.keyEnv, "sk-secret")
			}
			if tc.baseEnv != "" {
				t.Setenv(tc.baseEnv, tc.base)
			}
			allow := ""
			if tc.allow {
				allow = "1"
			}
			t.Setenv("MBD_ALLOW_INSECURE_KEY", allow)
			_, err := Open(tc.ref, Options{NoCache: true})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open: %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), "clear text") || strings.Contains(err.Error(), "sk-secret")) {
				t.Errorf("message %q", err)
			}
		})
	}
}
