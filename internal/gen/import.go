package gen

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Columns name the fields of imported records. Model, Sample, Seed and Finish may be empty (a
// fixed model label, samples numbered in input order, no seed, finish reason unknown).
type Columns struct {
	Model, Prompt, Completion, Sample, Seed, Finish string
}

// Importer turns (model, prompt, completion) records made elsewhere into generations. Prompt ids
// are prompts.ID of the trimmed prompt text; splits come from Splits (prompt id → split, from a
// prompts table named PromptsName) or, when Splits is nil, from prompts.SplitOf with SplitSeed and
// ValidationFraction, as mbd-prompts makes them. Records of the same model and prompt are numbered
// 0, 1, ... in input order, across files, unless Columns.Sample is given. An Importer keeps state
// across Read calls: a generation id seen twice is an error.
type Importer struct {
	Columns            Columns
	Model              string // label of every record, instead of Columns.Model
	ModelRef           string // reference recorded; default import:FILE
	Splits             map[string]string
	PromptsName        string
	SplitSeed          uint64
	ValidationFraction float64
	InvalidUTF8        records.InvalidUTF8 // refuse (the zero value) or replace
	Replaced           int                 // fields whose invalid UTF-8 was replaced so far

	nextSample map[string]int32  // model + prompt id → next sample index
	seen       map[string]string // generation id → where it came from
}

// Read reads the records of one .csv, .jsonl/.ndjson or .parquet file and calls yield with each
// generation, in input order. It returns the number of records read.
func (im *Importer) Read(ctx context.Context, path string, yield func(schema.Generation) error) (int64, error) {
	if im.seen == nil {
		im.nextSample, im.seen = map[string]int32{}, map[string]string{}
	}
	format, err := records.FormatOf(path)
	if err != nil {
		return 0, err
	}
	if format == "txt" {
		return 0, &table.InputError{Path: path, Msg: "plain text has no columns; use .csv, .jsonl or .parquet"}
	}
	col := im.Columns
	required := []string{col.Prompt, col.Completion}
	if im.Model == "" {
		required = append(required, col.Model)
	}
	var optional []string
	for _, c := range []string{col.Sample, col.Seed, col.Finish} {
		if c != "" {
			optional = append(optional, c)
		}
	}
	ref := im.ModelRef
	if ref == "" {
		ref = "import:" + filepath.Base(path)
	}
	var n int64
	for rec, err := range records.ReadWith(path, format, required, optional, im.InvalidUTF8) {
		if err != nil {
			return n, err
		}
		im.Replaced += rec.Replaced
		if err := ctx.Err(); err != nil {
			return n, err
		}
		where := fmt.Sprintf("%s:%d", path, rec.Line)
		g, err := im.generation(rec.Fields, ref, where)
		if err != nil {
			return n, err
		}
		if err := yield(g); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (im *Importer) generation(f map[string]string, ref, where string) (schema.Generation, error) {
	col := im.Columns
	g := schema.Generation{
		Model:        im.Model,
		ModelRef:     ref,
		Prompt:       strings.TrimSpace(f[col.Prompt]),
		Completion:   f[col.Completion],
		FinishReason: "unknown",
	}
	if g.Model == "" {
		g.Model = strings.TrimSpace(f[col.Model])
		if g.Model == "" {
			return g, &table.InputError{Path: where, Column: col.Model, Msg: "empty model label"}
		}
	}
	if g.Prompt == "" {
		return g, &table.InputError{Path: where, Column: col.Prompt, Msg: "empty prompt"}
	}
	g.PromptID = prompts.ID(g.Prompt)
	if c := col.Sample; c != "" {
		v, err := strconv.ParseInt(strings.TrimSpace(f[c]), 10, 32)
		if err != nil || v < 0 {
			return g, &table.InputError{Path: where, Column: c, Msg: fmt.Sprintf("sample index %q: want an integer >= 0", f[c])}
		}
		g.Sample = int32(v)
	}
	if c := col.Seed; c != "" {
		if s, ok := f[c]; ok && s != "" {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return g, &table.InputError{Path: where, Column: c, Msg: fmt.Sprintf("seed %q: want an integer", s)}
			}
			g.Seed = v
		}
	}
	if c := col.Finish; c != "" {
		g.FinishReason = FinishReason(f[c])
	}
	if im.Splits != nil {
		s, ok := im.Splits[g.PromptID]
		if !ok {
			return g, &table.InputError{Path: where, Column: col.Prompt, Msg: fmt.Sprintf("prompt %q is not in %s", clip(g.Prompt), im.PromptsName)}
		}
		g.Split = s
	} else {
		g.Split = prompts.SplitOf(g.PromptID, im.SplitSeed, im.ValidationFraction)
	}
	key := g.Model + "\x00" + g.PromptID
	if col.Sample == "" {
		g.Sample = im.nextSample[key]
		im.nextSample[key]++
	}
	g.ID = GenerationID(g.Model, g.PromptID, g.Sample)
	if prev, dup := im.seen[g.ID]; dup {
		return g, &table.InputError{Path: where, Msg: fmt.Sprintf("model %q, prompt %q, sample %d already came from %s", g.Model, clip(g.Prompt), g.Sample, prev)}
	}
	im.seen[g.ID] = where
	return g, nil
}

// FinishReason maps the finish reasons of common APIs to stop, length or unknown.
func FinishReason(s string) string {
	switch s = strings.TrimSpace(s); s {
	case "stop", "length":
		return s
	case "eos", "end_turn", "stop_sequence":
		return "stop"
	case "max_tokens":
		return "length"
	}
	return "unknown"
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
