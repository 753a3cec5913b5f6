package schema

import (
	"maps"
	"testing"
)

func TestValidatedIDs(t *testing.T) {
	vals := []Validation{
		{HypothesisID: "h1", Verdict: VerdictRejected},
		{HypothesisID: "h1", Verdict: VerdictValidated},
		{HypothesisID: "h2", Verdict: VerdictInvalid},
		{HypothesisID: "h3", Verdict: VerdictValidated},
		{HypothesisID: "h4", Verdict: VerdictUnavailable},
	}
	if got, want := ValidatedIDs(vals), map[string]bool{"h1": true, "h3": true}; !maps.Equal(got, want) {
		t.Errorf("ValidatedIDs = %v, want %v", got, want)
	}
	if got := ValidatedIDs(nil); len(got) != 0 {
		t.Errorf("ValidatedIDs(nil) = %v", got)
	}
}
