package hypo

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/embed"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Hypotheses from an activation difference lens (mbd-model lens). The lens proposes, behaviour
// decides: a token that B's residual stream leans towards on neutral text is a guess about B's
// answers, validated on held-out prompts like any other hypothesis.
//
// Only the rows of the mean difference are read (principal directions have no null), and of
// them the tokens whose max-T adjusted p is at most LensParams.MaxP. A token is turned into the
// word the builtin judge reads (embed.Tokenize: BPE markers Ġ and ▁ become spaces, Ċ a line break,
// case is folded and white space dropped), so " Otter", "otter" and "Ġotter" are one word; a word
// is aggregated over the blocks, positions and both heads, keeping its strongest reading (largest
// |z|, then smallest p). Promoted words favour B (B>A), suppressed ones A (A>B); a word read both
// ways keeps its stronger direction. Tokens that make no judgeable word are dropped: white space,
// control tokens (<…>), byte fragments, more than three terms, a quote mark. Punctuation and line
// breaks ('!', '?', '¶') are kept only when one is the strongest word of its direction: a lone '!'
// can be a real marker (an exclamatory style), but punctuation next to a stronger word is usually
// the word's context.

// LensParams are the settings of the lens proposals.
type LensParams struct {
	MaxP float64 // a token counts when its adjusted p is at most MaxP
	Max  int     // most hypotheses, strongest first
	Top  int     // tokens per block and side shown to an LLM (0: 10)
}

// LensWord is one word of the lens, merged from its tokens.
type LensWord struct {
	Term      string   // the word as the lexical judge reads it (embed.Tokenize, terms joined by spaces)
	Direction string   // B>A for a promoted word, A>B for a suppressed one
	Tokens    []string // the token texts merged into it, in order of first reading
	Z, P      float64  // the strongest reading
	Layer     int32    // where the strongest reading is
	Position  int32    // -1: the average over positions
	Head      string   // whose head read it
	Punct     bool     // punctuation or a line break, no letters or digits
}

// LensWords returns the significant words of lens rows, strongest first (|z|, then p, then term).
func LensWords(rows []schema.LensRow, maxP float64) []LensWord {
	byTerm := map[string]*LensWord{}
	var order []string
	for _, r := range rows {
		if r.Direction != schema.LensMean || r.Z == nil || r.P == nil || !(*r.P <= maxP) || math.IsNaN(*r.Z) {
			continue
		}
		term, punct, ok := lensTerm(r.Token)
		if !ok {
			continue
		}
		dir := schema.DirectionBA
		if r.Side == schema.LensSuppressed {
			dir = schema.DirectionAB
		}
		w := byTerm[term]
		if w == nil {
			w = &LensWord{Term: term, Punct: punct, Z: math.NaN()}
			byTerm[term] = w
			order = append(order, term)
		}
		if !slices.Contains(w.Tokens, r.Token) {
			w.Tokens = append(w.Tokens, r.Token)
		}
		z, p := math.Abs(*r.Z), *r.P
		if math.IsNaN(w.Z) || z > math.Abs(w.Z) || (z == math.Abs(w.Z) && p < w.P) {
			w.Direction, w.Z, w.P, w.Layer, w.Position, w.Head = dir, *r.Z, p, r.Layer, r.Position, r.Head
		}
	}
	out := make([]LensWord, 0, len(order))
	for _, t := range order {
		out = append(out, *byTerm[t])
	}
	slices.SortStableFunc(out, func(a, b LensWord) int {
		return cmp.Or(cmp.Compare(math.Abs(b.Z), math.Abs(a.Z)), cmp.Compare(a.P, b.P), strings.Compare(a.Term, b.Term))
	})
	// Punctuation only as the strongest word of its direction.
	strongest := map[string]bool{}
	kept := out[:0]
	for _, w := range out {
		first := !strongest[w.Direction]
		strongest[w.Direction] = true
		if !w.Punct || first {
			kept = append(kept, w)
		}
	}
	return kept
}

