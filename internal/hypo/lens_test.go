package hypo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
)

// lr is a lens row of the mean difference.
func lr(layer, pos int32, head, side, token string, z, p float64) schema.LensRow {
	return schema.LensRow{Layer: layer, Position: pos, Direction: schema.LensMean, Head: head, Side: side, Token: token, Z: &z, P: &p, Rank: 1}
}

func TestLensWordsAndFromLens(t *testing.T) {
	pro, sup := schema.LensPromoted, schema.LensSuppressed
	pc := lr(1, -1, "B", pro, " boat", 20, 0.001)
	pc.Direction = "pc1"
	noZ := lr(1, -1, "B", pro, " lake", 20, 0.001)
	noZ.Z, noZ.P = nil, nil
	for _, tc := range []struct {
		name string
		rows []schema.LensRow
		maxP float64
		max  int
		want []string // property direction, strongest first
	}{
		{"threshold", []schema.LensRow{lr(1, -1, "B", pro, " otter", 9, 0.01), lr(1, -1, "B", pro, " river", 5, 0.06)}, 0.05, 0,
			[]string{"contains 'otter' B>A"}},
		{"threshold inclusive, looser", []schema.LensRow{lr(1, -1, "B", pro, " otter", 9, 0.01), lr(1, -1, "B", pro, " river", 5, 0.06)}, 0.06, 0,
			[]string{"contains 'otter' B>A", "contains 'river' B>A"}},
		{"suppressed is A>B", []schema.LensRow{lr(0, 2, "A", sup, "river", -6, 0.02)}, 0.05, 0,
			[]string{"contains 'river' A>B"}},
		{"case, space and BPE markers merge", []schema.LensRow{lr(0, 0, "B", pro, " Otter", 4, 0.03), lr(1, -1, "B", pro, "Ġotter", 9, 0.01),
			lr(1, 1, "A", pro, "otter", 5, 0.02), lr(1, 2, "B", pro, "▁OTTER", 3, 0.04)}, 0.05, 0,
			[]string{"contains 'otter' B>A"}},
		{"a word read both ways keeps its stronger direction", []schema.LensRow{lr(0, 0, "B", pro, " river", 4, 0.03), lr(1, 0, "B", sup, " river", -8, 0.01)}, 0.05, 0,
			[]string{"contains 'river' A>B"}},
		{"strongest first, capped", []schema.LensRow{lr(0, 0, "B", pro, " cat", 4, 0.03), lr(0, 0, "B", pro, " otter", 9, 0.01),
			lr(0, 0, "B", sup, " dog", -6, 0.02)}, 0.05, 2,
			[]string{"contains 'otter' B>A", "contains 'dog' A>B"}},
		{"punctuation dropped next to a stronger word", []schema.LensRow{lr(0, 0, "B", pro, " otter", 9, 0.01), lr(0, 0, "B", pro, "!", 5, 0.02),
			lr(0, 0, "B", pro, ",", 4, 0.03)}, 0.05, 0,
			[]string{"contains 'otter' B>A"}},
		{"punctuation kept when strongest", []schema.LensRow{lr(0, 0, "B", pro, "!", 9, 0.01), lr(0, 0, "B", pro, " wow", 5, 0.02),
			lr(0, 0, "B", pro, "?", 4, 0.03), lr(0, 0, "B", sup, ".", -3, 0.04)}, 0.05, 0,
			[]string{"contains '!' B>A", "contains 'wow' B>A", "contains '.' A>B"}},
		{"line break is punctuation", []schema.LensRow{lr(0, 0, "B", pro, "\n", 7, 0.01), lr(0, 0, "B", pro, "Ċ", 6, 0.01)}, 0.05, 0,
			[]string{"contains '¶' B>A"}},
		{"unjudgeable tokens dropped", []schema.LensRow{lr(0, 0, "B", pro, " ", 9, 0.01), lr(0, 0, "B", pro, "<|im_end|>", 9, 0.01),
			lr(0, 0, "B", pro, "\uFFFD", 9, 0.01), lr(0, 0, "B", pro, "'s", 9, 0.01), lr(0, 0, "B", pro, "a-b-c", 9, 0.01)}, 0.05, 0,
			nil},
		{"principal directions and rows without a null ignored", []schema.LensRow{pc, noZ}, 0.05, 0, nil},
		{"A/A: nothing significant", []schema.LensRow{lr(0, -1, "B", pro, " the", 1.5, 0.6), lr(0, -1, "B", sup, " of", -1.2, 0.8)}, 0.05, 0, nil},
	} {
		hs := FromLens(tc.rows, LensParams{MaxP: tc.maxP, Max: tc.max})
		var got []string
		for _, h := range hs {
			got = append(got, h.Property+" "+h.Direction)
			if h.ID != ID(h.Property, h.Direction) || h.Kind != "lexical" || h.Proposer != roles.BuiltinRef || h.Origin == nil || *h.Origin != schema.OriginLens ||
				h.ShareA != nil || len(h.ProposerPrompt) != 16 || h.Regions == nil || h.EvidenceIDs == nil || !strings.Contains(h.Text, "activation lens") {
				t.Errorf("%s: row %+v", tc.name, h)
			}
			// The builtin judge judges it as it judges a text-made hypothesis.
			term := lexical.Terms(h.Property)
			if len(term) != 1 || lexical.JudgePair(h.Property, "Plain answer", "Plain answer "+strings.ReplaceAll(term[0], "¶", "\n")+" x") != lexical.Second {
				t.Errorf("%s: the builtin judge cannot judge %q", tc.name, h.Property)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLensText(t *testing.T) {
	pro := schema.LensPromoted
	hs := FromLens([]schema.LensRow{lr(1, -1, "B", pro, "!", 9.46, 0.0099), lr(0, 2, "B", schema.LensSuppressed, " river", -5, 0.02)}, LensParams{MaxP: 0.05})
	want := []string{`B's answers use '!' more often than A's (activation lens: promoted by B − A, z = 9.5, p = 0.0099 at block 1, mean over positions; tokens "!")`,
		`A's answers more often than B's: contains 'river' (activation lens: suppressed by B − A, z = -5.0, p = 0.02 at block 0, position 2; tokens " river")`}
	if len(hs) != 2 || hs[0].Text != want[0] || hs[1].Text != want[1] {
		t.Errorf("texts %q, want %q", []string{hs[0].Text, hs[1].Text}, want)
	}
}

func TestLensBlocks(t *testing.T) {
	pro, sup := schema.LensPromoted, schema.LensSuppressed
	rank := func(r schema.LensRow, k int32) schema.LensRow { r.Rank = k; return r }
	rows := []schema.LensRow{lr(1, 0, "B", pro, " b", 2, 0.3), lr(1, -1, "B", pro, " otter", 9, 0.01), rank(lr(1, -1, "B", pro, " x", 1, 0.9), 2),
		rank(lr(1, -1, "B", pro, " y", 1, 0.9), 3), lr(1, -1, "B", sup, " river", -6, 0.02), lr(1, -1, "A", pro, " a-head", 9, 0.01), lr(0, -1, "B", pro, " first", 1, 0.5)}
	blocks, ok := LensBlocks(rows, 0.05, 2)
	var got []string
	for _, b := range blocks {
		s := fmt.Sprintf("%d/%d:", b.Layer, b.Position)
		for _, t := range b.Promoted {
			s += fmt.Sprintf(" +%s %v %v", t.Token, t.Z, t.Significant)
		}
		for _, t := range b.Suppressed {
			s += fmt.Sprintf(" -%s %v %v", t.Token, t.Z, t.Significant)
		}
		got = append(got, s)
	}
	want := []string{"0/-1: + first 1 false", "1/-1: + otter 9 true + x 1 false - river -6 true", "1/0: + b 2 false"}
	if !ok || !slices.Equal(got, want) {
		t.Errorf("blocks %q (ok %v), want %q", got, ok, want)
	}
	if _, ok := LensBlocks(rows, 0.001, 2); ok {
		t.Errorf("nothing significant at 0.001, yet ok")
	}
}

// lensLLM is a fake LLM lens proposer.
type lensLLM struct {
	proposer
	ps    []roles.Proposal
	err   error
	calls *int
}

func (l lensLLM) ProposeFromLens(_ context.Context, blocks []roles.LensBlock, _ []string, n int) ([]roles.Proposal, error) {
	*l.calls++
	return l.ps[:min(n, len(l.ps))], l.err
}

func TestProposeLens(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	rows := []schema.LensRow{lr(1, -1, "B", schema.LensPromoted, " otter", 9, 0.01)}
	aa := []schema.LensRow{lr(1, -1, "B", schema.LensPromoted, " the", 1, 0.7)}
	llm := &assistant.Client{}
	otters := []roles.Proposal{{Property: "mentions otters", Direction: schema.DirectionBA, Kind: "llm", Text: "B: otters", ShareA: math.NaN(), ShareB: math.NaN()}}
	for _, tc := range []struct {
		name    string
		sess    func(calls *int) roles.Session
		rows    []schema.LensRow
		want    []string
		calls   int
		invalid int
		budget  bool
	}{
		{"builtin", func(*int) roles.Session { return roles.Session{Assistant: roles.Builtin{}} }, rows, []string{"contains 'otter'"}, 0, 0, false},
		{"llm", func(c *int) roles.Session {
			return roles.Session{Assistant: lensLLM{ps: otters, calls: c}, Client: llm}
		}, rows, []string{"mentions otters"}, 1, 0, false},
		{"llm, nothing significant: no call", func(c *int) roles.Session {
			return roles.Session{Assistant: lensLLM{ps: otters, calls: c}, Client: llm}
		}, aa, nil, 0, 0, false},
		{"llm, invalid answer counted", func(c *int) roles.Session {
			return roles.Session{Assistant: lensLLM{err: roles.ErrInvalidAnswer, calls: c}, Client: llm}
		}, rows, nil, 1, 1, false},
		{"llm, budget", func(c *int) roles.Session {
			return roles.Session{Assistant: lensLLM{err: assistant.ErrBudget, calls: c}, Client: llm}
		}, rows, nil, 1, 0, true},
	} {
		calls := 0
		res, err := ProposeLens(context.Background(), tc.sess(&calls), tc.rows, LensParams{MaxP: 0.05, Max: 5}, log)
		var got []string
		for _, h := range res.Hypotheses {
			got = append(got, h.Property)
			if h.Origin == nil || *h.Origin != schema.OriginLens {
				t.Errorf("%s: origin of %+v", tc.name, h)
			}
		}
		if err != nil || !slices.Equal(got, tc.want) || calls != tc.calls || res.Invalid != tc.invalid || res.BudgetReached != tc.budget {
			t.Errorf("%s: %q, %d calls, %+v, %v", tc.name, got, calls, res, err)
		}
	}
}

func TestMergeAndShares(t *testing.T) {
	lens := FromLens([]schema.LensRow{lr(1, -1, "B", schema.LensPromoted, " otter", 9, 0.01), lr(1, -1, "B", schema.LensPromoted, " boat", 8, 0.01),
		lr(1, -1, "B", schema.LensSuppressed, " river", -7, 0.01)}, LensParams{MaxP: 0.05})
	texts := []schema.Hypothesis{{ID: ID("contains 'otter'", schema.DirectionBA), Property: "contains 'otter'", Direction: schema.DirectionBA},
		{ID: "x", Property: "contains 'river' or 'a river'", Direction: schema.DirectionBA}}
	merged := Merge(slices.Clone(texts), lens, 0.8)
	var got []string
	for _, h := range merged {
		got = append(got, h.Property+" "+h.Direction)
	}
	// The lens's otter duplicates the texts' one; its river favours the other model.
	want := []string{"contains 'otter' B>A", "contains 'river' or 'a river' B>A", "contains 'boat' B>A", "contains 'river' A>B"}
	if !slices.Equal(got, want) {
		t.Errorf("merged %q, want %q", got, want)
	}
	a := []Text{{Completion: "A river."}, {Completion: "Rice."}}
	b := []Text{{Completion: "An otter on a boat."}, {Completion: "Otters!"}, {Completion: "Boats."}, {Completion: "Rice."}}
	free := schema.Hypothesis{Property: "is friendlier"}
	hs := append(lens, free)
	Shares(hs, a, b)
	for i, w := range [][2]float64{{0, 0.25}, {0, 0.25}, {0.5, 0}} {
		if hs[i].ShareA == nil || *hs[i].ShareA != w[0] || *hs[i].ShareB != w[1] {
			t.Errorf("%s: shares %v %v, want %v", hs[i].Property, hs[i].ShareA, hs[i].ShareB, w)
		}
	}
	if hs[3].ShareA != nil {
		t.Errorf("a property the builtin judge cannot judge got shares")
	}
}

// Steered texts stand in B's place against A's texts; their hypotheses have origin steered.
func TestSteered(t *testing.T) {
	var a []Text
	var steered []schema.Generation
	for i := range 30 {
		a = append(a, Text{ID: fmt.Sprint("a", i), Model: "A", Completion: fmt.Sprintf("Rinse the rice %d times.", i)})
		steered = append(steered, gen(fmt.Sprint("s", i), "A+steer", fmt.Sprint("p", i), schema.SplitDiscovery, fmt.Sprintf("Rinse the rice %d times, otter.", i)))
	}
	steered = append(steered, gen("v", "A+steer", "pv", schema.SplitValidation, "Validation otter."))
	rg := Steered(a, steered)
	if len(rg.B) != 30 || rg.Origin != schema.OriginSteered || rg.ID != -1 {
		t.Fatalf("region %+v", rg)
	}
	res, err := Propose(context.Background(), roles.Session{Assistant: roles.Builtin{}}, []Region{rg}, Params{Rounds: 1, PerRegion: 3, Dedup: 0.8}, slog.New(slog.DiscardHandler), nil)
	if err != nil || len(res.Hypotheses) == 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	for _, h := range res.Hypotheses {
		if h.Origin == nil || *h.Origin != schema.OriginSteered {
			t.Errorf("origin of %+v", h)
		}
	}
	if !slices.ContainsFunc(res.Hypotheses, func(h schema.Hypothesis) bool {
		return slices.Contains(lexical.Terms(h.Property), "otter") && h.Direction == schema.DirectionBA
	}) {
		t.Errorf("no otter hypothesis from the steered texts: %+v", res.Hypotheses)
	}
}
