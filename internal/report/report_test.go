package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// runReport writes the report of the run folder dir to outs, as mbd-report does, and returns what
// went to stdout: the output that is "-", else the summary.
func runReport(t *testing.T, dir string, outs Outputs) (string, error) {
	t.Helper()
	var out bytes.Buffer
	r, written, err := Write(dir, DefaultOptions, outs, &out)
	if err == nil && !outs.Stdout() {
		PrintSummary(&out, r, written)
	}
	return out.String(), err
}

func readOut(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sectionIDs are the sections of report.html, in order.
var sectionIDs = []string{"models", "summary", "validated", "other-hypotheses", "examples", "regions", "plots",
	"plot-map", "plot-shares", "plot-forest", "plot-calibration", "recovery", "weightdiff", "lens", "plot-lens", "inputs"}

func TestReportContent(t *testing.T) {
	dir := fixtureRun(t)
	out := t.TempDir()
	stdout, err := runReport(t, dir, In(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Fixture <run> & co", "  A: gguf:base.gguf", "1 of 3 hypotheses validated (q ≤ 0.05); best q 0.002 (h1/discriminative); 1 of 2 inserted behaviours recovered",
		"✓ h1  B mentions", "discriminative accuracy=0.9 auc-0.5=+0.3 [0.2, 0.4] lift=+0.3 q=0.002 validated; generative n/a; interactive accuracy=0.8 q=0.03 validated",
		"2 regions, 1 where the models differ", "wrote " + filepath.Join(out, "report.html")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	r := decodeReport(t, readOut(t, out, "report.json"))
	s := r.Summary
	if r.Format != FormatID || s.Hypotheses != 3 || s.Validated != 1 || s.Tests != 5 || s.TestsRun != 3 || s.Alpha != 0.05 || s.Correction != "bh" ||
		s.BestQ == nil || *s.BestQ != 0.002 || s.BestQTest != "h1/discriminative" || s.Regions != 2 || s.Differing != 1 ||
		s.Truths == nil || *s.Truths != 2 || *s.Recovered != 1 {
		t.Errorf("summary: %+v", s)
	}
	var ids []string
	for _, h := range r.Hypotheses {
		ids = append(ids, h.ID)
	}
	if !slices.Equal(ids, []string{"h1", "h2", "h3"}) {
		t.Errorf("hypothesis order %v, want validated first, then by q, then untested", ids)
	}
	h1 := r.Hypotheses[0]
	disc, gen := testOf(h1, "discriminative"), testOf(h1, "generative")
	if disc == nil || disc.Lift == nil || *disc.Lift < 0.3-1e-12 || *disc.Lift > 0.3+1e-12 || *disc.Baseline != 0.6 {
		t.Errorf("discriminative lift: %+v", disc)
	}
	if gen == nil || gen.P != nil || gen.Q != nil || gen.Effect != nil || gen.Verdict != "unavailable" {
		t.Errorf("unavailable test: %+v", gen)
	}
	var trials []int
	for _, e := range h1.Examples {
		trials = append(trials, e.Trial)
	}
	if !slices.Equal(trials, []int{0, 3, 4}) {
		t.Errorf("examples are trials %v, want the first three judged for the hypothesis", trials)
	}
	e := h1.Examples[0]
	if e.Prompt != "Question 0 about rivers?" || e.A == nil || e.B == nil || e.A.Completion != "A river answer 0." || e.Baseline != "tie" ||
		!slices.Equal(e.Picks, []string{"B", "B"}) {
		t.Errorf("example: %+v", e)
	}
	if e.B.Tokens == nil || len(e.B.Tokens.TopB) == 0 || e.B.Tokens.Segments[e.B.Tokens.TopB[0]].Text != " ot" {
		t.Errorf("token evidence of B's answer: %+v", e.B.Tokens)
	}
	if h1.Examples[1].A == nil || h1.Examples[1].A.Tokens != nil {
		t.Errorf("an answer without scores has token evidence")
	}
	if tr := h1.Transcript; tr == nil || tr.Outcome != "correct" || tr.Hidden != "B" {
		t.Errorf("transcript: %+v", tr)
	}
	if len(r.Hypotheses[1].Examples) != 0 {
		t.Errorf("a rejected hypothesis has examples")
	}
	if c := r.Calibration; c == nil || c.Runs != 20 || c.Positives != 1 || c.PValues != 7 || !slices.Equal(c.Bins, []int{1, 1, 0, 1, 0, 2, 0, 0, 0, 2}) {
		t.Errorf("calibration: %+v", r.Calibration)
	}
	if len(r.Recovery) != 2 || r.Recovery[0].HypothesisText == "" || r.Recovery[0].Behavior != "mentions otters" || r.Recovery[1].HypothesisID != "" {
		t.Errorf("recovery: %+v", r.Recovery)
	}
	if w := r.WeightDiff; w == nil || w.Table != "weightdiff/v1" || len(w.Columns) < 2 || w.Columns[0] != "tensor" ||
		len(w.Rows) != 2 || w.Rows[0][0] != "blk.0.attn_q.weight" || len(w.Rows[0]) != len(w.Columns) {
		t.Errorf("weight difference: %+v", r.WeightDiff)
	}
	if m := r.Map; m == nil || m.Points != 20 || m.Centroids != 2 {
		t.Errorf("map: %+v", r.Map)
	}
	if r.ModelA.Ref != "gguf:base.gguf" || r.Truth != "mentions otters" || r.Title != "Fixture <run> & co" {
		t.Errorf("header: %+v %+v %q", r.ModelA, r.ModelB, r.Title)
	}

	// JSON: undefined numbers are null.
	js := string(readOut(t, out, "report.json"))
	if strings.Contains(js, "NaN") || !strings.Contains(js, `"p": null`) {
		t.Errorf("report.json: NaN or no null p")
	}

	md := string(readOut(t, out, "report.md"))
	for _, want := range []string{"# Fixture &lt;run&gt; & co", "## Validated hypotheses", "### ✓ `h1` B mentions &lt;script&gt;alert(1)&lt;/script&gt; otters \\| more",
		"| baseline / lift | 0.6 / +0.3 | – | – |", "B ≫ A: ` ot` +3.5, `ter` +3.5", "## Other hypotheses", "## Regions", "| 1 | 0 | c0 | shifted | 2/10 | 8/10 | 20% | 80% | +1.3 | 0.006 |",
		"## Recovery of the inserted behaviours", "| `t1` | mentions otters |", "## Weight difference", "| blk.0.attn\\_q.weight |",
		"| 0.5–0.6 | 2 |", "- calibration.json" /* no: it is present */} {
		if want == "- calibration.json" {
			if strings.Contains(md, "calibration.json is absent") {
				t.Errorf("report.md says a present file is absent")
			}
			continue
		}
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	assertOrder(t, "report.md", md, "## Models", "## Summary", "## Validated hypotheses", "## Other hypotheses", "## Examples", "## Regions", "## Plots", "## Recovery", "## Weight difference",
		"## Activation difference lens", "## Inputs")
}

func assertOrder(t *testing.T, name, s string, parts ...string) {
	t.Helper()
	last := -1
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			t.Errorf("%s lacks %q", name, p)
			continue
		}
		if i < last {
			t.Errorf("%s: %q out of order", name, p)
		}
		last = i
	}
}

func TestHTMLSelfContained(t *testing.T) {
	dir := fixtureRun(t)
	out := t.TempDir()
	if _, err := runReport(t, dir, Outputs{HTML: filepath.Join(out, "r.html")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "report.json")); err == nil {
		t.Errorf("--html alone wrote report.json")
	}
	h := string(readOut(t, out, "r.html"))
	// Nothing that loads: no script, stylesheet link, src attribute, CSS url() or @import; the only
	// absolute URLs are the SVG XML namespaces (identifiers, never fetched).
	for _, bad := range []string{"<script", "<link", " src=", "url(", "@import", "<iframe", "<img"} {
		if strings.Contains(strings.ToLower(h), bad) {
			t.Errorf("report.html contains %q", bad)
		}
	}
	urls := regexp.MustCompile(`(?i)(https?|ftp|wss?)://[^\s"'<>)]*`).FindAllString(h, -1)
	for _, u := range urls {
		if u != "http://www.w3.org/2000/svg" && u != "http://www.w3.org/1999/xlink" {
			t.Errorf("report.html refers to %s", u)
		}
	}
	if !strings.Contains(h, `content="default-src 'none'`) {
		t.Errorf("no Content-Security-Policy")
	}
	// Text is escaped.
	if strings.Contains(h, "<script>alert(1)") || !strings.Contains(h, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(h, "An otter <b>!</b>") {
		t.Errorf("hypothesis or transcript text not escaped")
	}
	var order []string
	for _, id := range sectionIDs {
		order = append(order, `id="`+id+`"`)
	}
	assertOrder(t, "report.html", h, order...)
	// Plots: the map, the shares, two forest panels, the calibration histogram, the lens norms.
	if n := strings.Count(h, `<svg class="plot"`); n != 6 {
		t.Errorf("%d plots, want 6", n)
	}
	if strings.Contains(h, "<?xml") {
		t.Errorf("XML prologue inside HTML")
	}
	// Token highlighting: coloured spans with the legend.
	if !strings.Contains(h, `class="tok top" style="background-color:#`) || !strings.Contains(h, "A more likely") {
		t.Errorf("no token highlighting")
	}
}

func TestDeterministic(t *testing.T) {
	dir := fixtureRun(t)
	o1, o2 := t.TempDir(), t.TempDir()
	for _, o := range []string{o1, o2} {
		if _, err := runReport(t, dir, In(o)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"report.html", "report.md", "report.json"} {
		if !bytes.Equal(readOut(t, o1, name), readOut(t, o2, name)) {
			t.Errorf("%s differs between two runs on the same inputs", name)
		}
	}
	// The run folder's own location does not leak into the outputs.
	moved := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	o3 := t.TempDir()
	if _, err := runReport(t, moved, In(o3)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readOut(t, o1, "report.html"), readOut(t, o3, "report.html")) {
		t.Errorf("report.html depends on where the run folder is")
	}
}

func TestDefaultOutputAndStdout(t *testing.T) {
	dir := fixtureRun(t)
	stdout, err := runReport(t, dir, Outputs{JSON: "-"})
	if err != nil {
		t.Fatal(err)
	}
	r := decodeReport(t, []byte(stdout))
	if r.Summary.Validated != 1 {
		t.Errorf("stdout JSON: %+v", r.Summary)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
		t.Errorf("--json - wrote report.html")
	}
	if _, err := runReport(t, dir, In(dir)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.html", "report.md", "report.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("default output: %v", err)
		}
	}
}

func TestMinimalRun(t *testing.T) {
	// Only hypotheses: every other section says what is missing, nothing fails.
	full := fixtureRun(t)
	dir := t.TempDir()
	b := readOut(t, full, fileHypotheses)
	writeFile(t, filepath.Join(dir, fileHypotheses), string(b))
	stdout, err := runReport(t, dir, In(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "0 of 3 hypotheses validated") || !strings.Contains(stdout, "absent: run.json, prompts.parquet") {
		t.Errorf("summary:\n%s", stdout)
	}
	h := string(readOut(t, dir, "report.html"))
	for _, want := range []string{"Map: no clusters.parquet", "No matches.parquet", "No recovery.parquet", "No weightdiff.parquet", "validations.parquet is absent"} {
		if !strings.Contains(h, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	r := decodeReport(t, readOut(t, dir, "report.json"))
	if r.Map != nil || r.Calibration != nil || r.Recovery != nil || r.WeightDiff != nil || r.Summary.BestQ != nil || r.Summary.Truths != nil {
		t.Errorf("absent parts are not null: %+v", r)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{"wrong table kind", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileMatches), string(readOut(t, dir, fileHypotheses)))
		}, "matches.parquet: .*want a matches/v1 table"},
		{"broken trials log", func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, fileTrials), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(`{"hypothesis_id":"h1","method":` + "\n")
			f.Close()
		}, `validations.parquet.trials.jsonl: line 17: not a JSON trial record`},
		{"trials log of something else", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileTrials), `{"a":1}`+"\n")
		}, `trials.jsonl: line 1: no hypothesis_id or method`},
		{"broken run.json", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileRun), `{"title": 3}`)
		}, `run.json: not valid JSON of the expected shape`},
		{"bad calibration", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileCalibration), `{"runs": 2, "positives": 1, "p_values": [0.5, 1.5]}`)
		}, `calibration.json: p_values\[1\] = 1.5: want a p-value in \[0, 1\]`},
		{"weight difference of a pipeline kind", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileWeightDiff), string(readOut(t, dir, fileHypotheses)))
		}, `weightdiff.parquet: holds a hypotheses/v1 table`},
		{"invalid UTF-8 in run.json", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileRun), "{\"title\": \"caf\xe9\"}")
		}, `run.json: invalid UTF-8$`},
		{"invalid UTF-8 in the trials log", func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, fileTrials), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(`{"hypothesis_id":"h1","method":"discriminative","hidden":"` + "\xff\"}\n")
			f.Close()
		}, `validations.parquet.trials.jsonl: line 17: invalid UTF-8$`},
		{"not a table", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, fileScoresA), "hello")
		}, `scores-a.parquet: `},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := fixtureRun(t)
			c.spoil(t, dir)
			out := t.TempDir()
			stdout, err := runReport(t, dir, In(out))
			var ie *table.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want bad input (a *table.InputError)", err)
			}
			if !regexp.MustCompile(c.want).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout on error: %q", stdout)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("partial output: %v", ents)
			}
		})
	}
	for _, c := range []struct {
		dir, want string
	}{
		{t.TempDir(), "holds none of hypotheses.parquet"},
		{filepath.Join(t.TempDir(), "nope"), "nope: cannot read the run folder: no such file"},
	} {
		_, err := runReport(t, c.dir, Outputs{JSON: "-"})
		var ie *table.InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a *table.InputError with %q", c.dir, err, c.want)
		}
	}
	if _, err := runReport(t, fixtureRun(t), Outputs{JSON: "-", Markdown: "-"}); err == nil || !strings.Contains(err.Error(), "more than one output is stdout") {
		t.Errorf("two outputs on stdout: %v", err)
	}
	if _, _, err := Write(fixtureRun(t), Options{MaxPoints: 0}, Outputs{JSON: "-"}, &bytes.Buffer{}); err == nil {
		t.Errorf("MaxPoints 0: no error")
	}
}

