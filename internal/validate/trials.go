package validate

import (
	"encoding/json"
	"fmt"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/roles"
)

// Trial is one line of the trials log: a judged pair, a scored minimal pair, or an interrogation.
type Trial struct {
	Hypothesis string       `json:"hypothesis_id"`
	Method     string       `json:"method"`
	PromptID   string       `json:"prompt_id,omitempty"`
	Trial      int          `json:"trial"`
	BFirst     *bool        `json:"b_first,omitempty"` // discriminative: B's answer shown first in the first order
	AID        string       `json:"a_id,omitempty"`    // discriminative: generation ids of the pair's answers (see Result.Answers)
	BID        string       `json:"b_id,omitempty"`
	Verdicts   []string     `json:"verdicts,omitempty"`
	Outcome    string       `json:"outcome,omitempty"` // for, against, tie, invalid; correct, wrong
	Hidden     string       `json:"hidden,omitempty"`
	Turns      []roles.Turn `json:"turns,omitempty"`
	Texts      []string     `json:"texts,omitempty"`
	Delta      *float64     `json:"delta,omitempty"`
	Baseline   bool         `json:"baseline,omitempty"`
}

// WriteTrials writes the trials log to path as JSON Lines (atomically: a partial log never lies
// under its final name).
func WriteTrials(path string, trials []Trial) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	enc := json.NewEncoder(f)
	for _, l := range trials {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return f.Commit()
}
