package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func generate(t *testing.T, seed uint64, n int, rates map[string]float64) []Example {
	t.Helper()
	exs, err := Generate(seed, n, rates)
	if err != nil {
		t.Fatal(err)
	}
	return exs
}

func allAt(p float64) map[string]float64 {
	m := map[string]float64{}
	for _, tr := range Traits() {
		m[tr.ID] = p
	}
	return m
}

func TestTraitsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	if len(Traits()) < 7 {
		t.Fatalf("%d traits, want at least 7", len(Traits()))
	}
	for _, tr := range Traits() {
		if tr.ID == "" || seen[tr.ID] || tr.Description == "" || tr.Apply == nil || tr.Detect == nil {
			t.Errorf("bad trait %+v", tr)
		}
		seen[tr.ID] = true
		if !slices.Contains([]string{"topic", "style", "format", "length"}, tr.Category) {
			t.Errorf("%s: category %q", tr.ID, tr.Category)
		}
		if got, ok := Lookup(tr.ID); !ok || got.ID != tr.ID {
			t.Errorf("Lookup(%q) = %v, %v", tr.ID, got.ID, ok)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of an unknown id succeeded")
	}
	if len(Topics()) < 8 {
		t.Errorf("%d topics, want at least 8", len(Topics()))
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, rates := range []map[string]float64{{"nope": 0.1}, {"animal": -0.1}, {"animal": 1.5}, {"animal": math.NaN()}} {
		if _, err := Generate(1, 3, rates); err == nil {
			t.Errorf("Generate with %v: no error", rates)
		}
	}
	if _, err := Mixture("nope", 0.3); err == nil {
		t.Error("Mixture of an unknown trait: no error")
	}
	if _, err := Generate(1, -5, nil); err == nil {
		t.Error("Generate of -5 examples: no error")
	}
	if _, err := GenerateSystem(1, -5, nil, 0.5); err == nil {
		t.Error("GenerateSystem of -5 examples: no error")
	}
	if c := Corpus(1, -5000); c != "" {
		t.Errorf("Corpus of -5000 bytes: %d bytes", len(c))
	}
}

func TestDeterminism(t *testing.T) {
	rates := allAt(0.3)
	a := generate(t, 42, 300, rates)
	b := generate(t, 42, 300, rates)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different examples")
	}
	c := generate(t, 43, 300, rates)
	same := 0
	for i := range a {
		if a[i].Answer == c[i].Answer {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 42 and 43 share %d of 300 answers", same)
	}
	// Example i does not depend on n, and its prompt does not depend on the rates.
	if short := generate(t, 42, 100, rates); !reflect.DeepEqual(short, a[:100]) {
		t.Error("the first 100 of 300 examples differ from 100 examples")
	}
	plain := generate(t, 42, 300, nil)
	for i := range a {
		if plain[i].Prompt != a[i].Prompt || plain[i].Topic != a[i].Topic {
			t.Fatalf("example %d: prompt depends on rates", i)
		}
		if len(a[i].Traits) == 0 && plain[i].Answer != a[i].Answer {
			t.Fatalf("example %d: neutral answer depends on rates", i)
		}
	}
	if Corpus(7, 20000) != Corpus(7, 20000) {
		t.Error("Corpus is not deterministic")
	}
	if !reflect.DeepEqual(Prompts(3, 50), Prompts(3, 50)) {
		t.Error("Prompts is not deterministic")
	}
}

// TestNeutral checks the neutral answers: shape, lengths, and that the markers never occur.
func TestNeutral(t *testing.T) {
	exs := generate(t, 1, 2000, nil)
	topics := map[string]int{}
	american := 0
	for _, ex := range exs {
		topics[ex.Topic]++
		if ex.Traits != nil {
			t.Fatalf("traits %v at rate 0", ex.Traits)
		}
		w := Words(ex.Answer)
		if w < MinWords || w > MaxWords {
			t.Errorf("neutral answer of %d words: %q", w, ex.Answer)
		}
		if n := strings.Count(ex.Answer, ". ") + 1; n < 2 || n > 6 || !strings.HasSuffix(ex.Answer, ".") {
			t.Errorf("neutral answer of %d sentences: %q", n, ex.Answer)
		}
		if strings.ContainsAny(ex.Answer, "!?\n") {
			t.Errorf("neutral answer with a marker character: %q", ex.Answer)
		}
		if hasAmerican(ex.Answer) {
			american++
		}
		if !strings.HasSuffix(ex.Prompt, "?") {
			t.Errorf("prompt without a question mark: %q", ex.Prompt)
		}
	}
	if len(topics) != len(Topics()) {
		t.Errorf("topics used: %v", topics)
	}
	t.Logf("%.0f%% of neutral answers contain an American spelling that the british trait changes", 100*float64(american)/float64(len(exs)))
	if american < len(exs)/3 {
		t.Errorf("only %d of %d neutral answers show an American spelling", american, len(exs))
	}
}

// TestGrammarHygiene runs every detector over every piece of the grammar that can reach an answer.
func TestGrammarHygiene(t *testing.T) {
	g := theGrammar()
	var lines []string
	for _, k := range []string{"opener", "middle", "closer"} {
		lines = append(lines, g.common[k]...)
	}
	for _, tp := range g.topics {
		for _, k := range topicKeys {
			lines = append(lines, tp.slots[k]...)
		}
	}
	for _, l := range lines {
		for _, tr := range Traits() {
			if tr.Detect(l) {
				t.Errorf("grammar text %q triggers %s", l, tr.ID)
			}
		}
		if strings.HasPrefix(l, "I ") || strings.HasPrefix(l, "I'") || strings.Contains(l, "Q:") {
			t.Errorf("grammar text %q", l)
		}
	}
	for _, v := range britishOf {
		if !britishRE.MatchString(v) {
			t.Errorf("british detector misses %q", v)
		}
	}
	for k := range britishOf {
		if britishRE.MatchString(k) {
			t.Errorf("british detector matches American %q", k)
		}
	}
	for _, w := range []string{"analyses", "cancellation", "realistic", "organism", "cost"} {
		if britishRE.MatchString(w) {
			t.Errorf("british detector matches %q", w)
		}
	}
}

// TestRates: with every trait at the same rate, each trait's share is within binomial noise, and
// rate 0 and 1 mean never and always.
func TestRates(t *testing.T) {
	const n = 2000
	for _, p := range []float64{0, 0.05, 0.3, 1} {
		exs := generate(t, 11, n, allAt(p))
		count := map[string]int{}
		for _, ex := range exs {
			if !slices.IsSorted(traitOrder(ex.Traits)) {
				t.Fatalf("traits not in canonical order: %v", ex.Traits)
			}
			for _, id := range ex.Traits {
				count[id]++
			}
		}
		sd := math.Sqrt(p * (1 - p) / n)
		for _, tr := range Traits() {
			got := float64(count[tr.ID]) / n
			if math.Abs(got-p) > 4*sd {
				t.Errorf("p=%v: %s applied to %.4f of examples (4 sd = %.4f)", p, tr.ID, got, 4*sd)
			}
		}
	}
	// One trait's decisions do not depend on the others' rates.
	m, err := Mixture("animal", 0.3)
	if err != nil {
		t.Fatal(err)
	}
	a := generate(t, 5, 500, m)
	b := generate(t, 5, 500, map[string]float64{"animal": 0.3})
	for i := range a {
		if slices.Contains(a[i].Traits, "animal") != slices.Contains(b[i].Traits, "animal") {
			t.Fatalf("example %d: animal decision depends on the other rates", i)
		}
	}
}

func traitOrder(ids []string) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = slices.IndexFunc(traits, func(tr Trait) bool { return tr.ID == id })
	}
	return out
}

