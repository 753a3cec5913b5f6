package cli

import "fmt"

// BadRef is the usage error (exit status 2) of a model, embedder or assistant reference that
// cannot be used, "FLAG: message"; nil when err is nil, so a Validate can write
// c.Add(cli.BadRef("--model", backends.Check(ref))).
func BadRef(flag string, err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: fmt.Errorf("%s: %w", flag, err)}
}
