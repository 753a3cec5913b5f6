package cli

import (
	"fmt"
	"sort"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/table"
)

// Labels are the --a and --b flags that name the two models a tool compares.
type Labels struct{ A, B string }

// Flags binds --a and --b to l.
func (l *Labels) Flags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "a", Destination: &l.A, Usage: "label of model A (default: the first of the two labels, sorted)"},
		&ucli.StringFlag{Name: "b", Destination: &l.B, Usage: "label of model B (default: the second)"},
	}
}

// Validate refuses a half-given or identical pair.
func (l Labels) Validate() error {
	if l.A != "" && l.B == "" {
		return Usagef("--a %s without --b: give --a and --b together", l.A)
	}
	if l.B != "" && l.A == "" {
		return Usagef("--b %s without --a: give --a and --b together", l.B)
	}
	if l.A != "" && l.A == l.B {
		return Usagef("--a and --b are both %q: name two different models", l.A)
	}
	return nil
}

// Pick returns the labels to compare, given those present in the model column of path: --a and
// --b when set (Validate has refused one without the other), otherwise the two present labels in
// sorted order. Either way both must be present.
func (l Labels) Pick(present map[string]bool, path string) (a, b string, err error) {
	a, b = l.A, l.B
	if a == "" || b == "" {
		ls := make([]string, 0, len(present))
		for x := range present {
			ls = append(ls, x)
		}
		sort.Strings(ls)
		if len(ls) != 2 {
			return "", "", &table.InputError{Path: path, Column: "model", Msg: fmt.Sprintf("holds %d model labels %v; name the two to compare with --a and --b", len(ls), ls)}
		}
		a, b = ls[0], ls[1]
	}
	if !present[a] || !present[b] {
		return "", "", &table.InputError{Path: path, Column: "model", Msg: fmt.Sprintf("has no texts of model %q or %q", a, b)}
	}
	return a, b, nil
}
