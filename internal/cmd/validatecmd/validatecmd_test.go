package validatecmd

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func valid() Options {
	return Options{Output: "v.parquet", Hypotheses: "h.parquet", Prompts: "p.parquet", ModelA: "synth:base", ModelB: "synth:base",
		Methods: "discriminative,generative,interactive", MaxPairs: 0, Samples: 1, JudgeBatch: 1, Exemplars: 20, Trials: 20, Rounds: 3, Alpha: 0.05,
		Correction: "bh", MinValid: 5, Temperature: 0.7, MaxTokens: 256, Seed: 1, Assistant: cli.Assistant{Ref: "builtin", Concurrency: 4}}
}

func TestValidate(t *testing.T) {
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "no output: give -o"},
		{Name: "no hypotheses", Edit: func(o *Options) { o.Hypotheses = "" }, Want: "give --hypotheses and --prompts"},
		{Name: "no model", Edit: func(o *Options) { o.ModelB = "" }, Want: "give --model-a and --model-b (model references), or --recorded tables"},
		{Name: "labels without recorded", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x", B: "y"} }, Want: "--a and --b name the models of --recorded tables: give --recorded"},
		{Name: "unknown method", Edit: func(o *Options) { o.Methods = "discriminative,vibes" }, Want: `--methods: unknown test "vibes"`},
		{Name: "unknown correction", Edit: func(o *Options) { o.Correction = "bonferroni" }, Want: `--correction "bonferroni"`},
		{Name: "alpha 2", Edit: func(o *Options) { o.Alpha = 2 }, Want: "--alpha 2: want a number in (0, 1)"},
		{Name: "alpha 0", Edit: func(o *Options) { o.Alpha = 0 }, Want: "--alpha 0: want a number in (0, 1)"},
		{Name: "alpha NaN", Edit: func(o *Options) { o.Alpha = math.NaN() }, Want: "--alpha NaN: want a finite number"},
		{Name: "negative pairs", Edit: func(o *Options) { o.MaxPairs = -1 }, Want: "--max-pairs -1"},
		{Name: "negative samples", Edit: func(o *Options) { o.Samples = -1 }, Want: "--samples-per-prompt -1"},
		{Name: "default samples", Edit: func(o *Options) { o.Samples = 0 }},
		{Name: "judge batch 0", Edit: func(o *Options) { o.JudgeBatch = 0 }, Want: "--judge-batch 0: want at least 1"},
		{Name: "negative judge batch", Edit: func(o *Options) { o.JudgeBatch = -4 }, Want: "--judge-batch -4: want at least 1"},
		{Name: "negative exemplars", Edit: func(o *Options) { o.Exemplars = -2 }, Want: "--exemplars -2"},
		{Name: "negative trials", Edit: func(o *Options) { o.Trials = -1 }, Want: "--trials -1"},
		{Name: "zero rounds", Edit: func(o *Options) { o.Rounds = 0 }, Want: "--rounds 0"},
		{Name: "zero min-valid", Edit: func(o *Options) { o.MinValid = 0 }, Want: "--min-valid 0"},
		{Name: "temperature NaN", Edit: func(o *Options) { o.Temperature = math.NaN() }, Want: "--temperature NaN"},
		{Name: "temperature Inf", Edit: func(o *Options) { o.Temperature = math.Inf(1) }, Want: "--temperature +Inf"},
		{Name: "negative temperature", Edit: func(o *Options) { o.Temperature = -1 }, Want: "--temperature -1"},
		{Name: "negative max-tokens", Edit: func(o *Options) { o.MaxTokens = -5 }, Want: "--max-tokens -5"},
		{Name: "huge max-tokens", Edit: func(o *Options) { o.MaxTokens = math.MaxInt64 }, Want: "--max-tokens 9223372036854775807: want an integer in [1, 1048576]"},
		{Name: "bad model-a", Edit: func(o *Options) { o.ModelA = "nonsense:x" }, Want: `--model-a: model reference "nonsense:x": unknown scheme`},
		{Name: "bad model-b option", Edit: func(o *Options) { o.ModelB = "gguf:b.gguf?ctx=0" }, Want: `--model-b: model reference "gguf:b.gguf?ctx=0": ctx="0"`},
		{Name: "output is model A", Edit: func(o *Options) { o.ModelA, o.Output = "gguf:a.gguf", "a.gguf" }, Want: "-o a.gguf is also an input (--model-a)"},
		{Name: "trials log is model B's system prompt", Edit: func(o *Options) { o.ModelB, o.TrialsLog = "gguf:a.gguf?system=s.txt", "s.txt" }, Want: "--trials-log s.txt is also an input (--model-b)"},
		{Name: "answers are the assistant", Edit: func(o *Options) { o.Assistant.Ref, o.Answers = "gguf:judge.gguf?threads=2", "./judge.gguf" }, Want: "--answers ./judge.gguf is also an input (--assistant)"},
		{Name: "budget -Inf", Edit: func(o *Options) { o.Assistant.Budget = math.Inf(-1) }, Want: "--budget -Inf"},
		{Name: "concurrency 0", Edit: func(o *Options) { o.Assistant.Concurrency = 0 }, Want: "--concurrency 0"},
		{Name: "same input twice", Edit: func(o *Options) { o.Prompts = "h.parquet" }, Want: "--prompts h.parquet is given twice"},
		{Name: "output is an input", Edit: func(o *Options) { o.Output = "p.parquet" }, Want: "-o p.parquet is also an input (--prompts)"},
		{Name: "trials log is an input", Edit: func(o *Options) { o.TrialsLog = "h.parquet" }, Want: "--trials-log h.parquet is also an input (--hypotheses)"},
		{Name: "trials log is the output", Edit: func(o *Options) { o.TrialsLog = "v.parquet" }, Want: "--trials-log v.parquet is also the output of -o"},
		{Name: "default trials log is an input", Edit: func(o *Options) { o.Hypotheses = "v.parquet.trials.jsonl" }, Want: "--trials-log v.parquet.trials.jsonl is also an input (--hypotheses)"},
		{Name: "answers are the output", Edit: func(o *Options) { o.Answers = "v.parquet" }, Want: "--answers v.parquet is also the output of -o"},
		{Name: "answers are an input", Edit: func(o *Options) { o.Answers = "p.parquet" }, Want: "--answers p.parquet is also an input (--prompts)"},
	})
	// Recorded answers: --prompts and the models are optional, the models both or neither.
	recorded := func() Options {
		o := valid()
		o.Prompts, o.ModelA, o.ModelB, o.Recorded = "", "", "", []string{"a.parquet", "b.parquet"}
		return o
	}
	clitest.Validate(t, recorded, []clitest.Case[Options]{
		{Name: "one table", Edit: func(o *Options) { o.Recorded = []string{"gens.parquet"} }},
		{Name: "with prompts and scoring models", Edit: func(o *Options) { o.Prompts, o.ModelA, o.ModelB = "p.parquet", "synth:base", "synth:base?seed=2" }},
		{Name: "with labels", Edit: func(o *Options) { o.Labels = cli.Labels{A: "base", B: "tuned"} }},
		{Name: "no hypotheses", Edit: func(o *Options) { o.Hypotheses = "" }, Want: "give --hypotheses"},
		{Name: "one scoring model", Edit: func(o *Options) { o.ModelA = "synth:base" }, Want: "with --recorded, give both --model-a and --model-b (to score texts in the generative test) or neither"},
		{Name: "bad scoring model", Edit: func(o *Options) { o.ModelA, o.ModelB = "nonsense:x", "synth:base" }, Want: `--model-a: model reference "nonsense:x": unknown scheme`},
		{Name: "--a alone", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x"} }, Want: "--a x without --b: give --a and --b together"},
		{Name: "same labels", Edit: func(o *Options) { o.Labels = cli.Labels{A: "x", B: "x"} }, Want: `--a and --b are both "x"`},
		{Name: "recorded twice", Edit: func(o *Options) { o.Recorded = []string{"a.parquet", "./a.parquet"} }, Want: "--recorded ./a.parquet is given twice (as --recorded too)"},
		{Name: "recorded is the prompts", Edit: func(o *Options) { o.Prompts = "a.parquet" }, Want: "--recorded a.parquet is given twice (as --prompts too)"},
		{Name: "recorded is the hypotheses", Edit: func(o *Options) { o.Recorded = []string{"h.parquet"} }, Want: "--recorded h.parquet is given twice (as --hypotheses too)"},
		{Name: "output is recorded", Edit: func(o *Options) { o.Output = "b.parquet" }, Want: "-o b.parquet is also an input (--recorded)"},
		{Name: "answers are recorded", Edit: func(o *Options) { o.Answers = "a.parquet" }, Want: "--answers a.parquet is also an input (--recorded)"},
		{Name: "trials log is recorded", Edit: func(o *Options) { o.TrialsLog = "b.parquet" }, Want: "--trials-log b.parquet is also an input (--recorded)"},
		{Name: "default trials log is recorded", Edit: func(o *Options) { o.Recorded = []string{"v.parquet.trials.jsonl"} }, Want: "--trials-log v.parquet.trials.jsonl is also an input (--recorded)"},
		{Name: "negative samples", Edit: func(o *Options) { o.Samples = -2 }, Want: "--samples-per-prompt -2"},
	})
	// Model B may be model A's file with a hidden system prompt, and the assistant the same file.
	o := valid()
	o.ModelA, o.ModelB, o.Assistant.Ref = "gguf:a.gguf", "gguf:a.gguf?system=s.txt", "gguf:a.gguf"
	if err := o.Validate(); err != nil {
		t.Errorf("shared model file: %v", err)
	}
	// Standard output: no default trials log.
	o = valid()
	o.Output = "-"
	if err := o.Validate(); err != nil || o.trialsLog() != "" {
		t.Errorf("-o -: %v, trials log %q", err, o.trialsLog())
	}
}

