package cli

import (
	"context"
	"errors"
	"fmt"
	"math"

	ucli "github.com/urfave/cli/v3"
	"strings"
)

// Validator is a tool's typed options: Validate checks a whole set of them (ranges, non-finite
// numbers, file roles) before any work starts.
type Validator interface{ Validate() error }

// Do validates o and runs run with the tool's Env. A validation error is a usage error (status 2).
func Do[O Validator](ctx context.Context, o O, run func(context.Context, *Env, O) error) error {
	if err := o.Validate(); err != nil {
		var u *UsageError
		if !errors.As(err, &u) {
			err = &UsageError{Err: err}
		}
		return err
	}
	return run(ctx, FromContext(ctx), o)
}

// Check collects the first problem found in a set of options. Each method names the flag, so the
// message reads "--alpha 2: want a number in (0, 1)".
type Check struct{ err error }

// Err returns the first problem as a usage error, or nil.
func (c *Check) Err() error {
	if c.err == nil {
		return nil
	}
	return &UsageError{Err: c.err}
}

// Failf records a problem (only the first one is kept).
func (c *Check) Failf(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// Must records msg when ok is false.
func (c *Check) Must(ok bool, format string, args ...any) {
	if !ok {
		c.Failf(format, args...)
	}
}

// Finite refuses NaN and infinities.
func (c *Check) Finite(name string, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		c.Failf("%s %v: want a finite number", name, v)
		return false
	}
	return true
}

// Between wants lo <= v <= hi.
func (c *Check) Between(name string, v, lo, hi float64) {
	if c.Finite(name, v) && (v < lo || v > hi) {
		c.Failf("%s %v: want a number in [%v, %v]", name, v, lo, hi)
	}
}

// Open wants lo < v < hi (a probability such as a significance level: (0, 1)).
func (c *Check) Open(name string, v, lo, hi float64) {
	if c.Finite(name, v) && (v <= lo || v >= hi) {
		c.Failf("%s %v: want a number in (%v, %v)", name, v, lo, hi)
	}
}

// AtLeast wants a finite v >= lo.
func (c *Check) AtLeast(name string, v, lo float64) {
	if c.Finite(name, v) && v < lo {
		c.Failf("%s %v: want at least %v", name, v, lo)
	}
}

// Above wants a finite v > lo.
func (c *Check) Above(name string, v, lo float64) {
	if c.Finite(name, v) && v <= lo {
		c.Failf("%s %v: want more than %v", name, v, lo)
	}
}

// Count wants an integer of at least lo.
func (c *Check) Count(name string, v, lo int) {
	if v < lo {
		c.Failf("%s %d: want at least %d", name, v, lo)
	}
}

// CountIn wants an integer in [lo, hi].
func (c *Check) CountIn(name string, v, lo, hi int) {
	if v < lo || v > hi {
		c.Failf("%s %d: want an integer in [%d, %d]", name, v, lo, hi)
	}
}

// OneOf wants v to be one of the allowed values.
func (c *Check) OneOf(name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.Failf("%s %q: want %s", name, v, Alternatives(allowed...))
}

// Alternatives lists values for a message: "a", "a or b", "a, b or c".
func Alternatives(values ...string) string {
	switch n := len(values); n {
	case 0:
		return ""
	case 1:
		return values[0]
	default:
		return strings.Join(values[:n-1], ", ") + " or " + values[n-1]
	}
}

// Add records err (a problem found by other code), if it is the first.
func (c *Check) Add(err error) {
	if err != nil && c.err == nil {
		c.err = err
	}
}

// Action is a command's action: it puts the positional arguments in *args (args nil: the command
// takes none and refuses any), then validates and runs o with Do.
func Action[O Validator](o *O, args *[]string, run func(context.Context, *Env, O) error) ucli.ActionFunc {
	return func(ctx context.Context, cmd *ucli.Command) error {
		if args != nil {
			*args = cmd.Args().Slice()
		} else if cmd.NArg() > 0 {
			return Usagef("unexpected argument %q", cmd.Args().First())
		}
		return Do(ctx, *o, run)
	}
}
