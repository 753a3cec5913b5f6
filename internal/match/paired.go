package match

// Unpaired values (mbd-cluster's and mbd-hypo's --unpaired).
const (
	UnpairedDrop = "drop" // keep only the texts of prompts both models answered (the default)
	UnpairedKeep = "keep" // keep every text
)

// Text is what pairing needs of a generation.
type Text struct{ ID, Model, PromptID string }

// Dropped counts the texts of model A and of model B that Paired left out.
type Dropped struct{ A, B int }

// Paired returns the ids of the texts to keep: those of models a and b whose prompt both a and
// b answered, and every text of any other model, as it is not compared. A prompt only one model
// answered would otherwise put a whole topic in one model's share only, and the share test would
// call that a behaviour.
func Paired(texts []Text, a, b string) (map[string]bool, Dropped) {
	answered := map[string]uint8{} // prompt id → 1: a answered it, 2: b did, 3: both
	for _, t := range texts {
		switch t.Model {
		case a:
			answered[t.PromptID] |= 1
		case b:
			answered[t.PromptID] |= 2
		}
	}
	keep := make(map[string]bool, len(texts))
	var d Dropped
	for _, t := range texts {
		switch {
		case t.Model != a && t.Model != b, answered[t.PromptID] == 3:
			keep[t.ID] = true
		case t.Model == a:
			d.A++
		default:
			d.B++
		}
	}
	return keep, d
}
