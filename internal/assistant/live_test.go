package assistant

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestLive calls the real APIs. It runs only with MBD_LIVE_TESTS=1 and the provider's key set
// (it costs a fraction of a cent per provider); MBD_LIVE_OPENAI_MODEL, MBD_LIVE_ANTHROPIC_MODEL
// and MBD_LIVE_GEMINI_MODEL choose the models.
func TestLive(t *testing.T) {
	for _, tt := range []struct {
		name, keyEnv, modelEnv, model string
		altKeyEnv                     string
	}{
		{"openai", "OPENAI_API_KEY", "MBD_LIVE_OPENAI_MODEL", "gpt-4o-mini", ""},
		{"anthropic", "ANTHROPIC_API_KEY", "MBD_LIVE_ANTHROPIC_MODEL", "claude-haiku-4-5", ""},
		{"gemini", "GEMINI_API_KEY", "MBD_LIVE_GEMINI_MODEL", "gemini-2.5-flash", "GOOGLE_API_KEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if os.Getenv("MBD_LIVE_TESTS") != "1" {
				t.Skip("live API test: set MBD_LIVE_TESTS=1 and " + tt.keyEnv + " to run it (it makes a paid call)")
			}
			if os.Getenv(tt.keyEnv) == "" && (tt.altKeyEnv == "" || os.Getenv(tt.altKeyEnv) == "") {
				t.Skip("live API test: " + tt.keyEnv + " is not set")
			}
			model := tt.model
			if m := os.Getenv(tt.modelEnv); m != "" {
				model = m
			}
			c, err := Open(tt.name+":"+model, Options{NoCache: true, MaxRetries: 2, Timeout: 60 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, err := c.Chat(context.Background(), Request{
				Messages: []Message{
					{Role: System, Content: `You answer with a JSON object of the form {"capital": "..."}.`},
					{Role: User, Content: "What is the capital of France?"},
				},
				MaxTokens: 200,
				JSON:      true,
			})
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(resp.Text), &v); err != nil || resp.Refused {
				t.Errorf("answer %+v is not a JSON object: %v", resp, err)
			}
			if resp.InputTokens == 0 || resp.OutputTokens == 0 {
				t.Errorf("no token counts: %+v", resp)
			}
			t.Logf("%s: %+v, usage %+v", c.Ref(), resp, c.Usage())
		})
	}
}