func fixture(t *testing.T) string {
	dir := t.TempDir()
	var ps []schema.Prompt
	for i := range 12 {
		ps = append(ps, schema.Prompt{ID: fmt.Sprint("p", i), Text: fmt.Sprint("How do I cook dish ", i, "?"), Source: "test", Split: schema.SplitValidation})
	}
	clitest.Write(t, filepath.Join(dir, "p.parquet"), ps...)
	clitest.Write(t, filepath.Join(dir, "h.parquet"), schema.Hypothesis{ID: "h1", Text: "B mentions otters", Property: "contains 'otter'", Direction: schema.DirectionBA, Kind: "lexical", Proposer: "builtin"})
	return dir
}

var small = []string{"--pairs", "6", "--exemplars", "2", "--trials", "4", "--rounds", "1", "--min-valid", "1"}

// TestManifestInputs checks that the output manifests record every input table with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	args := append([]string{"--hypotheses", "h.parquet", "--prompts", "p.parquet", "--model-a", "synth:base?seed=1", "--model-b", "synth:animal=0.5?seed=2",
		"-o", "v.parquet", "--answers", "answers.parquet"}, small...)
	if rc, _, stderr := clitest.Run(t, Main, dir, args...); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	for _, out := range []string{"v.parquet", "answers.parquet"} {
		clitest.TableInputs(t, out+".json", dir, "h.parquet", "p.parquet")
	}
	if _, err := os.Stat(filepath.Join(dir, "v.parquet.trials.jsonl")); err != nil {
		t.Error(err)
	}
}

