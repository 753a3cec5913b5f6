package cli

// MaxTokens bounds --max-tokens: far above any real completion, low enough that no token count
// overflows or asks for memory no machine has.
const MaxTokens = 1 << 20

// Sampling adds the problems of the sampling flags that mbd-gen and mbd-validate share:
// --temperature (finite, at least 0; 0 is greedy) and --max-tokens (an integer in [1, MaxTokens]).
func (c *Check) Sampling(temperature float64, maxTokens int) {
	c.AtLeast("--temperature", temperature, 0)
	c.CountIn("--max-tokens", maxTokens, 1, MaxTokens)
}
