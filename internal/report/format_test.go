package report

import (
	"math"
	"strings"
	"testing"
)

func TestFmtNum(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.929, "0.929"}, {0.92857, "0.929"}, {0.002, "0.002"}, {1.2129e-05, "1.21e-05"},
		{-0.179, "-0.179"}, {123.456, "123"}, {1234.5, "1234"}, {2.5e7, "2.5e+07"}, {math.NaN(), "n/a"}, {math.Inf(1), "n/a"},
		{-0.00001, "-1e-05"}, {0.1, "0.1"},
	} {
		if got := fmtNum(c.x); got != c.want {
			t.Errorf("fmtNum(%g) = %q, want %q", c.x, got, c.want)
		}
	}
}

func TestMarkdownEscaping(t *testing.T) {
	if got := mdText("a|b *c* <x> _d_ [e](f)\nnext"); got != `a\|b \*c\* &lt;x&gt; \_d\_ \[e\](f) next` {
		t.Errorf("mdText: %q", got)
	}
	for _, c := range []struct{ in, want string }{
		{"plain", "`plain`"}, {"a`b", "``a`b``"}, {"`x", "`` `x ``"}, {" ", "`   `"}, {"a|b", "`a¦b`"},
	} {
		if got := mdCode(c.in); got != c.want {
			t.Errorf("mdCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	f := mdFence("x ```` y")
	if !strings.HasPrefix(f, "`````text\n") || !strings.HasSuffix(f, "\n`````") {
		t.Errorf("mdFence: %q", f)
	}
	if got := mdQuote("a\n# b"); got != "> a\n> \\# b" {
		t.Errorf("mdQuote: %q", got)
	}
}

func TestHeadline(t *testing.T) {
	q := 0.0012
	n, k := 2, 1
	s := Summary{Hypotheses: 3, Validated: 1, Alpha: 0.05, BestQ: &q, BestQTest: "h/discriminative", Truths: &n, Recovered: &k}
	if got, want := headline(s), "1 of 3 hypotheses validated (q ≤ 0.05); best q 0.0012 (h/discriminative); 1 of 2 inserted behaviours recovered"; got != want {
		t.Errorf("headline %q, want %q", got, want)
	}
	if got, want := headline(Summary{Alpha: 0.05}), "0 of 0 hypotheses validated (q ≤ 0.05)"; got != want {
		t.Errorf("headline %q, want %q", got, want)
	}
}
