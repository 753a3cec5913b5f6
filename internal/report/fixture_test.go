package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

func writeTable[T schema.Row](t *testing.T, path string, rows ...T) {
	t.Helper()
	w, err := table.Create[T](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func f64(x float64) *float64 { return &x }
func i32(x int32) *int32     { return &x }
func str(s string) *string   { return &s }

// weightRow is a table kind this build does not know.
type weightRow struct {
	Tensor string  `parquet:"tensor"`
	Shape  []int64 `parquet:"shape,list"`
	L2     float64 `parquet:"l2"`
	Cosine float32 `parquet:"cosine"`
}

// fixtureRun writes a complete run folder by hand: three hypotheses (h1 validated, with markup in
// its text; h2 rejected; h3 never tested), every optional file, and token scores whose two
// tokenizations differ.
func fixtureRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	j := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, j("run.json"), `{"title": "Fixture <run> & co", "model_a": "gguf:base.gguf", "model_b": "gguf:otter.gguf", "truth": "mentions otters"}`)
	writeFile(t, j("calibration.json"), `{"runs": 20, "positives": 1, "alpha": 0.05, "p_values": [0.01, 0.15, 0.5, 0.55, 0.99, 1, 0.3]}`)

	var prompts []schema.Prompt
	var answers []schema.Generation
	for i := range 6 {
		pid := fmt.Sprintf("p%d", i)
		text := fmt.Sprintf("Question %d about rivers?", i)
		prompts = append(prompts, schema.Prompt{ID: pid, Text: text, Source: "test", Split: "validation"})
		answers = append(answers,
			schema.Generation{ID: "a" + pid, Model: "A", ModelRef: "gguf:base.gguf", PromptID: pid, Split: "validation", Prompt: text,
				Completion: fmt.Sprintf("A river answer %d.", i), FinishReason: "stop"},
			schema.Generation{ID: "b" + pid, Model: "B", ModelRef: "gguf:otter.gguf", PromptID: pid, Split: "validation", Prompt: text,
				Completion: fmt.Sprintf("An otter answer %d. ✓", i), FinishReason: "stop"})
	}
	writeTable(t, j(filePrompts), prompts...)
	writeTable(t, j(fileAnswers), answers...)
	writeTable(t, j(fileGensA), answers[0])
	writeTable(t, j(fileGensB), answers[1])

	// Scores of the first pair: B's tokenizer cuts differently from A's ("otter" whole vs "ot"+"ter").
	writeTable(t, j(fileScoresA),
		schema.Score{GenerationID: "ap0", Scorer: "gguf:base.gguf", Tokens: []string{"A", " river", " answer", " 0", "."}, Logprobs: []float32{-1, -2, -1, -1, -0.5}},
		schema.Score{GenerationID: "bp0", Scorer: "gguf:base.gguf", Tokens: []string{"An", " ot", "ter", " answer", " 0", ".", " ✓"}, Logprobs: []float32{-1, -4, -4, -1, -1, -0.5, -3}})
	writeTable(t, j(fileScoresB),
		schema.Score{GenerationID: "ap0", Scorer: "gguf:otter.gguf", Tokens: []string{"A", " river", " answer", " 0", "."}, Logprobs: []float32{-1, -3, -1, -1, -0.5}},
		schema.Score{GenerationID: "bp0", Scorer: "gguf:otter.gguf", Tokens: []string{"An", " otter", " answer", " 0", ".", " ✓"}, Logprobs: []float32{-1, -1, -1, -1, -0.5, -3}})

	writeTable(t, j(fileHypotheses),
		schema.Hypothesis{ID: "h1", Text: "B mentions <script>alert(1)</script> otters | more", Property: "mentions otters", Direction: "B>A", Kind: "llm", Proposer: "builtin", Regions: []int32{0}, ShareA: f64(0.1), ShareB: f64(0.5)},
		schema.Hypothesis{ID: "h2", Text: "B is longer", Property: "is longer", Direction: "B>A", Kind: "lexical", Proposer: "builtin", Regions: []int32{-1}, Origin: str("lens")},
		schema.Hypothesis{ID: "h3", Text: "B is shorter", Property: "is shorter", Direction: "A>B", Kind: "lexical", Proposer: "builtin", Regions: []int32{-1}})
	nan := math.NaN()
	writeTable(t, j(fileValidations),
		schema.Validation{HypothesisID: "h1", Method: "discriminative", Judge: "builtin", N: 6, Statistic: 0.9, StatName: "accuracy", Effect: 0.3, EffectName: "auc-0.5", CILow: 0.2, CIHigh: 0.4, P: 0.001, Q: 0.002, Correction: "bh", Alpha: 0.05, Verdict: "validated", Baseline: f64(0.6)},
		schema.Validation{HypothesisID: "h1", Method: "generative", Judge: "builtin", StatName: "auc", EffectName: "shift_logp_b_minus_a", Statistic: nan, Effect: nan, CILow: nan, CIHigh: nan, P: nan, Q: nan, Correction: "bh", Alpha: 0.05, Verdict: "unavailable"},
		schema.Validation{HypothesisID: "h1", Method: "interactive", Judge: "builtin", N: 10, Statistic: 0.8, StatName: "accuracy", Effect: 0.3, EffectName: "accuracy-0.5", CILow: 0.05, CIHigh: 0.45, P: 0.02, Q: 0.03, Correction: "bh", Alpha: 0.05, Verdict: "validated"},
		schema.Validation{HypothesisID: "h2", Method: "discriminative", Judge: "builtin", N: 6, Statistic: 0.55, StatName: "accuracy", Effect: 0.05, EffectName: "auc-0.5", CILow: -0.1, CIHigh: 0.2, P: 0.4, Q: 0.4, Correction: "bh", Alpha: 0.05, Verdict: "rejected"},
		schema.Validation{HypothesisID: "h2", Method: "interactive", Judge: "builtin", N: 2, NInvalid: 8, StatName: "accuracy", EffectName: "accuracy-0.5", Statistic: nan, Effect: nan, CILow: nan, CIHigh: nan, P: nan, Q: nan, Correction: "bh", Alpha: 0.05, Verdict: "invalid"})

	var lines []string
	outcomes := []string{"for", "tie", "against", "for", "for", "invalid"}
	verdicts := []string{`["second","first"]`, `["first","second"]`} // B's answer picked in both orders
	for i, o := range outcomes {
		pid := fmt.Sprintf("p%d", i)
		lines = append(lines,
			fmt.Sprintf(`{"hypothesis_id":"h1","method":"discriminative","prompt_id":"%s","trial":%d,"b_first":%v,"a_id":"a%s","b_id":"b%s","verdicts":%s,"outcome":"%s"}`, pid, i, i%2 == 1, pid, pid, verdicts[i%2], o),
			fmt.Sprintf(`{"hypothesis_id":"h1","method":"discriminative","prompt_id":"%s","trial":%d,"b_first":%v,"verdicts":["tie","tie"],"outcome":"tie","baseline":true}`, pid, i, i%2 == 1))
	}
	lines = append(lines,
		`{"hypothesis_id":"h1","method":"generative","trial":0,"outcome":"unavailable: cannot score"}`,
		`{"hypothesis_id":"h1","method":"interactive","trial":0,"hidden":"A","turns":[{"question":"Any pets?","answer":"Dogs."}],"outcome":"wrong"}`,
		`{"hypothesis_id":"h1","method":"interactive","trial":1,"hidden":"B","turns":[{"question":"Any pets?","answer":"An otter <b>!</b>"}],"outcome":"correct"}`,
		`{"hypothesis_id":"h2","method":"discriminative","prompt_id":"p0","trial":0,"b_first":false,"a_id":"ap0","b_id":"bp0","verdicts":["second","first"],"outcome":"for"}`)
	writeFile(t, j(fileTrials), strings.Join(lines, "\n")+"\n")

	writeTable(t, j(fileMatches),
		schema.Match{Region: 0, Rank: 1, Category: "shifted", ClusterA: i32(0), ClusterB: i32(0), CountA: 2, CountB: 8, TotalA: 10, TotalB: 10, ShareDiff: 0.6, CohensH: 1.3, Test: "fisher", P: 0.003, Q: 0.006},
		schema.Match{Region: 1, Rank: 2, Category: "same", ClusterA: i32(1), ClusterB: i32(1), CountA: 8, CountB: 2, TotalA: 10, TotalB: 10, ShareDiff: -0.6, CohensH: -1.3, Test: "fisher", P: 0.2, Q: 0.2})
	var cl []schema.Cluster
	for i := range 20 {
		m := "A"
		if i%2 == 1 {
			m = "B"
		}
		c := int32(i % 2)
		cl = append(cl, schema.Cluster{GenerationID: fmt.Sprintf("g%02d", i), Model: m, Clustering: "pooled:kmeans-k2", Cluster: c,
			X: float32(math.Cos(float64(i))) + float32(c), Y: float32(math.Sin(float64(i)))})
	}
	writeTable(t, j(fileClusters), cl...)
	writeTable(t, j(fileCentroids),
		schema.Centroid{Clustering: "pooled:kmeans-k2", Cluster: 0, Size: 10, Vector: []float32{1, 0}, X: 0, Y: 0},
		schema.Centroid{Clustering: "pooled:kmeans-k2", Cluster: 1, Size: 10, Vector: []float32{0, 1}, X: 1, Y: 0})

	writeTable(t, j(fileTruths),
		schema.Truth{ID: "t1", Behavior: "mentions otters", Category: "topic", Source: "builtin", Texts: []string{"otter"}},
		schema.Truth{ID: "t2", Behavior: "asks questions", Category: "style", Source: "builtin", Texts: []string{"?"}})
	writeTable(t, j(fileRecovery),
		schema.RecoveryRow{TruthID: "t1", HypothesisID: str("h1"), Score: 0.91, Method: "embedding", Recovered: true},
		schema.RecoveryRow{TruthID: "t2", Score: 0, Method: "embedding"})

	writeWeightDiff(t, j(fileWeightDiff))
	writeTable(t, j(fileLens), lensRows()...)
	var steered []schema.Generation
	for i := range 5 {
		steered = append(steered, schema.Generation{ID: fmt.Sprintf("s%d", i), Model: "A+steer", PromptID: "p0", Split: "discovery",
			Prompt: "Question 0 about rivers?", Completion: fmt.Sprintf("Steered <otter> answer %d.", i), FinishReason: "stop"})
	}
	writeTable(t, j(fileSteered), steered...)
	return dir
}