// lensTerm turns a token into the term the lexical judge reads; ok is false when it makes none.
func lensTerm(tok string) (term string, punct, ok bool) {
	if strings.ContainsRune(tok, unicode.ReplacementChar) || (len(tok) > 2 && strings.HasPrefix(tok, "<") && strings.HasSuffix(tok, ">")) {
		return "", false, false
	}
	tok = strings.NewReplacer("Ġ", " ", "▁", " ", "Ċ", "\n").Replace(tok)
	terms := embed.Tokenize(tok)
	if len(terms) == 0 || len(terms) > 3 || slices.Contains(terms, "'") {
		return "", false, false
	}
	punct = !strings.ContainsFunc(tok, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	return strings.Join(terms, " "), punct, true
}

// lensProperty is the builtin property of a word: what the builtin describer writes for a term.
func lensProperty(w LensWord) string { return "contains '" + w.Term + "'" }

// lensText is the hypothesis of a word for people.
func lensText(w LensWord) string {
	more, less, side := "B", "A", "promoted"
	if w.Direction == schema.DirectionAB {
		more, less, side = "A", "B", "suppressed"
	}
	where := fmt.Sprintf("block %d, position %d", w.Layer, w.Position)
	if w.Position < 0 {
		where = fmt.Sprintf("block %d, mean over positions", w.Layer)
	}
	quoted := make([]string, len(w.Tokens))
	for i, t := range w.Tokens {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	lens := fmt.Sprintf("activation lens: %s by B − A, z = %.1f, p = %.3g at %s; tokens %s", side, w.Z, w.P, where, strings.Join(quoted, ", "))
	if w.Punct {
		return fmt.Sprintf("%s's answers use '%s' more often than %s's (%s)", more, w.Term, less, lens)
	}
	return fmt.Sprintf("%s's answers more often than %s's: %s (%s)", more, less, lensProperty(w), lens)
}

// FromLens returns the builtin's hypotheses from lens rows: one per significant word (LensWords),
// at most p.Max, as the builtin describer writes a term ("contains 'otter'"), so that the builtin
// judge judges them as it judges a text-made one. Their origin is lens; their shares are unknown
// (Shares fills them from texts).
func FromLens(rows []schema.LensRow, p LensParams) []schema.Hypothesis {
	words := LensWords(rows, p.MaxP)
	if p.Max > 0 && len(words) > p.Max {
		words = words[:p.Max]
	}
	h := sha256.New()
	for _, w := range words {
		fmt.Fprintf(h, "%s\x00%s\x00%g\x00", w.Term, w.Direction, w.Z)
	}
	hash := hex.EncodeToString(h.Sum(nil)[:8])
	out := []schema.Hypothesis{}
	for _, w := range words {
		prop := lensProperty(w)
		out = append(out, schema.Hypothesis{ID: ID(prop, w.Direction), Text: lensText(w), Property: prop, Direction: w.Direction,
			Kind: "lexical", Proposer: roles.BuiltinRef, Regions: []int32{}, EvidenceIDs: []string{}, ProposerPrompt: hash,
			Origin: origin(schema.OriginLens)})
	}
	return out
}

// LensBlocks returns what an LLM is shown of the lens: per block and position of the mean
// difference (the average over positions first), B's head's top promoted and suppressed tokens
// (A's head when the table has no B head), up to top per side by rank, marked significant when
// p ≤ maxP. ok is false when no token is significant: then there is nothing to propose from.
func LensBlocks(rows []schema.LensRow, maxP float64, top int) (blocks []roles.LensBlock, ok bool) {
	head := "A"
	for _, r := range rows {
		if r.Head == "B" {
			head = "B"
			break
		}
	}
	type key struct{ layer, pos int32 }
	idx := map[key]int{}
	var sel []schema.LensRow
	for _, r := range rows {
		if r.Direction == schema.LensMean && r.Head == head && int(r.Rank) <= top {
			sel = append(sel, r)
		}
	}
	slices.SortStableFunc(sel, func(a, b schema.LensRow) int {
		pa, pb := a.Position, b.Position
		return cmp.Or(cmp.Compare(a.Layer, b.Layer), cmp.Compare(pa, pb), cmp.Compare(a.Rank, b.Rank))
	})
	for _, r := range sel {
		k := key{r.Layer, r.Position}
		i, seen := idx[k]
		if !seen {
			i = len(blocks)
			idx[k] = i
			blocks = append(blocks, roles.LensBlock{Layer: r.Layer, Position: r.Position})
		}
		t := roles.LensToken{Token: r.Token, Z: math.NaN()}
		if r.Z != nil {
			t.Z = *r.Z
		}
		t.Significant = r.P != nil && *r.P <= maxP
		ok = ok || t.Significant
		if r.Side == schema.LensSuppressed {
			blocks[i].Suppressed = append(blocks[i].Suppressed, t)
		} else {
			blocks[i].Promoted = append(blocks[i].Promoted, t)
		}
	}
	return blocks, ok
}

// ProposeLens proposes hypotheses from lens rows: FromLens with the builtin assistant, one
// request to an LLM (roles.LensProposer) otherwise, which is shown LensBlocks. A lens with no
// significant token proposes nothing (and makes no request). Every hypothesis has origin lens.
func ProposeLens(ctx context.Context, sess roles.Session, rows []schema.LensRow, p LensParams, log *slog.Logger) (Result, error) {
	var res Result
	lp, isLLM := sess.Assistant.(roles.LensProposer)
	if sess.Client == nil || !isLLM {
		res.Hypotheses = FromLens(rows, p)
		return res, nil
	}
	top := cmp.Or(p.Top, 10)
	blocks, ok := LensBlocks(rows, p.MaxP, top)
	if !ok {
		return res, nil
	}
	ps, err := lp.ProposeFromLens(ctx, blocks, nil, max(p.Max, 1))
	switch {
	case errors.Is(err, roles.ErrInvalidAnswer):
		res.Invalid++
		log.Warn("lens proposer answer refused or unparsable: counted, going on")
		return res, nil
	case errors.Is(err, assistant.ErrBudget):
		log.Warn("assistant budget reached: writing the hypotheses so far; rerun with a larger --budget to go on (answers so far are cached)")
		res.BudgetReached = true
		return res, nil
	case err != nil:
		return res, fmt.Errorf("lens: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", sess.Ref())
	for _, b := range blocks {
		fmt.Fprintf(h, "%d %d %v %v\x00", b.Layer, b.Position, b.Promoted, b.Suppressed)
	}
	hash := hex.EncodeToString(h.Sum(nil)[:8])
	for _, pr := range ps {
		res.Hypotheses = append(res.Hypotheses, schema.Hypothesis{ID: ID(pr.Property, pr.Direction), Text: pr.Text, Property: pr.Property,
			Direction: pr.Direction, Kind: pr.Kind, Proposer: sess.Ref(), Regions: []int32{}, EvidenceIDs: []string{}, ProposerPrompt: hash,
			ShareA: finite(pr.ShareA), ShareB: finite(pr.ShareB), Origin: origin(schema.OriginLens)})
	}
	return res, nil
}

// Merge appends to hs the hypotheses of more that are not near-duplicates (duplicate) of one
// already there, or that have the same id.
func Merge(hs, more []schema.Hypothesis, dedup float64) []schema.Hypothesis {
	for _, m := range more {
		dup := slices.ContainsFunc(hs, func(h schema.Hypothesis) bool {
			return h.ID == m.ID || duplicate(h.Property, h.Direction, m.Property, m.Direction, dedup)
		})
		if !dup {
			hs = append(hs, m)
		}
	}
	return hs
}

// duplicate reports whether two properties are near-duplicates: the same direction and, when both
// quote terms, a term in common ("contains 'otter'" and "contains 'boat'" differ, however alike
// their words), otherwise a word-count cosine ≥ dedup.
func duplicate(p1, d1, p2, d2 string, dedup float64) bool {
	if d1 != d2 {
		return false
	}
	if t1, t2 := lexical.Terms(p1), lexical.Terms(p2); len(t1) > 0 && len(t2) > 0 {
		return slices.ContainsFunc(t1, func(t string) bool { return slices.Contains(t2, t) })
	}
	return lexical.Cosine(lexical.WordCounts(p1), lexical.WordCounts(p2)) >= dedup
}

// Shares fills the unknown shares of hs with the shares of the texts of a and of b that show the
// property by the builtin judge, where it can judge the property (quoted terms, exemplars).
func Shares(hs []schema.Hypothesis, a, b []Text) {
	if len(a) == 0 || len(b) == 0 {
		return
	}
	share := func(score func(string) int, ts []Text) *float64 {
		n := 0
		for _, t := range ts {
			if score(t.Completion) > 0 {
				n++
			}
		}
		x := float64(n) / float64(len(ts))
		return &x
	}
	for i := range hs {
		h := &hs[i]
		if h.ShareA != nil || h.ShareB != nil {
			continue
		}
		if score, ok := lexical.Scorer(h.Property); ok {
			h.ShareA, h.ShareB = share(score, a), share(score, b)
		}
	}
}

func origin(s string) *string { return &s }