func TestFiles(t *testing.T) {
	files := Files()
	if len(files) != len(purposes) || files[0] != fileRun || !slices.Contains(files, fileTrials) || !slices.Contains(files, fileHypotheses) {
		t.Errorf("Files() = %v", files)
	}
	o := In("d")
	if o.HTML != filepath.Join("d", "report.html") || o.Markdown != filepath.Join("d", "report.md") || o.JSON != filepath.Join("d", "report.json") || o.Dir != "d" || o.Stdout() {
		t.Errorf("In(d) = %+v", o)
	}
	if !(Outputs{Markdown: "-"}).Stdout() {
		t.Errorf("Stdout() is false for -")
	}
}

func TestWeightDiffOfUnknownKind(t *testing.T) {
	// A table kind this build does not know, with or without metadata, is read column by column.
	for _, id := range []string{"tensorstats/v2", ""} {
		dir := fixtureRun(t)
		writeUnknownKind(t, filepath.Join(dir, fileWeightDiff), id)
		stdout, err := runReport(t, dir, Outputs{JSON: "-"})
		if err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		w := decodeReport(t, []byte(stdout)).WeightDiff
		if w == nil || w.Table != id || !slices.Equal(w.Columns, []string{"tensor", "shape", "l2", "cosine"}) || len(w.Rows) != 2 ||
			!slices.Equal(w.Rows[0], []string{"blk.0.attn_q.weight", "[64, 64]", "0.125", "0.99"}) || !slices.Equal(w.Rows[1], []string{"output_norm.weight", "[64]", "0", "1"}) {
			t.Errorf("%q: weight difference %+v", id, w)
		}
	}
}