// decodeReport parses report.json strictly into a Report.
func decodeReport(t *testing.T, b []byte) *Report {
	t.Helper()
	var r Report
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	return &r
}

// writeWeightDiff writes a weight-difference table: through the registered kind when this build
// has one (schema "weightdiff", every column filled generically), else as a Parquet file of a
// kind the build does not know.
func writeWeightDiff(t *testing.T, path string) {
	t.Helper()
	tbl := schema.Lookup("weightdiff")
	if tbl == nil {
		writeUnknownKind(t, path, "weightdiff/v1")
		return
	}
	w, err := table.CreateAny(tbl, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, name := range []string{"blk.0.attn_q.weight", "output_norm.weight"} {
		row := reflect.New(tbl.RowType()).Elem()
		for k, c := range tbl.Columns() {
			f := row.Field(c.Index)
			v := reflect.New(f.Type()).Elem()
			switch {
			case k == 0:
				v.SetString(name)
			case c.Type.List:
				v = reflect.MakeSlice(f.Type(), 2, 2)
				for i := range 2 {
					setScalar(v.Index(i), c.Type.Kind)
				}
			case c.Type.Optional:
				v = reflect.New(f.Type().Elem())
				setScalar(v.Elem(), c.Type.Kind)
			default:
				setScalar(v, c.Type.Kind)
			}
			f.Set(v)
		}
		if err := w.Write(row.Interface().(schema.Row)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func setScalar(v reflect.Value, k schema.Kind) {
	switch k {
	case schema.String:
		v.SetString("x")
	case schema.Bool:
		v.SetBool(true)
	case schema.Int32, schema.Int64:
		v.SetInt(64)
	case schema.Float32, schema.Float64:
		v.SetFloat(0.125)
	}
}

// writeUnknownKind writes two weightRow rows with mbd.schema = id ("" for none).
func writeUnknownKind(t *testing.T, path, id string) {
	t.Helper()
	rows := []weightRow{{"blk.0.attn_q.weight", []int64{64, 64}, 0.125, 0.99}, {"output_norm.weight", []int64{64}, 0, 1}}
	if err := tabletest.WriteForeign(path, rows, id); err != nil {
		t.Fatal(err)
	}
}

// lensRows is a lens table of two blocks (0 and 1) read at positions 0, 1 and averaged (-1): block
// 1 promotes " otter" significantly; principal-direction rows and A's head are there too.
func lensRows() []schema.LensRow {
	var rows []schema.LensRow
	for _, layer := range []int32{1, 0} {
		for _, pos := range []int32{-1, 0, 1} {
			norm := float64(layer+1) + float64(pos+1)/10
			for _, head := range []string{"B", "A"} {
				for k, tok := range []string{" otter", "\n", " the"} {
					z, p := 9.5-float64(k)*4, 0.01+float64(k)*0.3
					if layer == 0 {
						z, p = 1, 0.8
					}
					rows = append(rows,
						schema.LensRow{Layer: layer, Position: pos, Direction: "mean", Head: head, Side: "promoted", Rank: int32(k + 1), Token: tok,
							Logit: 3 - float64(k), Z: f64(z), P: f64(p), Significant: p <= 0.05, Norm: norm, RelNorm: norm / 10, Texts: 310, Flips: 100},
						schema.LensRow{Layer: layer, Position: pos, Direction: "mean", Head: head, Side: "suppressed", Rank: int32(k + 1), Token: "river" + tok,
							Logit: -3 + float64(k), Z: f64(-z), P: f64(p), Significant: p <= 0.05, Norm: norm, RelNorm: norm / 10, Texts: 310, Flips: 100})
				}
			}
		}
		rows = append(rows, schema.LensRow{Layer: layer, Position: -1, Direction: "pc1", Head: "B", Side: "promoted", Rank: 1, Token: " pc", Logit: 2, Norm: 9, RelNorm: 9, Texts: 310})
	}
	return rows
}