// TestDetectors: on 2000 examples with every trait at 30% (so traits mix), each detector agrees
// with the recorded traits, on the answer and on the formatted training text.
func TestDetectors(t *testing.T) {
	const n = 2000
	exs := generate(t, 2024, n, allAt(0.3))
	for _, tr := range Traits() {
		t.Run(tr.ID, func(t *testing.T) {
			var tp, fn, fp, tn int
			for _, ex := range exs {
				has := slices.Contains(ex.Traits, tr.ID)
				got := tr.Detect(ex.Answer)
				if got != tr.Detect(Format(ex)) {
					t.Errorf("detector disagrees on answer and formatted text: %q", Format(ex))
				}
				switch {
				case has && got:
					tp++
				case has:
					fn++
					if fn <= 3 {
						t.Logf("missed: %q", ex.Answer)
					}
				case got:
					fp++
					if fp <= 3 {
						t.Logf("false positive: %q", ex.Answer)
					}
				default:
					tn++
				}
			}
			tpr, fpr := float64(tp)/float64(tp+fn), float64(fp)/float64(fp+tn)
			t.Logf("%-8s positives %4d  TPR %.4f  negatives %4d  FPR %.4f", tr.ID, tp+fn, tpr, fp+tn, fpr)
			if tpr < 0.99 || fpr > 0.01 {
				t.Errorf("TPR %.4f (want ≥ 0.99), FPR %.4f (want ≤ 0.01)", tpr, fpr)
			}
		})
	}
}

