package prompts

import (
	"math"
	"strings"
	"testing"
)

func TestBank(t *testing.T) {
	bank := Bank()
	if len(bank) < 300 {
		t.Fatalf("bank has %d prompts, want at least 300", len(bank))
	}
	ids := map[string]bool{}
	cats := map[string]int{}
	for _, p := range bank {
		if strings.TrimSpace(p.Text) == "" || p.Category == "" {
			t.Errorf("empty text or category: %+v", p)
		}
		if ids[p.ID] {
			t.Errorf("duplicate prompt %q", p.Text)
		}
		ids[p.ID] = true
		cats[p.Category]++
	}
	if len(cats) < 10 {
		t.Errorf("bank has %d categories, want at least 10: %v", len(cats), cats)
	}
}

func TestSplitIsStableAndProportional(t *testing.T) {
	bank := Bank()
	for _, frac := range []float64{0, 0.3, 0.5, 1} {
		n := 0
		for _, p := range bank {
			s := SplitOf(p.ID, 7, frac)
			if s != SplitOf(p.ID, 7, frac) {
				t.Fatal("split not deterministic")
			}
			if s == Validation {
				n++
			}
		}
		got := float64(n) / float64(len(bank))
		// Binomial standard error at n≈390 is ≤ 0.025; allow 4 of them.
		if math.Abs(got-frac) > 0.1 {
			t.Errorf("fraction %.2f gave %.3f validation", frac, got)
		}
	}
	// Another seed gives another split.
	same := 0
	for _, p := range bank {
		if SplitOf(p.ID, 1, 0.5) == SplitOf(p.ID, 2, 0.5) {
			same++
		}
	}
	if same == len(bank) {
		t.Error("split does not depend on the seed")
	}
	if ID("hello") != "2cf24dba5fb0a30e" {
		t.Errorf("ID(hello) = %s; the id scheme changed, which changes every split", ID("hello"))
	}
}
