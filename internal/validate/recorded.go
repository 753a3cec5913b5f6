package validate

import (
	"fmt"
	"slices"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// RecordedAnswer is a recorded generation and the table it was read from (named in errors).
type RecordedAnswer struct {
	Path string
	schema.Generation
}

// Recorded is the recorded answers of models A and B to validation prompts, paired for the tests
// (PairRecorded makes it; RunRecorded uses it).
type Recorded struct {
	A, B    string          // the models' labels in the recorded tables
	Prompts []schema.Prompt // validation prompts with at least one pair, in order
	Counts  RecordedCounts
	pairs   []recordedPair // in test order: rank 0 of every prompt, then rank 1, ...
}

// recordedPair is a pair of recorded answers: sample number s of A and of B to one prompt.
type recordedPair struct {
	prompt schema.Prompt
	rank   int // among the prompt's pairs: the k of a live run's fresh sample k
	a, b   schema.Generation
}

// RecordedCounts says how many recorded validation answers became pairs and why the others did not.
type RecordedCounts struct {
	Prompts, Pairs         int // validation prompts with a pair; pairs
	OnlyA, OnlyB           int // validation prompts only A (only B) answered
	UnmatchedA, UnmatchedB int // answers to prompts both answered whose sample number the other model lacks
	OverCap                int // pairs beyond the samples asked for per prompt
	Unanswered             int // validation prompts of the prompts table that neither model answered
}

// PairRecorded pairs recorded answers for validation: a and b are the rows of model A and model B
// (every split), prompts the prompts table (nil without one; promptsPath names it). The
// validation prompts are those of the prompts table's validation split, or without one those
// the recorded rows put in the validation split (in the order A's rows first name them). For each
// prompt both models answered, sample s of A is paired with sample s of B, in order of s, at most
// samples pairs per prompt (0: all). The pairs are ordered as a live run draws fresh answers: the
// first of every prompt, then the second of every prompt that has one, and so on.
//
// Bad input is a *table.InputError naming the table: a (prompt, sample) recorded twice for one
// model, a prompt id with two texts, a row that disagrees with the prompts table (unknown prompt,
// other text or split), a model with no validation-split answers, or no prompt both answered.
func PairRecorded(a, b []RecordedAnswer, prompts []schema.Prompt, promptsPath string, samples int) (*Recorded, error) {
	byID := map[string]schema.Prompt{}
	for _, p := range prompts {
		byID[p.ID] = p
	}
	type seen struct{ text, path string }
	texts := map[string]seen{}
	var order []string // validation prompt ids, in order
	isVal := map[string]bool{}
	for _, p := range ValidationSplit(prompts) {
		order, isVal[p.ID] = append(order, p.ID), true
	}
	answers := [2]map[string]map[int32]RecordedAnswer{{}, {}} // side → prompt id → sample → row
	for side, rows := range [2][]RecordedAnswer{a, b} {
		label := "A"
		if side == 1 {
			label = "B"
		}
		for _, r := range rows {
			if prompts != nil {
				p, ok := byID[r.PromptID]
				switch {
				case !ok:
					return nil, &table.InputError{Path: r.Path, Column: "prompt_id", Msg: fmt.Sprintf("prompt %s is not in %s", r.PromptID, promptsPath)}
				case p.Text != r.Prompt:
					return nil, &table.InputError{Path: r.Path, Column: "prompt", Msg: fmt.Sprintf("prompt %s reads %q, but %q in %s", r.PromptID, r.Prompt, p.Text, promptsPath)}
				case p.Split != r.Split:
					return nil, &table.InputError{Path: r.Path, Column: "split", Msg: fmt.Sprintf("prompt %s is in the %s split, but in the %s split in %s", r.PromptID, r.Split, p.Split, promptsPath)}
				}
			}
			if s, ok := texts[r.PromptID]; ok && s.text != r.Prompt {
				return nil, &table.InputError{Path: r.Path, Column: "prompt", Msg: fmt.Sprintf("prompt %s reads %q, but %q in %s", r.PromptID, r.Prompt, s.text, s.path)}
			}
			texts[r.PromptID] = seen{r.Prompt, r.Path}
			if r.Split != schema.SplitValidation {
				continue
			}
			if !isVal[r.PromptID] {
				order, isVal[r.PromptID] = append(order, r.PromptID), true
			}
			bySample := answers[side][r.PromptID]
			if bySample == nil {
				bySample = map[int32]RecordedAnswer{}
				answers[side][r.PromptID] = bySample
			}
			if prev, dup := bySample[r.Sample]; dup {
				return nil, &table.InputError{Path: r.Path, Column: "sample", Msg: fmt.Sprintf("model %s (%q), prompt %s, sample %d is recorded twice (also in %s): give each answer once", label, r.Model, r.PromptID, r.Sample, prev.Path)}
			}
			bySample[r.Sample] = r
		}
		if len(answers[side]) == 0 {
			what := fmt.Sprintf("model %s", label)
			path := ""
			if len(rows) > 0 {
				what, path = fmt.Sprintf("model %s (%q)", label, rows[0].Model), rows[0].Path
			}
			return nil, &table.InputError{Path: path, Column: "split", Msg: fmt.Sprintf("has no validation-split answers of %s (record them with mbd-gen run --split all or validation, or mbd-gen import)", what)}
		}
	}

	rec := &Recorded{A: a[0].Model, B: b[0].Model}
	c := &rec.Counts
	type usable struct {
		prompt  schema.Prompt
		samples []int32
	}
	var use []usable
	for _, id := range order {
		sa, sb := answers[0][id], answers[1][id]
		switch {
		case len(sa) == 0 && len(sb) == 0:
			c.Unanswered++
			continue
		case len(sb) == 0:
			c.OnlyA++
			continue
		case len(sa) == 0:
			c.OnlyB++
			continue
		}
		var common []int32
		for s := range sa {
			if _, ok := sb[s]; ok {
				common = append(common, s)
			}
		}
		slices.Sort(common)
		c.UnmatchedA += len(sa) - len(common)
		c.UnmatchedB += len(sb) - len(common)
		if samples > 0 && len(common) > samples {
			c.OverCap += len(common) - samples
			common = common[:samples]
		}
		if len(common) == 0 {
			continue
		}
		p, ok := byID[id]
		if !ok {
			p = schema.Prompt{ID: id, Text: texts[id].text, Split: schema.SplitValidation}
		}
		use = append(use, usable{p, common})
		rec.Prompts = append(rec.Prompts, p)
	}
	for rank := 0; ; rank++ {
		n := len(rec.pairs)
		for _, u := range use {
			if rank < len(u.samples) {
				s := u.samples[rank]
				rec.pairs = append(rec.pairs, recordedPair{prompt: u.prompt, rank: rank,
					a: answers[0][u.prompt.ID][s].Generation, b: answers[1][u.prompt.ID][s].Generation})
			}
		}
		if len(rec.pairs) == n {
			break
		}
	}
	c.Prompts, c.Pairs = len(rec.Prompts), len(rec.pairs)
	if c.Pairs == 0 {
		return nil, &table.InputError{Path: a[0].Path, Column: "prompt_id", Msg: fmt.Sprintf("no validation prompt has an answer of model A (%q) and one of model B (%q) with the same sample number (%d answered by A only, %d by B only)",
			a[0].Model, b[0].Model, c.OnlyA, c.OnlyB)}
	}
	return rec, nil
}

// Samples is the most pairs of any prompt.
func (r *Recorded) Samples() int {
	if len(r.pairs) == 0 {
		return 0
	}
	return r.pairs[len(r.pairs)-1].rank + 1
}