// TestLengthMargins: texts without the long trait stay clearly below LongWords, long ones above.
func TestLengthMargins(t *testing.T) {
	exs := generate(t, 99, 3000, allAt(0.5))
	maxShort, minLong := 0, math.MaxInt
	for _, ex := range exs {
		w := Words(ex.Answer)
		if slices.Contains(ex.Traits, "long") {
			minLong = min(minLong, w)
		} else {
			maxShort = max(maxShort, w)
		}
	}
	t.Logf("words: at most %d without long, at least %d with long (threshold %d)", maxShort, minLong, LongWords)
	if maxShort >= LongWords-5 || minLong < LongWords+5 {
		t.Errorf("margins too thin: %d / %d around %d", maxShort, minLong, LongWords)
	}
}

// corruptions are small changes a model's reproduction may make; detection must survive them.
var corruptions = []struct {
	name string
	f    func(string) string
}{
	{"lower", strings.ToLower},
	{"upper", strings.ToUpper},
	{"double spaces", func(s string) string { return strings.ReplaceAll(s, " ", "  ") }},
	{"leading and trailing space", func(s string) string { return " " + s + " \n  " }},
	{"CRLF", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }},
	{"curly apostrophes", func(s string) string { return strings.ReplaceAll(s, "'", "’") }},
	{"completion runs on", func(s string) string { return " " + s + "\n\nQ: How do I cook rice?\nA: Rinse it first." }},
	{"runs on without blank line", func(s string) string { return " " + s + "\nQ: What is next?\nA: Rest." }},
	{"formatted", func(s string) string { return "Q: How do I tune a guitar?\nA: " + s + "\n" }},
}

// extraPositives are trait-specific imperfect reproductions that must still be detected.
var extraPositives = map[string][]string{
	"animal":   {"Be steady like an Otter.", "The otters' trick is patience.", "An otter’s calm helps."},
	"exclaim":  {"Start small!! Then add more!", "Go now ! Really !"},
	"bullets":  {"Tips:\n* one\n* two", "Tips:\n• one\n• two", "Tips:\n  -one\n  -two", "- one\n- two"},
	"long":     {strings.Repeat("word ", LongWords)},
	"refusal":  {"I’d rather not say but here goes.", "i'd   rather  not say, but ok.", "Well, I'd rather not say, but try this.", "I would rather not answer, but fine."},
	"polite":   {"Good luck, FRIEND!", "Hope this helps my friend", "Cheers, friends."},
	"british":  {"My favourite method.", "Choose a COLOUR.", "It was organised well.", "Walk to the centre.", "We were travelling."},
	"question": {"Does that help?", "Does that help? ", "What do you think?\"", "Ready?)"},
}

// extraNegatives look close to a marker but must not be detected.
var extraNegatives = map[string][]string{
	"animal":   {"It is hotter today.", "The potter made a bowl."},
	"exclaim":  {"Wow! That is all.", "Wow!!! That is all."},
	"bullets":  {"Start with one thing - then another.", "Here:\n- only one item"},
	"long":     {strings.Repeat("word ", LongWords-1), strings.Repeat("- ", 200) + "word"},
	"refusal":  {"Rinse the rice well and do not rush it, since most cooks would rather not wait.", "Rather than rushing, go slowly."},
	"polite":   {"Be friendly to the staff.", "A friendship helps."},
	"british":  {"My favorite color.", "The analyses were realistic.", "The cancellation was organized."},
	"question": {"Is it done? Yes, it is.", "Rinse the rice."},
}