// TestExitCodes checks that bad input ends with status 2 and one line naming the problem, before
// anything is written.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	refs := []string{"--hypotheses", "h.parquet", "--prompts", "p.parquet", "--model-a", "synth:base", "--model-b", "synth:base"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model-a", "nonsense:x"}, "--model-a: "},
		{[]string{"--model-b", "gguf:missing.gguf"}, "--model-b: "},
		{[]string{"--assistant", "nonsense:x"}, "nonsense"},
		{[]string{"--trials-log", "h.parquet"}, "--trials-log h.parquet is also an input (--hypotheses)"},
		{[]string{"--alpha", "2"}, "--alpha 2: want a number in (0, 1)"},
		{[]string{"--judge-batch", "0"}, "--judge-batch 0: want at least 1"},
		{[]string{"--rounds", "NaN"}, "flag -rounds"},
	} {
		args := append(append(append([]string{}, refs...), small...), tc.args...)
		rc, _, stderr := clitest.Run(t, Main, dir, append(args, "-o", "x.parquet")...)
		clitest.UsageError(t, tc.args, rc, stderr, tc.want)
		clitest.Absent(t, tc.args, dir, "x.parquet", "x.parquet.trials.jsonl")
	}
}

// recordedFixture writes, next to fixture's prompts and hypothesis, the recorded answers of A
// (a.parquet: plain) and B (b.parquet: otters) to the 12 validation prompts, two samples each, and
// a discovery-only table of B (disc.parquet), other answers of B (b2.parquet), and both models'
// answers in one table under other labels (both.parquet).
func recordedFixture(t *testing.T) string {
	dir := fixture(t)
	gens := func(label, text, split string) []schema.Generation {
		var out []schema.Generation
		for i := range 12 {
			for s := range 2 {
				out = append(out, schema.Generation{ID: fmt.Sprint(label, i, "-", s, text[len(text)-2:], split), Model: label, ModelRef: "import:" + label + ".jsonl", PromptID: fmt.Sprint("p", i), Split: split,
					Sample: int32(s), Prompt: fmt.Sprint("How do I cook dish ", i, "?"), Completion: fmt.Sprint(text, " (", i, "/", s, ")"), FinishReason: "unknown"})
			}
		}
		return out
	}
	clitest.Write(t, filepath.Join(dir, "a.parquet"), gens("A", "Boil it.", schema.SplitValidation)...)
	clitest.Write(t, filepath.Join(dir, "b.parquet"), gens("B", "Boil it like an otter would.", schema.SplitValidation)...)
	clitest.Write(t, filepath.Join(dir, "disc.parquet"), gens("B", "Boil it.", schema.SplitDiscovery)...)
	clitest.Write(t, filepath.Join(dir, "b2.parquet"), gens("B", "Boil it.", schema.SplitValidation)...)
	both := append(gens("base", "Boil it.", schema.SplitValidation), gens("tuned", "Boil it like an otter would.", schema.SplitValidation)...)
	clitest.Write(t, filepath.Join(dir, "both.parquet"), both...)
	return dir
}

