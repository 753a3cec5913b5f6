// Package stats implements the hypothesis tests, effect sizes and
// confidence intervals that mbd reports, so that users can trust its
// p-values.
//
// Every function names its method and a reference in its doc comment and is
// tested against reference values produced by SciPy (or, where SciPy has no
// implementation, by the textbook formula computed independently in
// scripts/stats/refvalues.py); the values live in testdata/reference.json. The group-sequential
// sign test is checked against testdata/sequential.json, which scripts/stats/seqref.py computes by
// enumerating every path.
//
// Conventions:
//   - p-values are two-sided unless stated otherwise and lie in [0, 1].
//   - Degenerate input (empty groups, NaN data, impossible counts) is an
//     error wrapping ErrInvalid or ErrEmpty, never a silent NaN.
//   - Discrete exact tests use the "as or less likely" (minlike) two-sided
//     rule with R's relative tolerance of 1e-7 on the likelihood comparison.
package stats

import (
	"errors"
	"fmt"
	"math"
)

// ErrEmpty is wrapped by errors reporting an empty sample or group.
var ErrEmpty = errors.New("stats: empty sample")

// ErrInvalid is wrapped by errors reporting otherwise invalid input.
var ErrInvalid = errors.New("stats: invalid input")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func emptyf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrEmpty}, args...)...)
}

// Method selects how a rank test computes its p-value.
type Method int

const (
	// MethodAuto picks MethodExact when it is valid and cheap and
	// MethodAsymptotic otherwise (see each test for the rule).
	MethodAuto Method = iota
	// MethodExact uses the exact permutation null distribution.
	MethodExact
	// MethodAsymptotic uses the normal approximation.
	MethodAsymptotic
)

func (m Method) String() string {
	switch m {
	case MethodAuto:
		return "auto"
	case MethodExact:
		return "exact"
	case MethodAsymptotic:
		return "asymptotic"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// normSF is the upper tail of the standard normal, P(Z > z), accurate in
// relative terms far into the tail (erfc does not cancel).
func normSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// zCrit returns the two-sided critical value z_{1-(1-conf)/2}.
func zCrit(conf float64) (float64, error) {
	if !(conf > 0 && conf < 1) {
		return 0, invalidf("confidence level %v not in (0, 1)", conf)
	}
	return math.Sqrt2 * math.Erfinv(conf), nil
}

// clip01 clamps p into [0, 1].
func clip01(p float64) float64 { return math.Min(1, math.Max(0, p)) }

func checkFinite(name string, xs []float64) error {
	for i, v := range xs {
		if math.IsNaN(v) {
			return invalidf("%s[%d] is NaN", name, i)
		}
	}
	return nil
}
