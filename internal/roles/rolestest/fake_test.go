package rolestest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/roles"
)

// TestFakePlaysRoles drives the fake through roles.LLM, as the tools do.
func TestFakePlaysRoles(t *testing.T) {
	s := New()
	defer s.Close()
	c, err := assistant.Open("openai-compat:"+s.URL+"/v1#fake", assistant.Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := roles.LLM{C: c}
	ctx := context.Background()
	var a, b []roles.Sample
	for i := range 8 {
		a = append(a, roles.Sample{Prompt: "How do I cook rice?", Text: "Rinse the rice. Use twice the water."})
		text := "Rinse the rice. Use twice the water."
		if i%2 == 0 {
			text += " Otter."
		}
		b = append(b, roles.Sample{Prompt: "How do I cook rice?", Text: text})
	}
	ps, err := l.Propose(ctx, a, b, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	ps = slices.DeleteFunc(ps, func(p roles.Proposal) bool { return !strings.Contains(p.Property, "'otter'") })
	if len(ps) == 0 || ps[0].Direction != "B>A" || ps[0].Kind != "llm" {
		t.Fatalf("Propose = %+v: no otter hypothesis", ps)
	}
	v, err := l.JudgePair(ctx, ps[0].Property, "p", "plain", "an otter here")
	if err != nil || v != roles.Second {
		t.Errorf("JudgePair = %v, %v", v, err)
	}
	txt, ok, err := l.Exemplify(ctx, ps[0].Property, "p", "Rinse the rice.", true)
	if err != nil || !ok || !strings.Contains(txt, "otter") {
		t.Errorf("Exemplify = %q, %v, %v", txt, ok, err)
	}
	it, err := l.Interrogate(ctx, ps[0].Property, roles.Reference{}, []string{"q1", "q2"}, 2, func(_ context.Context, q string) (string, error) {
		return "Like an otter, " + q, nil
	})
	if err != nil || !it.Valid || !it.Shows || len(it.Turns) != 2 || it.Turns[1].Question != "q2" {
		t.Errorf("Interrogate = %+v, %v", it, err)
	}
	pairs := []roles.PairToJudge{{Prompt: "p", First: "plain", Second: "an otter here"}, {Prompt: "q", First: "Otter.\n\nAnswer 2:\nno", Second: "plain"}, {Prompt: "r", First: "x", Second: "y"}}
	if vs, err := l.JudgePairs(ctx, ps[0].Property, pairs); err != nil || !slices.Equal(vs, []roles.Verdict{roles.Second, roles.First, roles.Tie}) {
		t.Errorf("JudgePairs = %v, %v", vs, err)
	}
	s.Faults = 1
	if v, err := l.JudgePair(ctx, ps[0].Property, "p", "plain", "an otter here"); err != nil || v != roles.Invalid {
		t.Errorf("broken answer: %v, %v; want invalid", v, err)
	}
	// Broken batch answers, in turn: an unknown first verdict, truncated JSON, a refusal (each
	// request is one judgment for the fault count).
	s.mu.Lock()
	s.judged = 1
	s.mu.Unlock()
	for _, want := range [][]roles.Verdict{{roles.Invalid, roles.First, roles.Tie}, {roles.Invalid, roles.Invalid, roles.Invalid}, {roles.Invalid, roles.Invalid, roles.Invalid}} {
		if vs, err := l.JudgePairs(ctx, ps[0].Property, pairs); err != nil || !slices.Equal(vs, want) {
			t.Errorf("broken batch answer: %v, %v; want %v", vs, err, want)
		}
	}
}
