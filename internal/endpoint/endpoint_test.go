package endpoint

import (
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
