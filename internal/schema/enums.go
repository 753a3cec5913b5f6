package schema

// Values of the enumerated string columns. Tools compare and write these constants, never literals.
const (
	// Hypothesis.Direction.
	DirectionBA = "B>A" // the property is more typical of B's answers
	DirectionAB = "A>B" // the property is more typical of A's answers

	// Hypothesis.Origin.
	OriginTexts    = "texts"    // all discovery texts of A and B
	OriginRegion   = "region"   // a differing region of mbd-match
	OriginExemplar = "exemplar" // a region the proposer found no words for, described by exemplars
	OriginLens     = "lens"     // the tokens an activation difference lens promotes or suppresses
	OriginSteered  = "steered"  // steered texts against A's texts

	// Generation.Split and Prompt.Split.
	SplitDiscovery  = "discovery"
	SplitValidation = "validation"

	// Validation.Method.
	MethodDiscriminative = "discriminative"
	MethodGenerative     = "generative"
	MethodInteractive    = "interactive"
	MethodClusterShare   = "cluster-share"

	// Validation.Verdict.
	VerdictValidated   = "validated"
	VerdictRejected    = "rejected"
	VerdictInvalid     = "invalid"
	VerdictUnavailable = "unavailable"

	// Match.Category: a region of the two models' clusters.
	CategorySame    = "same"      // the shares do not differ at the significance level
	CategoryShifted = "shifted"   // both models have texts here, in shares that differ
	CategoryOnlyInA = "only-in-A" // B has no cluster (or no texts) here
	CategoryOnlyInB = "only-in-B" // A has no cluster (or no texts) here
)

// ValidatedIDs returns the ids of the hypotheses with at least one test of verdict
// VerdictValidated in vals.
func ValidatedIDs(vals []Validation) map[string]bool {
	ids := map[string]bool{}
	for _, v := range vals {
		if v.Verdict == VerdictValidated {
			ids[v.HypothesisID] = true
		}
	}
	return ids
}
