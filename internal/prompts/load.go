package prompts

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Load reads prompts from one file; the format comes from the extension (.txt: one prompt per
// line; .jsonl, .csv: the textField field; .parquet: an mbd prompts table, which keeps its ids,
// sources and categories, or any Parquet file with a textField column). Prompts read from records
// get their id from their text, the file's base name as source and the categoryField field, if
// present, as category; they have no split yet. Text that is not valid UTF-8 is refused or, with
// records.Replace, repaired; replaced counts the fields repaired.
func Load(path, textField, categoryField string, bad records.InvalidUTF8) (ps []schema.Prompt, replaced int, err error) {
	format, err := records.FormatOf(path)
	if err != nil {
		return nil, 0, err
	}
	source := filepath.Base(path)
	if format == "parquet" {
		if r, err := table.OpenAny(path, nil, ""); err == nil {
			defer r.Close()
			if r.Table() != schema.Prompts {
				return nil, 0, &table.InputError{Path: path, Msg: fmt.Sprintf("holds a %s table, want prompts (or a Parquet file with a %q column)", r.Table().ID(), textField)}
			}
			ps, err := table.ReadAll[schema.Prompt](path, nil)
			return ps, 0, err
		}
	}
	for rec, err := range records.ReadWith(path, format, []string{textField}, []string{categoryField}, bad) {
		if err != nil {
			return nil, 0, err
		}
		replaced += rec.Replaced
		text := strings.TrimSpace(rec.Fields[textField])
		if text == "" {
			return nil, 0, &table.InputError{Path: fmt.Sprintf("%s:%d", path, rec.Line), Column: textField, Msg: "empty prompt"}
		}
		ps = append(ps, schema.Prompt{ID: ID(text), Text: text, Source: source, Category: rec.Fields[categoryField]})
	}
	return ps, replaced, nil
}

// Selection says which prompts Select keeps and how it splits them.
type Selection struct {
	Categories         []string // keep only these categories (none: all)
	Limit              int      // keep at most this many, a seeded subsample by Rank (0: all)
	ValidationFraction float64  // share of validation prompts, in [0, 1]
	Seed               uint64   // seed of the split and of the subsample
}

// Select drops repeated prompts (same id; the first is kept), keeps those of s.Categories, gives
// each its split and, with s.Limit, keeps the s.Limit prompts of lowest Rank. It returns the kept
// prompts, in input order unless subsampled, and the number of repeats dropped.
func Select(all []schema.Prompt, s Selection) (kept []schema.Prompt, duplicates int) {
	seen := map[string]bool{}
	for _, p := range all {
		if seen[p.ID] {
			duplicates++
			continue
		}
		seen[p.ID] = true
		if len(s.Categories) > 0 && !slices.Contains(s.Categories, p.Category) {
			continue
		}
		p.Split = SplitOf(p.ID, s.Seed, s.ValidationFraction)
		kept = append(kept, p)
	}
	if s.Limit > 0 && s.Limit < len(kept) {
		sort.SliceStable(kept, func(i, j int) bool { return Rank(kept[i].ID, s.Seed) < Rank(kept[j].ID, s.Seed) })
		kept = kept[:s.Limit]
	}
	return kept, duplicates
}
