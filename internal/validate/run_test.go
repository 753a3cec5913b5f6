package validate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func TestValidationSplit(t *testing.T) {
	d, v := schema.SplitDiscovery, schema.SplitValidation
	for _, tc := range []struct {
		splits []string
		want   string
	}{
		{nil, ""},
		{[]string{d, d}, ""},
		{[]string{v, d, v}, "0,2"},
	} {
		var ps []schema.Prompt
		for i, s := range tc.splits {
			ps = append(ps, schema.Prompt{ID: fmt.Sprint(i), Split: s})
		}
		var ids []string
		for _, p := range ValidationSplit(ps) {
			ids = append(ids, p.ID)
		}
		if got := strings.Join(ids, ","); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.splits, got, tc.want)
		}
	}
}

func TestCheckHypotheses(t *testing.T) {
	for _, tc := range []struct {
		directions []string
		bad        bool
	}{
		{nil, false},
		{[]string{schema.DirectionBA, schema.DirectionAB}, false},
		{[]string{schema.DirectionBA, "B>>A"}, true},
		{[]string{""}, true},
	} {
		var hs []schema.Hypothesis
		for i, d := range tc.directions {
			hs = append(hs, schema.Hypothesis{ID: fmt.Sprint("h", i), Direction: d})
		}
		err := CheckHypotheses("h.parquet", hs)
		var ie *table.InputError
		if tc.bad != (err != nil) || (err != nil && (!errors.As(err, &ie) || ie.Column != "direction")) {
			t.Errorf("%v: %v", tc.directions, err)
		}
	}
}

// budgetJudge is a judge whose budget runs out after n judgments.
type budgetJudge struct {
	roles.Builtin
	n *int
}

func (j budgetJudge) JudgePair(ctx context.Context, property, prompt, first, second string) (roles.Verdict, error) {
	if *j.n == 0 {
		return roles.Invalid, fmt.Errorf("judge: %w", assistant.ErrBudget)
	}
	*j.n--
	return j.Builtin.JudgePair(ctx, property, prompt, first, second)
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	var val []schema.Prompt
	for i := range 12 {
		val = append(val, schema.Prompt{ID: fmt.Sprint("p", i), Text: fmt.Sprint("How do I do thing ", i, "?"), Split: schema.SplitValidation})
	}
	hyps := []schema.Hypothesis{
		{ID: "h1", Property: "contains 'otter'", Direction: schema.DirectionBA},
		{ID: "h2", Property: "is friendlier", Direction: schema.DirectionAB},
	}
	base := Params{MaxPairs: 10, Exemplars: 10, Trials: 6, Rounds: 2, MinValid: 5, Alpha: 0.05, Correction: CorrectionBH, Seed: 1, Concurrency: 1}
	for _, tc := range []struct {
		name    string
		methods []string
		budget  int // judgments before the budget runs out (-1: none)
		rows    string
		budgetR bool
		answers int // fresh answers of the judged pairs
	}{
		{"all methods", Methods, -1, "h1 discriminative,h1 generative,h1 interactive,h2 discriminative,h2 generative,h2 interactive", false, 20},
		{"one method", []string{schema.MethodGenerative}, -1, "h1 generative,h2 generative", false, 0},
		{"budget", []string{schema.MethodDiscriminative}, 25, "h1 discriminative", true, 20},
	} {
		p := base
		p.Methods = tc.methods
		n := tc.budget
		if n < 0 {
			n = 1 << 30
		}
		sess := roles.Session{Assistant: budgetJudge{n: &n}}
		done := 0
		res, err := Run(ctx, sess, scorer{}, scorer{bonus: 2}, hyps, val, p, slog.New(slog.DiscardHandler), func() { done++ })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var rows []string
		for _, r := range res.Rows {
			rows = append(rows, r.HypothesisID+" "+r.Method)
			if r.Judge != roles.BuiltinRef || r.Correction != CorrectionBH || r.Alpha != 0.05 || r.Verdict == "" {
				t.Errorf("%s: row %+v", tc.name, r)
			}
		}
		if got := strings.Join(rows, ","); got != tc.rows || res.BudgetReached != tc.budgetR || done != len(hyps) {
			t.Errorf("%s: rows %q, budget %v, done %d; want %q, %v", tc.name, got, res.BudgetReached, done, tc.rows, tc.budgetR)
		}
		if len(res.Trials) == 0 {
			t.Errorf("%s: no trials logged", tc.name)
		}
		if len(res.Answers) != tc.answers || len(res.Answers) > 0 && (res.Answers[0].Model != "A" || res.Answers[0].ID != answerID(1, "A", "p0")) {
			t.Errorf("%s: %d answers, want %d: %+v", tc.name, len(res.Answers), tc.answers, res.Answers)
		}
	}
}

// sayer is a model that mentions otters in a share of its answers (by the request's seed).
type sayer struct {
	scorer
	share float64
}

func (s sayer) Generate(_ context.Context, reqs []llm.GenRequest, _ llm.Sampling, yield func(llm.GenResult) error) error {
	for _, r := range reqs {
		text := "Rinse the rice well."
		if float64(r.Seed%1000) < 1000*s.share {
			text += " An otter would rinse it too."
		}
		if err := yield(llm.GenResult{ID: r.ID, Completion: text}); err != nil {
			return err
		}
	}
	return nil
}

// TestJudgeBatchSameRows checks that judging several pairs per request gives the builtin judge's
// rows and trials unchanged.
func TestJudgeBatchSameRows(t *testing.T) {
	ctx := context.Background()
	var val []schema.Prompt
	for i := range 40 {
		val = append(val, schema.Prompt{ID: fmt.Sprint("p", i), Text: fmt.Sprint("How do I do thing ", i, "?"), Split: schema.SplitValidation})
	}
	half, tenth := 0.5, 0.1
	hyps := []schema.Hypothesis{
		{ID: "h1", Property: "contains 'otter'", Direction: schema.DirectionBA, ShareA: &tenth, ShareB: &half},
		{ID: "h2", Property: "contains 'otter'", Direction: schema.DirectionAB},
		{ID: "h3", Property: "is friendlier", Direction: schema.DirectionBA},
	}
	run := func(k int) (rows, trials []string) {
		p := Params{Methods: Methods, MaxPairs: 60, SamplesPerPrompt: 2, Exemplars: 10, Trials: 6, Rounds: 2, MinValid: 5, Alpha: 0.05,
			Correction: CorrectionBH, Seed: 3, Baseline: true, Concurrency: 3, JudgeBatch: k}
		res, err := Run(ctx, roles.Session{Assistant: roles.Builtin{}}, sayer{share: 0.1}, sayer{share: 0.6}, hyps, val, p, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		for _, r := range res.Rows {
			base := "none"
			if r.Baseline != nil {
				base = fmt.Sprint(*r.Baseline)
			}
			rows = append(rows, fmt.Sprintf("%s %s n=%d invalid=%d stat=%v p=%v q=%v effect=%v [%v, %v] plan=%d looks=%d stop=%s %s baseline=%s",
				r.HypothesisID, r.Method, r.N, r.NInvalid, r.Statistic, r.P, r.Q, r.Effect, r.CILow, r.CIHigh, r.Planned, r.Looks, r.Stop, r.Verdict, base))
		}
		for _, l := range res.Trials {
			if l.Method == schema.MethodDiscriminative {
				trials = append(trials, fmt.Sprintf("%s %d %v %v %s baseline=%v", l.Hypothesis, l.Trial, *l.BFirst, l.Verdicts, l.Outcome, l.Baseline))
			}
		}
		return rows, trials
	}
	rows1, trials1 := run(1)
	if !strings.Contains(strings.Join(rows1, "\n"), "h1 discriminative") || !strings.Contains(strings.Join(trials1, "\n"), " for ") {
		t.Fatalf("k=1: no decided discriminative pairs:\n%s", strings.Join(rows1, "\n"))
	}
	for _, k := range []int{4, 7} {
		rows, trials := run(k)
		if !slices.Equal(rows, rows1) {
			t.Errorf("k=%d: rows\n%s\nwant (k=1)\n%s", k, strings.Join(rows, "\n"), strings.Join(rows1, "\n"))
		}
		if !slices.Equal(trials, trials1) {
			t.Errorf("k=%d: %d trials differ from k=1's %d", k, len(trials), len(trials1))
		}
	}
}

var _ llm.Model = scorer{}
