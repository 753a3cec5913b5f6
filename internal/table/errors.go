package table

import (
	"fmt"
)

// InputError is bad input: a file that is missing, not a table, the wrong table or a table with a
// missing or mistyped column. Its message names the file and, where it applies, the column and the
// expectation. Tools exit with status 2 on it (see ExitCode).
type InputError struct {
	Path   string // as the user gave it; "-" is shown as <stdin>
	Column string // empty when the problem is not one column's
	Msg    string
	Err    error // underlying cause, if any
}

func (e *InputError) Error() string {
	s := displayPath(e.Path) + ": "
	if e.Column != "" {
		s += fmt.Sprintf("column %q: ", e.Column)
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *InputError) Unwrap() error { return e.Err }

// ExitCode makes bad input end a tool with status 2.
func (e *InputError) ExitCode() int { return 2 }

func displayPath(p string) string {
	if p == "-" {
		return "<stdin>"
	}
	return p
}

func inputErr(path, column, format string, args ...any) *InputError {
	return &InputError{Path: path, Column: column, Msg: fmt.Sprintf(format, args...)}
}
