package roles

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/assistant"
)

func TestParseVerdicts(t *testing.T) {
	I, F, S, T := Invalid, First, Second, Tie
	for _, tc := range []struct {
		name string
		text string
		n    int
		want []Verdict
	}{
		{"good", `{"verdicts": ["1", "2", "same"]}`, 3, []Verdict{F, S, T}},
		{"good, fenced", "```json\n{\"verdicts\": [\"2\", \"1\"]}\n```", 2, []Verdict{S, F}},
		{"too short", `{"verdicts": ["1", "2"]}`, 3, []Verdict{I, I, I}},
		{"too long", `{"verdicts": ["1", "2", "same", "1"]}`, 3, []Verdict{I, I, I}},
		{"empty list", `{"verdicts": []}`, 2, []Verdict{I, I}},
		{"truncated JSON", `{"verdicts": ["1"`, 2, []Verdict{I, I}},
		{"prose", "The first answer mentions otters more.", 2, []Verdict{I, I}},
		{"data after the object", `{"verdicts": ["1", "2"]} {"verdicts": ["1", "2"]}`, 2, []Verdict{I, I}},
		{"unknown field", `{"verdicts": ["1", "2"], "reason": "otters"}`, 2, []Verdict{I, I}},
		{"not a list", `{"verdicts": "1, 2"}`, 2, []Verdict{I, I}},
		{"one unknown element", `{"verdicts": ["1", "both", "same"]}`, 3, []Verdict{F, I, T}},
		{"a number, not a string", `{"verdicts": [1, "2"]}`, 2, []Verdict{I, S}},
		{"null element", `{"verdicts": ["2", null]}`, 2, []Verdict{S, I}},
	} {
		if got := ParseVerdicts(tc.text, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// chatStub answers every request with text (or a refusal, or err) and records the requests.
type chatStub struct {
	text    string
	refused bool
	err     error
	reqs    *[]assistant.Request
}

func (c chatStub) Ref() string { return "stub" }
func (c chatStub) Chat(_ context.Context, req assistant.Request) (assistant.Response, error) {
	*c.reqs = append(*c.reqs, req)
	return assistant.Response{Text: c.text, Refused: c.refused}, c.err
}

func TestLLMJudgePairs(t *testing.T) {
	ctx := context.Background()
	pairs := []PairToJudge{{"How?", "plain", "an otter"}, {"Why?", "an otter", "plain"}, {"When?", "a", "b"}}
	var reqs []assistant.Request
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		c     chatStub
		pairs []PairToJudge
		want  []Verdict
		err   error
	}{
		{"three pairs", chatStub{text: `{"verdicts": ["2", "1", "same"]}`}, pairs, []Verdict{Second, First, Tie}, nil},
		{"refusal", chatStub{text: `{"verdicts": ["2", "1", "same"]}`, refused: true}, pairs, []Verdict{Invalid, Invalid, Invalid}, nil},
		{"wrong length", chatStub{text: `{"verdicts": ["2", "1"]}`}, pairs, []Verdict{Invalid, Invalid, Invalid}, nil},
		{"error", chatStub{err: boom}, pairs, nil, boom},
		{"one pair: JudgePair's request", chatStub{text: `{"choice": "2"}`}, pairs[:1], []Verdict{Second}, nil},
		{"no pairs: no request", chatStub{}, nil, nil, nil},
	} {
		reqs = nil
		tc.c.reqs = &reqs
		got, err := LLM{C: tc.c}.JudgePairs(ctx, "contains 'otter'", tc.pairs)
		if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
		if want := min(1, len(tc.pairs)); len(reqs) != want {
			t.Fatalf("%s: %d requests, want %d", tc.name, len(reqs), want)
		}
	}
	// The batch request lists every pair, numbered, in the order given; one pair is asked exactly
	// as JudgePair asks it (so single judgments keep their cache entries).
	reqs = nil
	LLM{C: chatStub{reqs: &reqs}}.JudgePairs(ctx, "contains 'otter'", pairs)
	user := reqs[0].Messages[1].Content
	if reqs[0].Messages[0].Content != judgeBatchSystem || reqs[0].Temperature != 0 || !reqs[0].JSON ||
		!strings.HasPrefix(user, "Property: contains 'otter'\n\nThere are 3 pairs; give 3 verdicts.") ||
		!strings.Contains(user, "\n\n[Pair 2 of 3]\nPrompt: Why?\n\nAnswer 1:\nan otter\n\nAnswer 2:\nplain\n\n[Pair 3 of 3]\n") {
		t.Errorf("batch request: %+v", reqs[0])
	}
	reqs = nil
	LLM{C: chatStub{reqs: &reqs}}.JudgePairs(ctx, "p", pairs[:1])
	LLM{C: chatStub{reqs: &reqs}}.JudgePair(ctx, "p", pairs[0].Prompt, pairs[0].First, pairs[0].Second)
	if len(reqs) != 2 || !slices.Equal(reqs[0].Messages, reqs[1].Messages) || reqs[0].MaxTokens != reqs[1].MaxTokens {
		t.Errorf("one pair: %+v, want JudgePair's request", reqs)
	}
}

func TestBuiltinJudgePairs(t *testing.T) {
	ctx := context.Background()
	pairs := []PairToJudge{{"p", "plain", "an otter"}, {"p", "an otter", "plain"}, {"p", "plain", "plain"}}
	for _, property := range []string{"contains 'otter'", "is friendlier"} {
		got, err := Builtin{}.JudgePairs(ctx, property, pairs)
		if err != nil || len(got) != len(pairs) {
			t.Fatalf("%q: %v, %v", property, got, err)
		}
		for i, p := range pairs {
			if want, _ := (Builtin{}).JudgePair(ctx, property, p.Prompt, p.First, p.Second); got[i] != want {
				t.Errorf("%q, pair %d: %v, want %v", property, i, got[i], want)
			}
		}
	}
}
