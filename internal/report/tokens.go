package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mbd-dev/mbd/internal/schema"
)

// tokenEvidence lines up the scores of one text under A and under B and returns the per-piece
// log p_B − log p_A. Both scorers' tokens must concatenate to the same text; the text is cut at
// every token boundary of either (moved forward to the next UTF-8 character start, so a piece is
// always whole characters), and a token's log-prob is shared among the pieces it covers in
// proportion to their bytes (a token of zero bytes goes whole to the piece at its offset). With one
// tokenizer the pieces are the tokens. top bounds TopA and TopB.
func tokenEvidence(sa, sb *schema.Score, top int) (*TokenEvidence, error) {
	if len(sa.Tokens) != len(sa.Logprobs) || len(sb.Tokens) != len(sb.Logprobs) {
		return nil, fmt.Errorf("tokens and logprobs differ in length")
	}
	text := strings.Join(sa.Tokens, "")
	if strings.Join(sb.Tokens, "") != text {
		return nil, fmt.Errorf("the two scorers' tokens spell different texts")
	}
	for _, lps := range [][]float32{sa.Logprobs, sb.Logprobs} {
		for _, lp := range lps {
			if math.IsNaN(float64(lp)) || math.IsInf(float64(lp), 0) {
				return nil, fmt.Errorf("a log-prob is not finite")
			}
		}
	}
	// Piece boundaries: every token boundary of either, at character starts.
	cuts := []int{0, len(text)}
	for _, toks := range [][]string{sa.Tokens, sb.Tokens} {
		off := 0
		for _, t := range toks {
			off += len(t)
			cuts = append(cuts, snap(text, off))
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	segs := make([]Segment, 0, len(cuts))
	for i := 0; i+1 < len(cuts); i++ {
		segs = append(segs, Segment{Text: text[cuts[i]:cuts[i+1]]})
	}
	if len(segs) == 0 && (len(sa.Tokens) > 0 || len(sb.Tokens) > 0) {
		segs = append(segs, Segment{}) // tokens of zero bytes only
	}
	spread := func(toks []string, lps []float32, set func(*Segment, float64)) float64 {
		var sum float64
		off := 0
		for k, t := range toks {
			lp := float64(lps[k])
			sum += lp
			start, end := off, off+len(t)
			off = end
			if start == end { // a token of no bytes: to the piece at its offset
				i := max(0, min(len(segs)-1, pieceAt(cuts, start)))
				set(&segs[i], lp)
				continue
			}
			for i := pieceAt(cuts, start); i < len(segs) && cuts[i] < end; i++ {
				ov := min(end, cuts[i+1]) - max(start, cuts[i])
				if ov > 0 {
					set(&segs[i], lp*float64(ov)/float64(len(t)))
				}
			}
		}
		return sum
	}
	ev := &TokenEvidence{ScorerA: sa.Scorer, ScorerB: sb.Scorer, TopA: []int{}, TopB: []int{}}
	ev.LogprobA = spread(sa.Tokens, sa.Logprobs, func(s *Segment, x float64) { s.LogprobA += x })
	ev.LogprobB = spread(sb.Tokens, sb.Logprobs, func(s *Segment, x float64) { s.LogprobB += x })
	for i := range segs {
		segs[i].Diff = segs[i].LogprobB - segs[i].LogprobA
	}
	ev.Segments = segs
	// The largest differences each way; among equal ones the earlier piece first.
	ranked := func(sign float64) []int {
		var idx []int
		for i := range segs {
			if segs[i].Diff*sign > 0 {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(segs[y].Diff*sign, segs[x].Diff*sign) })
		return idx[:min(top, len(idx))]
	}
	ev.TopB, ev.TopA = append(ev.TopB, ranked(1)...), append(ev.TopA, ranked(-1)...)
	return ev, nil
}

// snap moves off forward to the start of a UTF-8 character of text (or its end).
func snap(text string, off int) int {
	for off < len(text) && !utf8.RuneStart(text[off]) {
		off++
	}
	return min(off, len(text))
}

// pieceAt returns the index of the piece [cuts[i], cuts[i+1]) that holds byte offset off.
func pieceAt(cuts []int, off int) int {
	i, found := slices.BinarySearch(cuts, off)
	if !found {
		i--
	}
	return max(0, min(i, len(cuts)-2))
}

// Colours of the two models (plots and token highlighting).
var (
	colourA = [3]uint8{0x31, 0x82, 0xbd} // blue
	colourB = [3]uint8{0xe6, 0x55, 0x0d} // orange
)

// tokenColour is the background of a piece: white at 0, model B's colour at diff ≥ scale, model
// A's at diff ≤ −scale, blended linearly between.
func tokenColour(diff, scale float64) string {
	t := 0.0
	if scale > 0 {
		t = math.Min(1, math.Abs(diff)/scale)
	}
	c := colourB
	if diff < 0 {
		c = colourA
	}
	// At most 75% of the colour, so dark text stays readable.
	t *= 0.75
	mix := func(x uint8) uint8 { return uint8(math.Round(255 + (float64(x)-255)*t)) }
	return fmt.Sprintf("#%02x%02x%02x", mix(c[0]), mix(c[1]), mix(c[2]))
}

func hexColour(c [3]uint8) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }
