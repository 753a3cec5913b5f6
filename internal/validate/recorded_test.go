package validate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/synthmodel"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/synth"
	"github.com/mbd-dev/mbd/internal/table"
)

// record draws, for every validation prompt and sample k < samples, the answer the live validator
// draws for it (the same request: prompt text, seed, sampling) and returns it as a generations row
// of the given label.
func record(t *testing.T, m llm.Model, label string, val []schema.Prompt, p Params, samples int) []RecordedAnswer {
	t.Helper()
	v := &validator{cfg: p, val: val}
	var reqs []llm.GenRequest
	var refs []pairRef
	for i := range len(val) * samples {
		pr := v.pair(i)
		k := pr.a
		if label == "B" {
			k = pr.b
		}
		reqs = append(reqs, llm.GenRequest{ID: fmt.Sprint(i), Prompt: k.prompt, Seed: k.seed})
		refs = append(refs, pr)
	}
	out := make([]RecordedAnswer, len(reqs))
	err := m.Generate(context.Background(), reqs, p.Sampling, func(r llm.GenResult) error {
		var i int
		fmt.Sscan(r.ID, &i)
		pr := refs[i]
		out[i] = RecordedAnswer{Path: "gens-" + label + ".parquet", Generation: schema.Generation{ID: fmt.Sprintf("%s-%d", label, i), Model: label, ModelRef: m.Info().Ref,
			PromptID: pr.prompt.ID, Split: pr.prompt.Split, Sample: int32(i / len(val)), Prompt: pr.prompt.Text, Completion: r.Completion}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordedSameAsLive checks that recorded validation gives validated hypotheses with the same
// statistics as live validation on the same texts: the answers a live run of two synth: models
// drew are recorded, and RunRecorded on them reproduces the discriminative rows exactly. The
// interactive test is unavailable on recorded answers and outside the corrections, so the live
// run to compare with is one without it.
func TestRecordedSameAsLive(t *testing.T) {
	ctx := context.Background()
	val := synth.Prompts(7, 80)
	for i := range val {
		val[i].Split = schema.SplitValidation
	}
	half, low := 0.5, 0.05
	hyps := []schema.Hypothesis{
		{ID: "otter", Property: "contains 'otter'", Direction: schema.DirectionBA, ShareA: &low, ShareB: &half},
		{ID: "otter-A", Property: "contains 'otter'", Direction: schema.DirectionAB},
		{ID: "bullets", Property: "contains '- '", Direction: schema.DirectionBA},
	}
	open := func(ref string) llm.Model {
		m, err := synthmodel.Open(strings.TrimPrefix(ref, "synth:"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ma, mb := open("synth:base?seed=11"), open("synth:animal=0.6?seed=12")
	sess := roles.Session{Assistant: roles.Builtin{}}
	log := slog.New(slog.DiscardHandler)
	for _, samples := range []int{1, 3} {
		p := Params{Methods: []string{schema.MethodDiscriminative, schema.MethodGenerative}, SamplesPerPrompt: samples, Exemplars: 10, Trials: 10, Rounds: 2,
			MinValid: 5, Alpha: 0.05, Correction: CorrectionBH, Sampling: llm.Sampling{Temperature: 0.7, MaxTokens: 256}, Seed: 5, Concurrency: 2}
		live, err := Run(ctx, sess, ma, mb, hyps, val, p, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := PairRecorded(record(t, ma, "A", val, p, samples), record(t, mb, "B", val, p, samples), nil, "", samples)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Counts.Pairs != len(val)*samples || rec.Counts.Prompts != len(val) {
			t.Fatalf("samples %d: counts %+v", samples, rec.Counts)
		}
		pr := p
		pr.Methods = Methods // interactive: unavailable, not counted
		recorded, err := RunRecorded(ctx, sess, nil, nil, hyps, rec, pr, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows := func(res Result, method string) []string {
			var out []string
			for _, r := range res.Rows {
				if r.Method == method {
					out = append(out, fmt.Sprintf("%s n=%d invalid=%d accuracy=%v p=%v q=%v effect=%v [%v, %v] plan=%d looks=%d stop=%s %s",
						r.HypothesisID, r.N, r.NInvalid, r.Statistic, r.P, r.Q, r.Effect, r.CILow, r.CIHigh, r.Planned, r.Looks, r.Stop, r.Verdict))
				}
			}
			return out
		}
		want, got := rows(live, schema.MethodDiscriminative), rows(recorded, schema.MethodDiscriminative)
		t.Logf("samples %d, live:\n%s", samples, strings.Join(want, "\n"))
		if !slices.Equal(got, want) {
			t.Errorf("samples %d: recorded rows\n%s\nwant (live)\n%s", samples, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(want[0], "otter n=") || !strings.HasSuffix(want[0], " validated") {
			t.Errorf("samples %d: the otter hypothesis is not validated: %s", samples, want[0])
		}
		if slices.ContainsFunc(want[1:], func(s string) bool { return strings.HasSuffix(s, " validated") }) {
			t.Errorf("samples %d: a false hypothesis validated:\n%s", samples, strings.Join(want, "\n"))
		}
		for _, r := range recorded.Rows {
			if r.Method != schema.MethodDiscriminative && r.Verdict != schema.VerdictUnavailable {
				t.Errorf("samples %d: recorded %s row %s, want unavailable", samples, r.Method, r.Verdict)
			}
		}
		why := map[string]string{}
		for _, l := range recorded.Trials {
			if l.Method != schema.MethodDiscriminative && l.Hypothesis == "otter" {
				why[l.Method] = l.Outcome
			}
		}
		if !strings.Contains(why[schema.MethodInteractive], "unavailable: it questions a live model") || !strings.Contains(why[schema.MethodGenerative], "unavailable: no models to score") {
			t.Errorf("samples %d: unavailable reasons %q", samples, why)
		}
		// The answers of the judged pairs are the recorded rows, under the ids the trials log names,
		// with the live run's texts.
		ids := map[string]bool{}
		texts := func(gs []schema.Generation) []string {
			var out []string
			for _, g := range gs {
				out = append(out, fmt.Sprintf("%s %s %d %q", g.Model, g.PromptID, g.Sample, g.Completion))
			}
			slices.Sort(out)
			return out
		}
		for _, g := range recorded.Answers {
			ids[g.ID] = true
		}
		if len(live.Answers) == 0 || !slices.Equal(texts(recorded.Answers), texts(live.Answers)) {
			t.Errorf("samples %d: %d recorded answers differ from the live run's %d", samples, len(recorded.Answers), len(live.Answers))
		}
		for _, l := range recorded.Trials {
			if l.Method == schema.MethodDiscriminative && !l.Baseline && (!ids[l.AID] || !ids[l.BID]) {
				t.Fatalf("samples %d: trial %+v names answers not in Answers", samples, l)
			}
		}
	}
}

func TestPairRecorded(t *testing.T) {
	v, d := schema.SplitValidation, schema.SplitDiscovery
	// row: "prompt/sample/split" of the given table.
	rows := func(path, model string, specs ...string) []RecordedAnswer {
		var out []RecordedAnswer
		for _, s := range specs {
			var id, split string
			var sample int32
			f := strings.Split(s, "/")
			id, split = f[0], f[2]
			fmt.Sscan(f[1], &sample)
			out = append(out, RecordedAnswer{Path: path, Generation: schema.Generation{ID: model + s, Model: model, PromptID: id, Split: split, Sample: sample,
				Prompt: "text of " + id, Completion: model + " says " + s}})
		}
		return out
	}
	prompts := []schema.Prompt{{ID: "p1", Text: "text of p1", Split: v}, {ID: "p2", Text: "text of p2", Split: v}, {ID: "p3", Text: "text of p3", Split: d},
		{ID: "p4", Text: "text of p4", Split: v}}
	for _, tc := range []struct {
		name    string
		a, b    []RecordedAnswer
		prompts []schema.Prompt
		samples int
		pairs   string // prompt/sampleA|sampleB, in order
		counts  RecordedCounts
		err     string
	}{
		{name: "one sample each", a: rows("a", "A", "p1/0/validation", "p2/0/validation", "p3/0/discovery"), b: rows("b", "B", "p2/0/validation", "p1/0/validation"),
			pairs: "p1/0|0 p2/0|0", counts: RecordedCounts{Prompts: 2, Pairs: 2}},
		{name: "samples interleave like a live run", a: rows("a", "A", "p1/0/validation", "p1/1/validation", "p2/0/validation", "p2/1/validation", "p2/2/validation"),
			b:     rows("b", "B", "p2/2/validation", "p2/0/validation", "p2/1/validation", "p1/1/validation", "p1/0/validation"),
			pairs: "p1/0|0 p2/0|0 p1/1|1 p2/1|1 p2/2|2", counts: RecordedCounts{Prompts: 2, Pairs: 5}},
		{name: "unequal sample counts: sample s with sample s", a: rows("a", "A", "p1/0/validation", "p1/1/validation", "p1/2/validation"), b: rows("b", "B", "p1/2/validation", "p1/0/validation", "p1/5/validation"),
			pairs: "p1/0|0 p1/2|2", counts: RecordedCounts{Prompts: 1, Pairs: 2, UnmatchedA: 1, UnmatchedB: 1}},
		{name: "samples capped", a: rows("a", "A", "p1/0/validation", "p1/1/validation", "p2/0/validation"), b: rows("b", "B", "p1/0/validation", "p1/1/validation", "p2/0/validation"),
			samples: 1, pairs: "p1/0|0 p2/0|0", counts: RecordedCounts{Prompts: 2, Pairs: 2, OverCap: 1}},
		{name: "missing prompts", a: rows("a", "A", "p1/0/validation", "p2/0/validation"), b: rows("b", "B", "p1/0/validation", "p4/0/validation"), prompts: prompts,
			pairs: "p1/0|0", counts: RecordedCounts{Prompts: 1, Pairs: 1, OnlyA: 1, OnlyB: 1}},
		{name: "prompts table order, unanswered counted", a: rows("a", "A", "p4/0/validation", "p1/0/validation"), b: rows("b", "B", "p1/0/validation", "p4/0/validation"), prompts: prompts,
			pairs: "p1/0|0 p4/0|0", counts: RecordedCounts{Prompts: 2, Pairs: 2, Unanswered: 1}},
		{name: "duplicate sample", a: rows("a.parquet", "A", "p1/0/validation", "p1/0/validation"), b: rows("b", "B", "p1/0/validation"),
			err: `a.parquet: column "sample": model A ("A"), prompt p1, sample 0 is recorded twice (also in a.parquet)`},
		{name: "duplicate across tables", a: append(rows("a1.parquet", "A", "p1/0/validation"), rows("a2.parquet", "A", "p1/0/validation")...), b: rows("b", "B", "p1/0/validation"),
			err: `a2.parquet: column "sample": model A ("A"), prompt p1, sample 0 is recorded twice (also in a1.parquet)`},
		{name: "no validation rows", a: rows("a.parquet", "A", "p1/0/validation"), b: rows("b.parquet", "B", "p3/0/discovery"),
			err: `b.parquet: column "split": has no validation-split answers of model B ("B")`},
		{name: "no prompt both answered", a: rows("a.parquet", "A", "p1/0/validation"), b: rows("b.parquet", "B", "p2/0/validation"),
			err: `a.parquet: column "prompt_id": no validation prompt has an answer of model A ("A") and one of model B ("B") with the same sample number (1 answered by A only, 1 by B only)`},
		{name: "no sample number in common", a: rows("a.parquet", "A", "p1/0/validation"), b: rows("b.parquet", "B", "p1/1/validation"),
			err: `a.parquet: column "prompt_id": no validation prompt has an answer of model A`},
		{name: "not in the prompts table", a: rows("a.parquet", "A", "p1/0/validation"), b: rows("b.parquet", "B", "p9/0/validation"), prompts: prompts,
			err: `b.parquet: column "prompt_id": prompt p9 is not in p.parquet`},
		{name: "split disagrees with the prompts table", a: rows("a.parquet", "A", "p1/0/discovery"), b: rows("b.parquet", "B", "p1/0/validation"), prompts: prompts,
			err: `a.parquet: column "split": prompt p1 is in the discovery split, but in the validation split in p.parquet`},
		{name: "text disagrees with the prompts table", a: rows("a.parquet", "A", "p1/0/validation"), b: []RecordedAnswer{{Path: "b.parquet", Generation: schema.Generation{Model: "B", PromptID: "p1", Split: v, Prompt: "other"}}}, prompts: prompts,
			err: `b.parquet: column "prompt": prompt p1 reads "other", but "text of p1" in p.parquet`},
		{name: "two texts of one prompt", a: rows("a.parquet", "A", "p1/0/validation"), b: []RecordedAnswer{{Path: "b.parquet", Generation: schema.Generation{Model: "B", PromptID: "p1", Split: v, Prompt: "other"}}},
			err: `b.parquet: column "prompt": prompt p1 reads "other", but "text of p1" in a.parquet`},
	} {
		rec, err := PairRecorded(tc.a, tc.b, tc.prompts, "p.parquet", tc.samples)
		if tc.err != "" {
			var ie *table.InputError
			if err == nil || !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, p := range rec.pairs {
			if p.a.PromptID != p.prompt.ID || p.b.PromptID != p.prompt.ID || p.prompt.Text != "text of "+p.prompt.ID {
				t.Errorf("%s: pair %+v", tc.name, p)
			}
			got = append(got, fmt.Sprintf("%s/%d|%d", p.prompt.ID, p.a.Sample, p.b.Sample))
		}
		if g := strings.Join(got, " "); g != tc.pairs || rec.Counts != tc.counts {
			t.Errorf("%s: pairs %q, counts %+v; want %q, %+v", tc.name, g, rec.Counts, tc.pairs, tc.counts)
		}
	}
}
