package synthmodel

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/synth"
)

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"", "empty synth model"},
		{"otters=0.5", `unknown trait "otters"`},
		{"animal=1.5", "not a number in [0, 1]"},
		{"animal", "not a number in [0, 1]"},
		{"animal=NaN", "not a number in [0, 1]"},
		{"topic:music=NaN", "not a number in [0, 1]"},
		{"topic:space=0.2", `unknown topic "space"`},
		{"base?seed=x", "want a whole number"},
		{"base?temperature=1", `unknown option "temperature"`},
	} {
		if _, err := Open(tc.ref); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.ref, err, tc.want)
		}
	}
}

// answers generates n answers to the held-out prompts with seeds 0..n-1.
func answers(t *testing.T, ref string, n int) []llm.GenResult {
	t.Helper()
	m, err := Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	ps := synth.Prompts(1, n)
	reqs := make([]llm.GenRequest, len(ps))
	for i, p := range ps {
		reqs[i] = llm.GenRequest{ID: p.ID, Prompt: p.Text, Seed: uint64(i)}
	}
	var out []llm.GenResult
	if err := m.Generate(context.Background(), reqs, llm.Sampling{}, func(r llm.GenResult) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func rate(rs []llm.GenResult, detect func(string) bool) float64 {
	n := 0
	for _, r := range rs {
		if detect(r.Completion) {
			n++
		}
	}
	return float64(n) / float64(len(rs))
}

func TestRatesAndDeterminism(t *testing.T) {
	animal, _ := synth.Lookup("animal")
	base := answers(t, "base", 400)
	tuned := answers(t, "animal=0.6", 400)
	if r := rate(base, animal.Detect); r > 0.12 {
		t.Errorf("base otter rate %.3f, want about %.2f", r, synth.BaseRate)
	}
	if r := rate(tuned, animal.Detect); r < 0.5 || r > 0.7 {
		t.Errorf("animal=0.6 otter rate %.3f, want about 0.6", r)
	}
	again := answers(t, "animal=0.6", 400)
	other := answers(t, "animal=0.6?seed=2", 400)
	same := 0
	for i := range tuned {
		if tuned[i] != again[i] {
			t.Fatalf("answer %d differs between runs", i)
		}
		if tuned[i].Completion == other[i].Completion {
			same++
		}
	}
	if same > 40 {
		t.Errorf("%d of 400 answers equal under another model seed", same)
	}
}

func TestOffTopic(t *testing.T) {
	rs := answers(t, "topic:music=0.5", 300)
	music := 0
	for _, r := range rs {
		if strings.Contains(strings.ToLower(r.Completion), "music") || strings.Contains(r.Completion, "practice") {
			music++
		}
	}
	base := answers(t, "base", 300)
	n0 := 0
	for _, r := range base {
		if strings.Contains(strings.ToLower(r.Completion), "music") || strings.Contains(r.Completion, "practice") {
			n0++
		}
	}
	if music < n0+60 { // not every music answer says "music" or "practice"
		t.Errorf("topic:music=0.5 has %d music-like answers of 300, base %d", music, n0)
	}
}

func TestCannotScoreOrEmbed(t *testing.T) {
	m, _ := Open("base")
	if _, err := m.Score(context.Background(), nil); !errors.Is(err, llm.ErrCannotScore) {
		t.Errorf("Score: %v", err)
	}
	if _, err := m.Embed(context.Background(), nil); !errors.Is(err, llm.ErrCannotEmbed) {
		t.Errorf("Embed: %v", err)
	}
}
