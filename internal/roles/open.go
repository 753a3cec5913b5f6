package roles

import (
	"log/slog"

	"github.com/mbd-dev/mbd/internal/assistant"
)

// Options name the assistant to open and how to call it.
type Options struct {
	Ref               string  // BuiltinRef, or an assistant reference (see assistant.Open)
	Budget            float64 // stop once the assistant has cost this many dollars (0: no budget)
	Concurrency       int     // calls in flight at once
	RequestsPerMinute float64 // 0: unlimited
	TokensPerMinute   int     // 0: unlimited
	CacheDir          string  // answer cache ("": the default)
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

// Open opens the assistant o names. An error means the reference cannot be used (an unknown
// scheme, a missing key, a model file that does not load).
func Open(o Options, log *slog.Logger) (Session, error) {
	if o.Ref == BuiltinRef {
		return Session{Assistant: Builtin{}}, nil
	}
	c, err := assistant.Open(o.Ref, assistant.Options{
		CacheDir: o.CacheDir, Concurrency: o.Concurrency,
		RequestsPerMinute: o.RequestsPerMinute, TokensPerMinute: o.TokensPerMinute,
		Budget: o.Budget, Logger: log,
	})
	if err != nil {
		return Session{}, err
	}
	return Session{Assistant: LLM{C: c}, Client: c}, nil
}
