package assistant

import (
	"regexp"
	"strings"
)

// Price is what a model costs, in dollars per million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

func (p Price) cost(in, out int) float64 {
	return (float64(in)*p.Input + float64(out)*p.Output) / 1e6
}

// DefaultPrices are list prices in US dollars per million tokens (standard tier, prompts under
// 200K tokens, no batch or cache discounts) as the providers published them, checked as of early
// 2026. Prices change and newer models are missing: Options.Prices adds to and overrides this
// table. A model without a price costs 0 (with a warning), so no budget applies to it.
//
// A name also prices its dated snapshots and -latest alias: "gpt-4o" prices "gpt-4o-2024-08-06",
// "claude-3-5-haiku" prices "claude-3-5-haiku-latest".
var DefaultPrices = map[string]Price{
	// OpenAI
	"gpt-4o":       {2.50, 10.00},
	"gpt-4o-mini":  {0.15, 0.60},
	"gpt-4.1":      {2.00, 8.00},
	"gpt-4.1-mini": {0.40, 1.60},
	"gpt-4.1-nano": {0.10, 0.40},
	"gpt-5":        {1.25, 10.00},
	"gpt-5-mini":   {0.25, 2.00},
	"gpt-5-nano":   {0.05, 0.40},
	"gpt-5.1":      {1.25, 10.00},
	"o3":           {2.00, 8.00},
	"o3-mini":      {1.10, 4.40},
	"o4-mini":      {1.10, 4.40},
	// Anthropic
	"claude-opus-4-1":   {15.00, 75.00},
	"claude-opus-4-5":   {5.00, 25.00},
	"claude-sonnet-4":   {3.00, 15.00},
	"claude-sonnet-4-5": {3.00, 15.00},
	"claude-haiku-4-5":  {1.00, 5.00},
	"claude-3-5-haiku":  {0.80, 4.00},
	// Google Gemini
	"gemini-2.5-pro":        {1.25, 10.00},
	"gemini-2.5-flash":      {0.30, 2.50},
	"gemini-2.5-flash-lite": {0.10, 0.40},
	"gemini-2.0-flash":      {0.10, 0.40},
	"gemini-2.0-flash-lite": {0.075, 0.30},
}

// snapshotSuffix is what may follow a priced name: a date (-20250929, -2024-08-06) or -latest.
var snapshotSuffix = regexp.MustCompile(`^-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$`)

// lookupPrice finds the price of the model a reference names: the full reference, then the model
// name, then the model name without a snapshot suffix, in extra and then in DefaultPrices.
// Local gguf: models are free (priced, at 0).
func lookupPrice(ref string, extra map[string]Price) (Price, bool) {
	name := modelName(ref)
	if name == "" {
		return Price{}, true
	}
	for _, table := range []map[string]Price{extra, DefaultPrices} {
		if p, ok := table[ref]; ok {
			return p, true
		}
		if p, ok := table[name]; ok {
			return p, true
		}
	}
	for _, table := range []map[string]Price{extra, DefaultPrices} {
		for k, p := range table {
			if rest, ok := strings.CutPrefix(name, k); ok && snapshotSuffix.MatchString(rest) {
				return p, true
			}
		}
	}
	return Price{}, false
}

// modelName is the provider's model name in a reference ("" for local gguf: models).
func modelName(ref string) string {
	scheme, rest, _ := strings.Cut(ref, ":")
	switch scheme {
	case "gguf":
		return ""
	case "openai-compat":
		_, model, _ := strings.Cut(rest, "#")
		return model
	case "gemini":
		return strings.TrimPrefix(rest, "models/")
	}
	return rest
}