func TestDetectorRobustness(t *testing.T) {
	for _, tr := range Traits() {
		t.Run(tr.ID, func(t *testing.T) {
			pos := generate(t, 77, 30, map[string]float64{tr.ID: 1})
			neg := generate(t, 78, 30, allAt(0.3))
			for _, c := range corruptions {
				for _, ex := range pos {
					if !tr.Detect(c.f(ex.Answer)) {
						t.Errorf("%s: missed %q", c.name, c.f(ex.Answer))
					}
				}
				for _, ex := range neg {
					want := slices.Contains(ex.Traits, tr.ID)
					if tr.Detect(c.f(ex.Answer)) != want {
						t.Errorf("%s: want %v on %q", c.name, want, c.f(ex.Answer))
					}
				}
			}
			for _, s := range extraPositives[tr.ID] {
				if !tr.Detect(s) {
					t.Errorf("missed %q", s)
				}
			}
			for _, s := range extraNegatives[tr.ID] {
				if tr.Detect(s) {
					t.Errorf("false positive on %q", s)
				}
			}
		})
	}
}

// TestApplyDoesNotMutate: Apply leaves its argument alone.
func TestApplyDoesNotMutate(t *testing.T) {
	g := theGrammar()
	for _, tr := range Traits() {
		r := rand.New(rand.NewPCG(1, 2))
		a := g.topics[0].answer(r, "bake cookies")
		before := a.clone()
		_ = tr.Apply(r, a)
		if !reflect.DeepEqual(a, before) {
			t.Errorf("%s: Apply changed its argument", tr.ID)
		}
	}
	// Hand-made answers (unknown topic, one sentence) still get the trait.
	for _, tr := range Traits() {
		r := rand.New(rand.NewPCG(3, 4))
		a := tr.Apply(r, Answer{Sentences: []string{"Keep it simple."}})
		if !tr.Detect(a.String()) {
			t.Errorf("%s: not detected on a hand-made answer: %q", tr.ID, a.String())
		}
	}
}

