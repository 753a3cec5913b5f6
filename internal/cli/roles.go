package cli

import (
	ucli "github.com/urfave/cli/v3"
)

// BuiltinAssistant is the reference of the offline assistant (roles.BuiltinRef).
const BuiltinAssistant = "builtin"

// Assistant are the assistant flags that mbd-hypo, mbd-validate and mbd-truth share. Its fields
// are those of roles.Options, so a tool opens the assistant with roles.Open(roles.Options(a), log).
type Assistant struct {
	Ref               string  // --assistant
	Budget            float64 // --budget
	Concurrency       int     // --concurrency
	RequestsPerMinute float64 // --rpm
	TokensPerMinute   int     // --tpm
	CacheDir          string  // --cache-dir
}

// Flags binds the assistant flags to a.
func (a *Assistant) Flags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "assistant", Value: BuiltinAssistant, Destination: &a.Ref, Usage: "assistant `REF`: builtin (offline), openai:MODEL, openai-compat:URL#MODEL, anthropic:MODEL, gemini:MODEL or gguf:PATH"},
		&ucli.Float64Flag{Name: "budget", Destination: &a.Budget, Usage: "stop cleanly once the assistant has cost this many `DOLLARS` (0: no budget); a rerun resumes from the cache"},
		&ucli.IntFlag{Name: "concurrency", Value: 4, Destination: &a.Concurrency, Usage: "assistant calls in flight at once"},
		&ucli.Float64Flag{Name: "rpm", Destination: &a.RequestsPerMinute, Usage: "assistant requests per minute (0: unlimited)"},
		&ucli.IntFlag{Name: "tpm", Destination: &a.TokensPerMinute, Usage: "assistant tokens per minute (0: unlimited)"},
		&ucli.StringFlag{Name: "cache-dir", Destination: &a.CacheDir, Usage: "assistant answer cache `DIR` (default ~/.cache/mbd/assistant)"},
	}
}

// Builtin reports whether the offline assistant is chosen.
func (a Assistant) Builtin() bool { return a.Ref == BuiltinAssistant }

// Check adds the problems of the assistant flags to c. The reference itself is checked when it
// is opened.
func (a Assistant) Check(c *Check) {
	c.Must(a.Ref != "", "--assistant is empty: give builtin or an assistant reference")
	c.AtLeast("--budget", a.Budget, 0)
	c.Count("--concurrency", a.Concurrency, 1)
	c.AtLeast("--rpm", a.RequestsPerMinute, 0)
	c.Count("--tpm", a.TokensPerMinute, 0)
}
