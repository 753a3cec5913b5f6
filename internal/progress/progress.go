// Package progress draws a one-line progress bar on a terminal: count, total, rate and time left.
// It draws nothing when its writer is not a terminal, so logs and pipes stay clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bar is a progress bar. Its methods are safe for concurrent use; a nil *Bar does nothing.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	unit     string
	total    int64
	n        int64
	start    time.Time
	lastDraw time.Time
	status   string
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New returns a bar that counts unit (e.g. "rows") up to total (0 if unknown), or nil when w is not
// a terminal.
func New(w io.Writer, label, unit string, total int64) *Bar {
	if !IsTerminal(w) {
		return nil
	}
	return &Bar{w: w, label: label, unit: unit, total: total, start: time.Now()}
}

// Add counts n more units.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += n
	if now := time.Now(); now.Sub(b.lastDraw) >= 200*time.Millisecond {
		b.lastDraw = now
		b.draw(false)
	}
}

// SetStatus sets text shown after the counts, such as "loss 2.31, 3900 tok/s".
func (b *Bar) SetStatus(s string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.status = s
	b.mu.Unlock()
}

// Done draws the final state and ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draw(true)
}

func (b *Bar) draw(final bool) {
	elapsed := time.Since(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.n) / elapsed
	}
	var s strings.Builder
	fmt.Fprintf(&s, "\r%s ", b.label)
	if b.total > 0 {
		frac := min(float64(b.n)/float64(b.total), 1)
		const width = 24
		full := int(frac * width)
		fmt.Fprintf(&s, "[%s%s] %d/%d %s", strings.Repeat("=", full), strings.Repeat(" ", width-full), b.n, b.total, b.unit)
		if rate > 0 && !final {
			fmt.Fprintf(&s, ", %.0f/s, %s left", rate, time.Duration(float64(b.total-b.n)/rate*float64(time.Second)).Round(time.Second))
		}
	} else {
		fmt.Fprintf(&s, "%d %s", b.n, b.unit)
	}
	if final {
		fmt.Fprintf(&s, ", %.0f/s, %s", rate, time.Since(b.start).Round(time.Millisecond))
	}
	if b.status != "" {
		s.WriteString(" | " + b.status)
	}
	s.WriteString("\x1b[K") // clear the rest of the line
	if final {
		s.WriteString("\n")
	}
	io.WriteString(b.w, s.String())
}
