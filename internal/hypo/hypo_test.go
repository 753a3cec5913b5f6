package hypo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
)

func gen(id, model, prompt, split, text string) schema.Generation {
	return schema.Generation{ID: id, Model: model, PromptID: prompt, Split: split, Prompt: "q " + prompt, Completion: text}
}

func textIDs(ts []Text) string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ",")
}

func TestDiscovery(t *testing.T) {
	d, v := schema.SplitDiscovery, schema.SplitValidation
	for _, tc := range []struct {
		name   string
		gens   []schema.Generation
		want   string // ids of the discovery texts, in order
		labels []string
	}{
		{"discovery split only", []schema.Generation{gen("1", "A", "p", d, ""), gen("2", "B", "p", v, ""), gen("3", "B", "p", d, "")},
			"1,3", []string{"A", "B"}},
		{"in order", []schema.Generation{gen("2", "B", "p", d, ""), gen("1", "A", "p", d, "")},
			"2,1", []string{"A", "B"}},
		{"labels of every split", []schema.Generation{gen("1", "A", "p", d, ""), gen("2", "C", "p", v, "")},
			"1", []string{"A", "C"}},
		{"none", nil, "", nil},
	} {
		texts, labels := Discovery(tc.gens)
		var ls []string
		for l := range labels {
			ls = append(ls, l)
		}
		slices.Sort(ls)
		if got := textIDs(texts); got != tc.want || !slices.Equal(ls, tc.labels) {
			t.Errorf("%s: texts %s, labels %v; want %s, %v", tc.name, got, ls, tc.want, tc.labels)
		}
	}
}

