package schema

// Values of the enumerated string columns. Tools compare and write these constants, never literals.
const (
	// Hypothesis.Direction.
	DirectionBA = "B>A" // the property is more typical of B's answers
	DirectionAB = "A>B" // the property is more typical of A's answers

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
)
