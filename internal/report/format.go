package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
)

// fmtNum formats a number with 3 significant digits (no exponent between 1e-4 and 1e6).
func fmtNum(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "n/a"
	case x == 0:
		return "0"
	}
	a := math.Abs(x)
	if a >= 1e-4 && a < 1e6 {
		digits := max(0, 2-int(math.Floor(math.Log10(a))))
		s := strconv.FormatFloat(x, 'f', digits, 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		if s == "-0" {
			s = "0"
		}
		return s
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

// fmtPtr formats an optional number ("n/a" when nil).
func fmtPtr(x *float64) string {
	if x == nil {
		return "n/a"
	}
	return fmtNum(*x)
}

// fmtQ formats a q- or p-value.
func fmtQ(x *float64) string { return fmtPtr(x) }

// fmtSigned formats an optional number with its sign.
func fmtSigned(x *float64) string {
	if x == nil {
		return "n/a"
	}
	s := fmtNum(*x)
	if *x > 0 {
		s = "+" + s
	}
	return s
}

// fmtCI formats a 95% CI.
func fmtCI(lo, hi *float64) string {
	if lo == nil || hi == nil {
		return "n/a"
	}
	return fmt.Sprintf("[%s, %s]", fmtNum(*lo), fmtNum(*hi))
}

// fmtPct formats a share as a percentage.
func fmtPct(x *float64) string {
	if x == nil {
		return "n/a"
	}
	return fmtNum(100*(*x)) + "%"
}

// testOf returns the hypothesis's test of method, or nil.
func testOf(h Hypothesis, method string) *Test {
	for i := range h.Tests {
		if h.Tests[i].Method == method {
			return &h.Tests[i]
		}
	}
	return nil
}

// shortTest is one test in a line: "accuracy=0.93 q=1.2e-05 validated" or "n/a".
func shortTest(t *Test) string {
	if t == nil {
		return "not run"
	}
	if t.Verdict == schema.VerdictUnavailable {
		return "n/a"
	}
	s := fmt.Sprintf("%s=%s", t.StatName, fmtPtr(t.Statistic))
	if t.Effect != nil && t.EffectName != "" && t.Method != schema.MethodInteractive {
		s += fmt.Sprintf(" %s=%s %s", t.EffectName, fmtSigned(t.Effect), fmtCI(t.CILow, t.CIHigh))
	}
	if t.Lift != nil {
		s += " lift=" + fmtSigned(t.Lift)
	}
	return s + fmt.Sprintf(" q=%s %s", fmtQ(t.Q), t.Verdict)
}

// recoveryLine is the summary's recovery phrase, "" when there is no recovery table.
func recoveryLine(s Summary) string {
	if s.Truths == nil {
		return ""
	}
	return fmt.Sprintf("%d of %d inserted behaviours recovered", *s.Recovered, *s.Truths)
}

// headline is the summary's first sentence.
func headline(s Summary) string {
	line := fmt.Sprintf("%d of %d hypotheses validated (q ≤ %s)", s.Validated, s.Hypotheses, fmtNum(s.Alpha))
	if s.BestQ != nil {
		line += fmt.Sprintf("; best q %s (%s)", fmtNum(*s.BestQ), s.BestQTest)
	}
	if r := recoveryLine(s); r != "" {
		line += "; " + r
	}
	return line
}

// statCell is a test's statistic with its name, or "n/a".
func statCell(t *Test) string {
	if t.Statistic == nil {
		return "n/a"
	}
	return t.StatName + " " + fmtNum(*t.Statistic)
}

// effectCell is a test's effect with its name and CI, or "n/a".
func effectCell(t *Test) string {
	if t.Effect == nil {
		return "n/a"
	}
	return t.EffectName + " " + fmtSigned(t.Effect) + " " + fmtCI(t.CILow, t.CIHigh)
}

// outcomePhrase words a discriminative outcome.
func outcomePhrase(o string) string {
	switch o {
	case "for", "against":
		return o + " the hypothesis"
	case "tie":
		return "a tie (the two orders disagree or the judge saw no difference)"
	case "invalid":
		return "invalid (a judge answer could not be parsed)"
	}
	return o
}