func TestReadUnpaired(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clusters string // clusters.parquet.json, or "" for none
		hypo     string // hypotheses.parquet.json, or "" for none
		want     []Unpaired
	}{
		{name: "no manifests"},
		{name: "counts in both", clusters: `{"params":{"unpaired_dropped_a":0,"unpaired_dropped_b":34}}`,
			hypo: `{"params":{"unpaired_dropped_a":2,"unpaired_dropped_b":1}}`,
			want: []Unpaired{{fileClusters, 0, 34}, {fileHypotheses, 2, 1}}},
		{name: "nothing dropped", clusters: `{"params":{"unpaired_dropped_a":0,"unpaired_dropped_b":0}}`},
		{name: "not recorded (--unpaired keep)", clusters: `{"params":{"unpaired":"keep"}}`},
		{name: "one count missing", clusters: `{"params":{"unpaired_dropped_a":3}}`},
		{name: "negative", clusters: `{"params":{"unpaired_dropped_a":-1,"unpaired_dropped_b":3}}`},
		{name: "not JSON", clusters: `{"params":`, hypo: `{"params":{"unpaired_dropped_a":1,"unpaired_dropped_b":0}}`,
			want: []Unpaired{{fileHypotheses, 1, 0}}},
		{name: "wrong type", clusters: `{"params":{"unpaired_dropped_a":"x","unpaired_dropped_b":3}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, m := range map[string]string{fileClusters: tc.clusters, fileHypotheses: tc.hypo} {
				if m != "" {
					if err := os.WriteFile(filepath.Join(dir, f+".json"), []byte(m), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := readUnpaired(dir, map[string]bool{fileClusters: true, fileHypotheses: true})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLensSection(t *testing.T) {
	dir := fixtureRun(t)
	out := t.TempDir()
	stdout, err := runReport(t, dir, In(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`lens block 0 promotes " otter" (z +1), "\n" (z +1), " the" (z +1)`,
		`lens block 1 promotes " otter" (z +9.5)*, "\n" (z +5.5), " the" (z +1.5)`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	r := decodeReport(t, readOut(t, out, "report.json"))
	l := r.Lens
	if l == nil || l.Head != "B" || l.Texts != 310 || l.Flips != 100 || len(l.Blocks) != 2 || len(l.Norms) != 6 || l.SteeredTotal != 5 || len(l.Steered) != 3 {
		t.Fatalf("lens: %+v", l)
	}
	// Significant: block 1, " otter" promoted and suppressed, both heads, three positions.
	if l.Significant != 12 {
		t.Errorf("%d significant rows, want 12", l.Significant)
	}
	b := l.Blocks[1]
	if b.Layer != 1 || b.Norm != 2 || len(b.Promoted) != 3 || b.Promoted[0].Token != " otter" || !b.Promoted[0].Significant || *b.Promoted[0].Z != 9.5 ||
		b.Promoted[1].Significant || b.Suppressed[0].Token != "river otter" || *b.Suppressed[0].Z != -9.5 {
		t.Errorf("block 1: %+v", b)
	}
	if n := l.Norms[0]; n.Layer != 0 || n.Position != -1 || n.Norm != 1 || l.Norms[5].Layer != 1 || l.Norms[5].Position != 1 || l.Norms[5].Norm != 2.2 {
		t.Errorf("norms: %+v", l.Norms)
	}
	if h := r.Hypotheses[1]; h.ID != "h2" || h.Origin != "lens" || r.Hypotheses[0].Origin != "" {
		t.Errorf("origins: %q %q", r.Hypotheses[0].Origin, r.Hypotheses[1].Origin)
	}
	h := string(readOut(t, out, "report.html"))
	for _, want := range []string{"Block 1, mean over positions: |B − A| = 2 (0.2 of |A|)", "<code> otter</code> ★", "<code>«⏎»</code></td>",
		`aria-label="norm of the mean activation difference by block and position"`, "Steered texts (3 of 5, steered.parquet)", "Steered &lt;otter&gt; answer 0.",
		"lexical by builtin from lens"} {
		if !strings.Contains(h, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	md := string(readOut(t, out, "report.md"))
	for _, want := range []string{"### Block 1, mean over positions: |B − A| = 2 (0.2 of |A|)", "| promoted | 1 | ` otter` ★ | +3 | +9.5 | 0.01 |",
		"| suppressed | 1 | `river otter` ★ | -3 | -9.5 | 0.01 |", "| 1 | mean | 2 | 0.2 |", "| 0 | 1 | 1.2 | 0.12 |", "Steered texts (3 of 5, steered.parquet):",
		"lexical by builtin from lens"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	// Without the lens and steered tables: no lens, and a note.
	for _, f := range []string{fileLens, fileSteered} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	stdout, err = runReport(t, dir, Outputs{JSON: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if r := decodeReport(t, []byte(stdout)); r.Lens != nil || !slices.Contains(r.Notes, "lens.parquet is absent: no activation difference lens.") {
		t.Errorf("no lens: %+v, notes %q", r.Lens, r.Notes)
	}

	// A lens table of another kind is bad input.
	writeTable(t, filepath.Join(dir, fileLens), schema.Prompt{ID: "p", Text: "x", Split: "discovery"})
	if _, err := runReport(t, dir, Outputs{JSON: "-"}); err == nil || !strings.Contains(err.Error(), "holds a prompts/v1 table, want a lens/v1 table") {
		t.Errorf("a prompts table as lens.parquet: %v", err)
	}
}
