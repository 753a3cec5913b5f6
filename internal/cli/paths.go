package cli

import (
	"fmt"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v3"
)

// Paths checks the roles of the files a run names: an input given twice would be counted twice, and
// an output that is an input or another output would destroy data. Add every input and output, then
// call Err (usually from Validate). "-" (standard input or output) takes part too: a run can read
// stdin once and write stdout once. Paths are the same when they clean to the same absolute path or
// name the same existing file (a hard or symbolic link).
type Paths struct {
	in, out []role
}

type role struct {
	what, path string
	shared     bool // checked against the outputs only (Shared)
}

// In records inputs; what names them for messages ("--clusters", "GENERATIONS").
func (p *Paths) In(what string, paths ...string) { p.add(what, false, paths) }

// Shared records an input that may be the same file as another input (files a tool finds by name,
// such as a run folder's tables, one of which may link to another): it is checked only against the
// outputs.
func (p *Paths) Shared(what string, paths ...string) { p.add(what, true, paths) }

func (p *Paths) add(what string, shared bool, paths []string) {
	for _, path := range paths {
		if path != "" {
			p.in = append(p.in, role{what: what, path: path, shared: shared})
		}
	}
}

// Out records an output.
func (p *Paths) Out(what, path string) {
	if path != "" {
		p.out = append(p.out, role{what: what, path: path})
	}
}

// Err returns a usage error for the first collision, or nil.
func (p *Paths) Err() error {
	for i, a := range p.in {
		for _, b := range p.in[:i] {
			if !a.shared && !b.shared && same(a.path, b.path) {
				return Usagef("%s %s is given twice (as %s too): each input is read once", a.what, a.path, b.what)
			}
		}
	}
	for i, o := range p.out {
		for _, in := range p.in {
			if o.path != "-" && same(o.path, in.path) {
				return Usagef("%s %s is also an input (%s): write the output elsewhere", o.what, o.path, in.what)
			}
		}
		for _, b := range p.out[:i] {
			if same(o.path, b.path) && !discard(o.path) {
				return Usagef("%s %s is also the output of %s: give each output its own path", o.what, o.path, b.what)
			}
		}
	}
	return nil
}

// discard reports whether path is a sink that any number of outputs may share (/dev/null).
func discard(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && filepath.Clean(path) == os.DevNull
}

func same(a, b string) bool {
	if a == "-" || b == "-" {
		return a == b
	}
	if abs(a) == abs(b) {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// NeedOutput refuses an empty -o.
func NeedOutput(output, example string) error {
	if output == "" {
		return Usagef("no output: give -o %s", example)
	}
	return nil
}

// OutputFlag is the -o (--output) flag, bound to dest.
func OutputFlag(dest *string, usage string) ucli.Flag {
	return &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: dest, Usage: usage}
}

// OutputUsage is the usage line of the -o flag of a tool that writes a table.
func OutputUsage(what string) string { return fmt.Sprintf("output %s (`PATH`, or - for stdout)", what) }