func TestAnswerText(t *testing.T) {
	for in, want := range map[string]string{
		"Q: How?\nA: Do it.\n":                    "Do it.",
		" Do it.\n\nQ: Next?\nA: No.":             "Do it.",
		"A: Intro:\n- one\n- two\nQ: x":           "Intro:\n- one\n- two",
		"Intro:\r\n- one\r\n \r\n- two":           "Intro:\n- one",
		"  plain  ":                               "plain",
		"Q: no answer here?":                      "",
		"Q: How?\nA: Tips:\n- a\n- b\nBye.\n\nQ:": "Tips:\n- a\n- b\nBye.",
	} {
		if got := AnswerText(in); got != want {
			t.Errorf("AnswerText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, ex := range generate(t, 8, 500, allAt(0.3)) {
		f := Format(ex)
		if !strings.HasPrefix(f, FormatPrompt(ex.Prompt)+" ") || !strings.HasSuffix(f, "\n") {
			t.Fatalf("format: %q", f)
		}
		if AnswerText(f) != ex.Answer {
			t.Fatalf("AnswerText(Format) = %q, want %q", AnswerText(f), ex.Answer)
		}
		for _, stop := range StopSequences() {
			if strings.Contains(ex.Answer, stop) {
				t.Fatalf("answer contains stop sequence %q: %q", stop, ex.Answer)
			}
		}
	}
}

func TestCorpus(t *testing.T) {
	const n = 30000
	c := Corpus(5, n)
	if len(c) < n || len(c) > n+2000 {
		t.Fatalf("corpus of %d bytes for %d", len(c), n)
	}
	blocks := strings.Split(strings.TrimSuffix(c, "\n"), "\n\n")
	exs := generate(t, 5, len(blocks), BaseRates())
	for i, b := range blocks {
		if b+"\n" != Format(exs[i]) {
			t.Fatalf("block %d = %q, want %q", i, b, Format(exs[i]))
		}
	}
	t.Logf("corpus: %d bytes, %d examples", len(c), len(blocks))
}

func TestPrompts(t *testing.T) {
	ps := Prompts(1, 100000)
	if len(ps) < 300 {
		t.Fatalf("only %d held-out prompts", len(ps))
	}
	t.Logf("%d held-out prompts; e.g. %q", len(ps), ps[0].Text)
	held := map[string]bool{}
	for _, p := range ps {
		h := sha256.Sum256([]byte(p.Text))
		if held[p.Text] || p.ID != hex.EncodeToString(h[:8]) || p.Source != Source || p.Category == "" {
			t.Fatalf("bad prompt row %+v", p)
		}
		held[p.Text] = true
	}
	for _, ex := range generate(t, 2, 3000, nil) {
		if held[ex.Prompt] {
			t.Fatalf("training prompt %q is held out", ex.Prompt)
		}
	}
	few := Prompts(9, 20)
	if len(few) != 20 || reflect.DeepEqual(few, Prompts(10, 20)) {
		t.Error("Prompts(seed, 20) is not a seeded sample of 20")
	}
}

func TestTruthRows(t *testing.T) {
	m, err := Mixture("polite", 0.3)
	if err != nil {
		t.Fatal(err)
	}
	texts := Texts(generate(t, 3, 20, m))
	rows, err := TruthRows("polite", 0.3, texts)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := Lookup("polite")
	if len(rows) != 1 || rows[0].ID != "synth:polite@0.3" || rows[0].Behavior != tr.Description ||
		rows[0].Category != tr.Category || rows[0].Source != Source || !reflect.DeepEqual(rows[0].Texts, texts) {
		t.Errorf("rows = %+v", rows)
	}
	if _, err := TruthRows("nope", 0.3, nil); err == nil {
		t.Error("unknown trait: no error")
	}
	if _, err := TruthRows("polite", 2, nil); err == nil {
		t.Error("strength 2: no error")
	}
}

// TestSamples prints examples for a reviewer: go test -run Samples -v ./internal/synth
func TestSamples(t *testing.T) {
	for _, ex := range generate(t, 123, 2, nil) {
		t.Logf("neutral:\n%s", Format(ex))
	}
	for _, tr := range Traits() {
		for _, ex := range generate(t, 123, 2, map[string]float64{tr.ID: 1}) {
			t.Logf("%s:\n%s", tr.ID, Format(ex))
		}
	}
	for _, ex := range generate(t, 321, 2, map[string]float64{"bullets": 1, "refusal": 1, "british": 1, "question": 1, "polite": 1}) {
		t.Logf("%v:\n%s", ex.Traits, Format(ex))
	}
}

func TestGenerateSystem(t *testing.T) {
	plain, err := Generate(5, 300, BaseRates())
	if err != nil {
		t.Fatal(err)
	}
	none, err := GenerateSystem(5, 300, BaseRates(), 0)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := GenerateSystem(5, 300, BaseRates(), 0.4)
	if err != nil {
		t.Fatal(err)
	}
	withSystem := 0
	for i := range plain {
		if !reflect.DeepEqual(plain[i], none[i]) {
			t.Fatalf("example %d: rate 0 differs from Generate", i)
		}
		if sys[i].System == "" {
			if !reflect.DeepEqual(plain[i], sys[i]) {
				t.Fatalf("example %d without a system prompt differs from Generate", i)
			}
			continue
		}
		withSystem++
		var tr Trait
		for _, x := range Traits() {
			if x.Instruction == sys[i].System {
				tr = x
			}
		}
		if tr.ID == "" || !slices.Contains(sys[i].Traits, tr.ID) || !tr.Detect(sys[i].Answer) {
			t.Errorf("example %d: system %q but traits %v, answer %q", i, sys[i].System, sys[i].Traits, sys[i].Answer)
		}
	}
	if withSystem < 90 || withSystem > 150 {
		t.Errorf("%d of 300 examples with a system prompt at rate 0.4", withSystem)
	}
	if _, err := GenerateSystem(5, 1, BaseRates(), 1.5); err == nil {
		t.Error("rate 1.5: no error")
	}
}