func TestAllAndDiffering(t *testing.T) {
	texts := []Text{{ID: "a1", Model: "A"}, {ID: "b1", Model: "B"}, {ID: "a2", Model: "A"}, {ID: "b2", Model: "B"}, {ID: "c1", Model: "C"}}
	all, byID := All(texts, "A", "B")
	if all.ID != -1 || textIDs(all.A) != "a1,a2" || textIDs(all.B) != "b1,b2" || len(byID) != 5 {
		t.Fatalf("All: %+v, %d by id", all, len(byID))
	}
	c := func(x int32) *int32 { return &x }
	cl := []schema.Cluster{{GenerationID: "a1", Model: "A", Cluster: 0}, {GenerationID: "a2", Model: "A", Cluster: 1},
		{GenerationID: "b1", Model: "B", Cluster: 0}, {GenerationID: "b2", Model: "B", Cluster: 0}, {GenerationID: "gone", Model: "B", Cluster: 1}}
	ms := []schema.Match{
		{Region: 10, Rank: 3, Category: "shifted", ClusterA: c(0), ClusterB: c(0)},
		{Region: 11, Rank: 1, Category: "same", ClusterA: c(1), ClusterB: c(1)},
		{Region: 12, Rank: 2, Category: "only-in-A", ClusterA: c(1)},
	}
	for _, tc := range []struct {
		n    int
		want []string // region: A ids / B ids
	}{
		{0, nil},
		{1, []string{"12: a2 / b1,b2 (outside a1,b1,b2)"}},
		{5, []string{"12: a2 / b1,b2 (outside a1,b1,b2)", "10: a1 / b1,b2 (outside a2)"}},
	} {
		var got []string
		for _, r := range Differing(ms, cl, tc.n, "A", "B", byID) {
			got = append(got, fmt.Sprintf("%d: %s / %s (outside %s)", r.ID, textIDs(r.A), textIDs(r.B), textIDs(r.Outside)))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Differing(n=%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if ms[0].Region != 10 {
		t.Error("Differing reordered its argument")
	}
}

func TestStratified(t *testing.T) {
	var a, b []Text
	for i := range 6 {
		a = append(a, Text{ID: fmt.Sprint("a", i), PromptID: fmt.Sprint("p", i)})
	}
	for i := 3; i < 9; i++ {
		b = append(b, Text{ID: fmt.Sprint("b", i), PromptID: fmt.Sprint("p", i)})
	}
	// Prompts p3-p5 are shared.
	for _, tc := range []struct {
		n, shared int // shared: pairs from shared prompts first
	}{{1, 1}, {3, 3}, {5, 3}, {10, 3}} {
		sa, sb := stratified(a, b, tc.n, rand.New(rand.NewPCG(1, 2)))
		if len(sa) != min(tc.n, 6) || len(sb) != min(tc.n, 6) {
			t.Errorf("n=%d: %d and %d texts", tc.n, len(sa), len(sb))
			continue
		}
		for i := range tc.shared {
			if sa[i].PromptID != sb[i].PromptID {
				t.Errorf("n=%d: pair %d is not one prompt: %s %s", tc.n, i, sa[i].PromptID, sb[i].PromptID)
			}
		}
		seen := map[string]bool{}
		for _, x := range append(slices.Clone(sa), sb...) {
			if seen[x.ID] {
				t.Errorf("n=%d: %s drawn twice", tc.n, x.ID)
			}
			seen[x.ID] = true
		}
	}
}

// proposer is an assistant that proposes fixed properties, or fails.
type proposer struct {
	roles.Builtin
	props []string
	err   error
	calls *int
}

func (p proposer) Ref() string { return "test:proposer" }
func (p proposer) Propose(_ context.Context, a, b []roles.Sample, earlier []string, n int) ([]roles.Proposal, error) {
	*p.calls++
	if p.err != nil {
		return nil, p.err
	}
	var out []roles.Proposal
	for _, pr := range p.props[:min(n, len(p.props))] {
		out = append(out, roles.Proposal{Property: pr, Direction: schema.DirectionBA, Text: "B: " + pr})
	}
	return out, nil
}

func TestPropose(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	region := func(id int32) Region {
		return Region{ID: id, A: []Text{{ID: "a", PromptID: "p", Completion: "Rinse the rice."}}, B: []Text{{ID: "b", PromptID: "p", Completion: "Rinse the rice, otter."}}}
	}
	llm := &assistant.Client{} // only its presence matters: Propose samples and runs every round
	for _, tc := range []struct {
		name      string
		sess      roles.Session
		regions   []Region
		p         Params
		want      []string // properties kept
		calls     int
		invalid   int
		budgetHit bool
		wantErr   bool
	}{
		{"near-duplicates dropped", roles.Session{Assistant: proposer{props: []string{"mentions otters", "mentions otters often", "is terse"}}},
			[]Region{region(-1)}, Params{Rounds: 2, PerRegion: 3, Samples: 2, Dedup: 0.8}, []string{"mentions otters", "is terse"}, 1, 0, false, false},
		{"dedup 1 keeps all but exact", roles.Session{Assistant: proposer{props: []string{"mentions otters", "mentions otters often"}}},
			[]Region{region(-1), region(3)}, Params{Rounds: 1, PerRegion: 3, Samples: 2, Dedup: 1}, []string{"mentions otters", "mentions otters often"}, 2, 0, false, false},
		{"per region cap", roles.Session{Assistant: proposer{props: []string{"mentions otters", "is terse"}}},
			[]Region{region(-1)}, Params{Rounds: 1, PerRegion: 1, Samples: 2, Dedup: 0.8}, []string{"mentions otters"}, 1, 0, false, false},
		{"LLM: every round", roles.Session{Assistant: proposer{props: []string{"is terse"}}, Client: llm},
			[]Region{region(-1)}, Params{Rounds: 3, PerRegion: 1, Samples: 1, Dedup: 0.8}, []string{"is terse"}, 3, 0, false, false},
		{"invalid answers counted", roles.Session{Assistant: proposer{err: roles.ErrInvalidAnswer}, Client: llm},
			[]Region{region(-1), region(1)}, Params{Rounds: 2, PerRegion: 1, Samples: 1, Dedup: 0.8}, nil, 4, 4, false, false},
		{"budget stops", roles.Session{Assistant: proposer{err: fmt.Errorf("x: %w", assistant.ErrBudget)}, Client: llm},
			[]Region{region(-1), region(1)}, Params{Rounds: 2, PerRegion: 1, Samples: 1, Dedup: 0.8}, nil, 1, 0, true, false},
		{"other errors fail", roles.Session{Assistant: proposer{err: errors.New("boom")}},
			[]Region{region(-1)}, Params{Rounds: 1, PerRegion: 1, Samples: 1, Dedup: 0.8}, nil, 1, 0, false, true},
	} {
		calls := 0
		pr := tc.sess.Assistant.(proposer)
		pr.calls = &calls
		tc.sess.Assistant = pr
		done := 0
		res, err := Propose(ctx, tc.sess, tc.regions, tc.p, log, func() { done++ })
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v", tc.name, err)
			continue
		}
		var got []string
		for _, h := range res.Hypotheses {
			got = append(got, h.Property)
			if h.ID != ID(h.Property, h.Direction) || h.Proposer != "test:proposer" || len(h.EvidenceIDs) == 0 || len(h.ProposerPrompt) != 16 {
				t.Errorf("%s: row %+v", tc.name, h)
			}
		}
		if !slices.Equal(got, tc.want) || calls != tc.calls || res.Invalid != tc.invalid || res.BudgetReached != tc.budgetHit {
			t.Errorf("%s: kept %q, %d calls, %d invalid, budget %v; want %q, %d, %d, %v", tc.name, got, calls, res.Invalid, res.BudgetReached, tc.want, tc.calls, tc.invalid, tc.budgetHit)
		}
		if !tc.wantErr && !tc.budgetHit && done != len(tc.regions) {
			t.Errorf("%s: done called %d times for %d regions", tc.name, done, len(tc.regions))
		}
	}
}

func TestProposeBuiltin(t *testing.T) {
	var a, b []Text
	for i := range 40 {
		a = append(a, Text{ID: fmt.Sprint("a", i), Completion: fmt.Sprintf("Rinse the rice %d times and cook it.", i)})
		text := fmt.Sprintf("Rinse the rice %d times and cook it.", i)
		if i%2 == 0 {
			text += " An otter would agree."
		}
		b = append(b, Text{ID: fmt.Sprint("b", i), Completion: text})
	}
	res, err := Propose(context.Background(), roles.Session{Assistant: roles.Builtin{}}, []Region{{ID: -1, A: a, B: b}},
		Params{Rounds: 2, PerRegion: 3, Samples: 8, Dedup: 0.8}, slog.New(slog.DiscardHandler), nil)
	if err != nil || len(res.Hypotheses) == 0 {
		t.Fatalf("%v, %+v", err, res)
	}
	i := slices.IndexFunc(res.Hypotheses, func(h schema.Hypothesis) bool { return strings.Contains(h.Property, "otter") })
	if i < 0 {
		t.Fatalf("no otter hypothesis: %+v", res.Hypotheses)
	}
	h := res.Hypotheses[i]
	if h.Direction != schema.DirectionBA || h.Kind != "lexical" || h.ShareB == nil || *h.ShareB != 0.5 || *h.ShareA != 0 || len(h.EvidenceIDs) != 80 ||
		h.Origin == nil || *h.Origin != schema.OriginTexts {
		t.Errorf("otter hypothesis %+v", h)
	}
}

// A shifted region the describer finds no words for still becomes a hypothesis: "reads like these
// answers rather than these", judged by the builtin judge.
func TestProposeExemplar(t *testing.T) {
	music := []string{"Practice the piano scales slowly with a metronome.", "A guitar chord needs clean fingers on the frets.", "Sing the melody and keep the rhythm steady."}
	plain := []string{"Rinse the rice and cook it for twenty minutes.", "Water the plants twice a week in summer.", "Sort the files by date before you archive them."}
	var in, outside []Text
	for i := range 12 {
		in = append(in, Text{ID: fmt.Sprint("b", i), Model: "B", Completion: music[i%3]})
		outside = append(outside, Text{ID: fmt.Sprint("o", i), Model: "B", Completion: plain[i%3]}, Text{ID: fmt.Sprint("a", i), Model: "A", Completion: plain[(i+1)%3]})
	}
	for _, tc := range []struct {
		name   string
		region Region
		want   string // direction, or "" for no hypothesis
	}{
		{"shifted toward B", Region{ID: 3, A: in[:2], B: in, ShareA: 0.05, ShareB: 0.3, Outside: outside}, schema.DirectionBA},
		{"shares unknown", Region{ID: 3, A: in[:2], B: in, ShareA: math.NaN(), ShareB: 0.3, Outside: outside}, ""},
		{"no texts outside", Region{ID: 3, A: in[:2], B: in, ShareA: 0.05, ShareB: 0.3}, ""},
	} {
		res, err := Propose(context.Background(), roles.Session{Assistant: roles.Builtin{}}, []Region{tc.region},
			Params{Rounds: 1, PerRegion: 3, Dedup: 0.8, MinZ: 50}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if len(res.Hypotheses) != 0 {
				t.Errorf("%s: %+v", tc.name, res.Hypotheses)
			}
			continue
		}
		if len(res.Hypotheses) != 1 {
			t.Fatalf("%s: %d hypotheses: %+v", tc.name, len(res.Hypotheses), res.Hypotheses)
		}
		h := res.Hypotheses[0]
		if h.Kind != "exemplar" || h.Direction != tc.want || *h.ShareB != 0.3 || !strings.Contains(h.Text, "region 3") || h.Origin == nil || *h.Origin != schema.OriginExemplar {
			t.Errorf("%s: %+v", tc.name, h)
		}
		if v := lexical.JudgePair(h.Property, "Tune the guitar and practice the melody.", "Cook the rice in salted water."); v != lexical.First {
			t.Errorf("%s: judge says %v for a music answer against a plain one", tc.name, v)
		}
	}
}

func TestID(t *testing.T) {
	for _, tc := range []struct{ p, d, other string }{
		{"contains 'otter'", schema.DirectionBA, schema.DirectionAB},
		{"is longer", schema.DirectionAB, schema.DirectionBA},
	} {
		id := ID(tc.p, tc.d)
		if len(id) != 16 || id != ID(tc.p, tc.d) || id == ID(tc.p, tc.other) {
			t.Errorf("ID(%q, %q) = %q: not a stable 16-digit id that depends on the direction", tc.p, tc.d, id)
		}
	}
}
