package report

import (
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mbd-dev/mbd/internal/schema"
)

func score(toks []string, lps ...float32) *schema.Score {
	return &schema.Score{Tokens: toks, Logprobs: lps}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestTokenEvidenceSameTokenizer(t *testing.T) {
	toks := []string{"An", " otter", " swims", "."}
	ev, err := tokenEvidence(score(toks, -1, -6, -2, -0.5), score(toks, -1, -1, -3, -0.5), 2)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var diffs []float64
	for _, s := range ev.Segments {
		texts, diffs = append(texts, s.Text), append(diffs, s.Diff)
	}
	if !slices.Equal(texts, toks) {
		t.Fatalf("pieces %q, want the tokens", texts)
	}
	for i, want := range []float64{0, 5, -1, 0} {
		if !near(diffs[i], want) {
			t.Errorf("diff[%d] = %g, want %g", i, diffs[i], want)
		}
	}
	if !slices.Equal(ev.TopB, []int{1}) || !slices.Equal(ev.TopA, []int{2}) {
		t.Errorf("top B %v, top A %v", ev.TopB, ev.TopA)
	}
	if !near(ev.LogprobA, -9.5) || !near(ev.LogprobB, -5.5) {
		t.Errorf("sums %g %g", ev.LogprobA, ev.LogprobB)
	}
}

func TestTokenEvidenceDifferentTokenizers(t *testing.T) {
	// A: "An"," ot","ter"; B: "An"," otter": pieces are the union of the boundaries; B's " otter"
	// is shared between " ot" (3 bytes) and "ter" (3 bytes) in proportion.
	ev, err := tokenEvidence(score([]string{"An", " ot", "ter"}, -1, -4, -2), score([]string{"An", " otter"}, -1, -2), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Segment{{"An", -1, -1, 0}, {" ot", -4, -1, 3}, {"ter", -2, -1, 1}}
	if len(ev.Segments) != len(want) {
		t.Fatalf("segments %+v", ev.Segments)
	}
	for i, w := range want {
		s := ev.Segments[i]
		if s.Text != w.Text || !near(s.LogprobA, w.LogprobA) || !near(s.LogprobB, w.LogprobB) || !near(s.Diff, w.Diff) {
			t.Errorf("segment %d = %+v, want %+v", i, s, w)
		}
	}
	if !slices.Equal(ev.TopB, []int{1, 2}) || len(ev.TopA) != 0 {
		t.Errorf("top B %v, top A %v", ev.TopB, ev.TopA)
	}
	// The log-probs of the pieces add up to each model's total.
	var sa, sb float64
	for _, s := range ev.Segments {
		sa, sb = sa+s.LogprobA, sb+s.LogprobB
	}
	if !near(sa, ev.LogprobA) || !near(sb, ev.LogprobB) || !near(sa, -7) || !near(sb, -3) {
		t.Errorf("sums %g %g (%g %g)", sa, sb, ev.LogprobA, ev.LogprobB)
	}
}

func TestTokenEvidenceUTF8AndEmpty(t *testing.T) {
	// A byte-level tokenizer can split "é" (2 bytes) and "✓" (3 bytes); pieces stay whole characters.
	e := "é"
	check := "✓"
	ta := []string{"caf", e[:1], e[1:], " ", check[:2], check[2:]}
	tb := []string{"café", " ✓", ""}
	ev, err := tokenEvidence(score(ta, -1, -1, -1, -1, -1, -1), score(tb, -2, -2, -0.5), 5)
	if err != nil {
		t.Fatal(err)
	}
	var sa, sb float64
	for _, s := range ev.Segments {
		if !utf8.ValidString(s.Text) {
			t.Errorf("piece %q is not whole characters", s.Text)
		}
		sa, sb = sa+s.LogprobA, sb+s.LogprobB
	}
	if strings.Join(func() []string {
		var x []string
		for _, s := range ev.Segments {
			x = append(x, s.Text)
		}
		return x
	}(), "") != "café ✓" {
		t.Errorf("pieces do not spell the text: %+v", ev.Segments)
	}
	// Nothing is lost, the empty token included.
	if !near(sa, -6) || !near(sb, -4.5) {
		t.Errorf("sums %g %g, want -6 -4.5", sa, sb)
	}
}

func TestTokenEvidenceErrors(t *testing.T) {
	for name, c := range map[string][2]*schema.Score{
		"texts differ": {score([]string{"a"}, -1), score([]string{"b"}, -1)},
		"lengths":      {score([]string{"a", "b"}, -1), score([]string{"ab"}, -1)},
		"not finite":   {score([]string{"a"}, float32(math.Inf(-1))), score([]string{"a"}, -1)},
		"not a number": {score([]string{"a"}, -1), score([]string{"a"}, float32(math.NaN()))},
	} {
		if _, err := tokenEvidence(c[0], c[1], 3); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ev, err := tokenEvidence(score(nil), score(nil), 3)
	if err != nil || len(ev.Segments) != 0 {
		t.Errorf("empty text: %+v %v", ev, err)
	}
}

func TestTokenColour(t *testing.T) {
	for _, c := range []struct {
		diff, scale float64
		want        string
	}{
		{0, 2, "#ffffff"},
		{2, 2, "#ec804a"},  // 75% of B's orange
		{5, 2, "#ec804a"},  // clipped
		{-2, 2, "#65a1ce"}, // 75% of A's blue
		{1, 2, "#f6bfa4"},  // half way
		{1, 0, "#ffffff"},
	} {
		if got := tokenColour(c.diff, c.scale); got != c.want {
			t.Errorf("tokenColour(%g, %g) = %s, want %s", c.diff, c.scale, got, c.want)
		}
	}
}

func TestPicks(t *testing.T) {
	// b_first: order 1 shows B first, order 2 A first.
	if got := picks([]string{"first", "second"}, true); !slices.Equal(got, []string{"B", "B"}) {
		t.Errorf("b_first: %v", got)
	}
	if got := picks([]string{"first", "tie"}, false); !slices.Equal(got, []string{"A", "tie"}) {
		t.Errorf("a first: %v", got)
	}
	if got := picks([]string{"invalid", "second"}, false); !slices.Equal(got, []string{"invalid", "A"}) {
		t.Errorf("invalid: %v", got)
	}
}
