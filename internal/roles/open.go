package roles

import (
	"log/slog"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/assistant"
)

// Flags are the assistant flags mbd-hypo and mbd-validate share.
func Flags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "assistant", Value: BuiltinRef, Usage: "assistant `REF`: builtin (offline), openai:MODEL, openai-compat:URL#MODEL, anthropic:MODEL, gemini:MODEL or gguf:PATH"},
		&ucli.Float64Flag{Name: "budget", Usage: "stop cleanly once the assistant has cost this many `DOLLARS` (0: no budget); a rerun resumes from the cache"},
		&ucli.IntFlag{Name: "concurrency", Value: 4, Usage: "assistant calls in flight at once"},
		&ucli.Float64Flag{Name: "rpm", Usage: "assistant requests per minute (0: unlimited)"},
		&ucli.IntFlag{Name: "tpm", Usage: "assistant tokens per minute (0: unlimited)"},
		&ucli.StringFlag{Name: "cache-dir", Usage: "assistant answer cache `DIR` (default ~/.cache/mbd/assistant)"},
	}
}

// Session is an open assistant and, for LLM assistants, its client (for usage accounting).
type Session struct {
	Assistant
	Client *assistant.Client // nil for builtin
}

// Usage returns the client's counters (zero for builtin).
func (s Session) Usage() assistant.Usage {
	if s.Client == nil {
		return assistant.Usage{}
	}
	return s.Client.Usage()
}

// Close releases the client.
func (s Session) Close() error {
	if s.Client == nil {
		return nil
	}
	return s.Client.Close()
}

// Open opens the assistant the flags name.
func Open(cmd *ucli.Command, log *slog.Logger) (Session, error) {
	ref := cmd.String("assistant")
	if ref == BuiltinRef {
		return Session{Assistant: Builtin{}}, nil
	}
	c, err := assistant.Open(ref, assistant.Options{
		CacheDir: cmd.String("cache-dir"), Concurrency: int(cmd.Int("concurrency")),
		RequestsPerMinute: cmd.Float64("rpm"), TokensPerMinute: int(cmd.Int("tpm")),
		Budget: cmd.Float64("budget"), Logger: log,
	})
	if err != nil {
		return Session{}, err
	}
	return Session{Assistant: LLM{C: c}, Client: c}, nil
}