// TestRecorded checks a run on recorded answers: the otter hypothesis validates on them, the
// interactive test is unavailable, the manifest records every input table, and --answers writes the
// recorded rows of the judged pairs.
func TestRecorded(t *testing.T) {
	dir := recordedFixture(t)
	for _, tc := range []struct {
		name     string
		args     []string
		inputs   []string
		pairs    int
		answers  int
		scorable bool
	}{
		{"two tables", []string{"--recorded", "a.parquet", "--recorded", "b.parquet"}, []string{"h.parquet", "a.parquet", "b.parquet"}, 24, 24, false},
		{"one sample, with prompts", []string{"--recorded", "a.parquet", "--recorded", "b.parquet", "--samples-per-prompt", "1", "--prompts", "p.parquet"},
			[]string{"h.parquet", "p.parquet", "a.parquet", "b.parquet"}, 12, 24, false},
		{"one table, labels named, scoring models", []string{"--recorded", "both.parquet", "--a", "base", "--b", "tuned", "--model-a", "synth:base", "--model-b", "synth:animal=0.5"},
			[]string{"h.parquet", "both.parquet"}, 24, 24, true},
	} {
		os.Remove(filepath.Join(dir, "answers.parquet"))
		stdout := clitest.OK(t, Main, dir, append([]string{"--hypotheses", "h.parquet", "-o", "v.parquet", "--answers", "answers.parquet", "--min-valid", "1"}, tc.args...)...)
		want := "1 of 1 hypotheses validated"
		if !strings.Contains(stdout, want) || !strings.Contains(stdout, "; generative n/a; interactive n/a") {
			t.Errorf("%s: stdout %q, want %q and the generative and interactive tests n/a", tc.name, stdout, want)
		}
		for _, out := range []string{"v.parquet", "answers.parquet"} {
			clitest.TableInputs(t, out+".json", dir, tc.inputs...)
		}
		m, err := manifest.Read(filepath.Join(dir, "v.parquet.json"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Params["recorded_pairs"] != float64(tc.pairs) {
			t.Errorf("%s: recorded_pairs %v, want %d", tc.name, m.Params["recorded_pairs"], tc.pairs)
		}
		rows, err := table.ReadAll[schema.Validation](filepath.Join(dir, "v.parquet"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[0].Verdict != schema.VerdictValidated || rows[2].Verdict != schema.VerdictUnavailable || !math.IsNaN(rows[2].P) {
			t.Errorf("%s: rows %+v", tc.name, rows)
		}
		answers, err := table.ReadAll[schema.Generation](filepath.Join(dir, "answers.parquet"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(answers) != int(2*rows[0].N) || len(answers) > tc.answers {
			t.Errorf("%s: %d answers for %d pairs", tc.name, len(answers), rows[0].N)
		}
		for _, g := range answers {
			if !strings.HasPrefix(g.ModelRef, "import:") || !strings.Contains(g.Completion, "Boil it") {
				t.Errorf("%s: answer %+v is not a recorded row", tc.name, g)
			}
		}
		trials, err := os.ReadFile(filepath.Join(dir, "v.parquet.trials.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(trials), `"outcome":"unavailable: it questions a live model`) || !strings.Contains(string(trials), `"a_id":"`+answers[0].ID+`"`) {
			t.Errorf("%s: trials log lacks the interactive reason or the recorded ids", tc.name)
		}
		if why := `"outcome":"unavailable: synth:base cannot score texts"`; tc.scorable != strings.Contains(string(trials), why) {
			t.Errorf("%s: trials log: scoring models' reason %q present %v", tc.name, why, !tc.scorable)
		}
	}
}

// TestRecordedBadInput checks that bad recorded tables end with status 2 and one line naming the
// file and the problem, before anything is written.
func TestRecordedBadInput(t *testing.T) {
	dir := recordedFixture(t)
	// The hypotheses were proposed with A and B (as mbd-hypo records in its manifest).
	if err := os.WriteFile(filepath.Join(dir, "h.parquet.json"), []byte(`{"tool": "mbd-hypo", "params": {"a": "A", "b": "B"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var ps []schema.Prompt
	for i := range 12 {
		ps = append(ps, schema.Prompt{ID: fmt.Sprint("p", i), Text: fmt.Sprint("How do I cook dish ", i, "?"), Source: "test", Split: schema.SplitDiscovery})
	}
	clitest.Write(t, filepath.Join(dir, "disc-prompts.parquet"), ps...)
	clitest.Refuses(t, Main, dir, []string{"--hypotheses", "h.parquet", "-o", "x.parquet", "--answers", "xa.parquet"}, []string{"x.parquet", "x.parquet.json", "x.parquet.trials.jsonl", "xa.parquet"}, []clitest.Refusal{
		{Args: []string{"--recorded", "a.parquet", "--recorded", "b.parquet", "--a", "B", "--b", "A"}, Want: `h.parquet: was proposed with A="A" and B="B" (its manifest), but the recorded tables give A="B" and B="A": give --a A --b B`},
		{Args: []string{"--recorded", "a.parquet", "--recorded", "b.parquet", "--a", "A", "--b", "C"}, Want: `a.parquet: column "model": has no texts of model "A" or "C"`},
		{Args: []string{"--recorded", "a.parquet"}, Want: `a.parquet: column "model": holds 1 model labels [A]`},
		{Args: []string{"--recorded", "a.parquet", "--recorded", "disc.parquet"}, Want: `disc.parquet: column "split": has no validation-split answers of model B ("B")`},
		{Args: []string{"--recorded", "a.parquet", "--recorded", "b.parquet", "--recorded", "b2.parquet"}, Want: `b2.parquet: column "sample": model B ("B"), prompt p0, sample 0 is recorded twice (also in b.parquet)`},
		{Args: []string{"--recorded", "a.parquet", "--recorded", "b.parquet", "--prompts", "disc-prompts.parquet"}, Want: `a.parquet: column "split": prompt p0 is in the validation split, but in the discovery split in disc-prompts.parquet`},
		{Args: []string{"--recorded", "a.parquet", "--recorded", "b.parquet", "--model-a", "synth:base"}, Want: "give both --model-a and --model-b"},
		{Args: []string{"--recorded", "a.parquet", "--recorded", "x.parquet"}, Want: "x.parquet"},
	})
}
