package validatecmd

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
)

func valid() Options {
	return Options{Output: "v.parquet", Hypotheses: "h.parquet", Prompts: "p.parquet", ModelA: "synth:base", ModelB: "synth:base",
		Methods: "discriminative,generative,interactive", Pairs: 50, Exemplars: 20, Trials: 20, Rounds: 3, Alpha: 0.05,
		Correction: "bh", MinValid: 5, Temperature: 0.7, MaxTokens: 256, Seed: 1, Assistant: cli.Assistant{Ref: "builtin", Concurrency: 4}}
}

func TestValidate(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no output", func(o *Options) { o.Output = "" }, "no output: give -o"},
		{"no hypotheses", func(o *Options) { o.Hypotheses = "" }, "give --hypotheses and --prompts"},
		{"no model", func(o *Options) { o.ModelB = "" }, "give --model-a and --model-b"},
		{"unknown method", func(o *Options) { o.Methods = "discriminative,vibes" }, `--methods: unknown test "vibes"`},
		{"unknown correction", func(o *Options) { o.Correction = "bonferroni" }, `--correction "bonferroni"`},
		{"alpha 2", func(o *Options) { o.Alpha = 2 }, "--alpha 2: want a number in (0, 1)"},
		{"alpha 0", func(o *Options) { o.Alpha = 0 }, "--alpha 0: want a number in (0, 1)"},
		{"alpha NaN", func(o *Options) { o.Alpha = math.NaN() }, "--alpha NaN: want a finite number"},
		{"negative pairs", func(o *Options) { o.Pairs = -1 }, "--pairs -1"},
		{"negative exemplars", func(o *Options) { o.Exemplars = -2 }, "--exemplars -2"},
		{"negative trials", func(o *Options) { o.Trials = -1 }, "--trials -1"},
		{"zero rounds", func(o *Options) { o.Rounds = 0 }, "--rounds 0"},
		{"zero min-valid", func(o *Options) { o.MinValid = 0 }, "--min-valid 0"},
		{"temperature NaN", func(o *Options) { o.Temperature = math.NaN() }, "--temperature NaN"},
		{"temperature Inf", func(o *Options) { o.Temperature = math.Inf(1) }, "--temperature +Inf"},
		{"negative temperature", func(o *Options) { o.Temperature = -1 }, "--temperature -1"},
		{"negative max-tokens", func(o *Options) { o.MaxTokens = -5 }, "--max-tokens -5"},
		{"huge max-tokens", func(o *Options) { o.MaxTokens = math.MaxInt64 }, "--max-tokens 9223372036854775807: want an integer in [1, 1048576]"},
		{"bad model-a", func(o *Options) { o.ModelA = "nonsense:x" }, `--model-a: model reference "nonsense:x": unknown scheme`},
		{"bad model-b option", func(o *Options) { o.ModelB = "gguf:b.gguf?ctx=0" }, `--model-b: model reference "gguf:b.gguf?ctx=0": ctx="0"`},
		{"output is model A", func(o *Options) { o.ModelA, o.Output = "gguf:a.gguf", "a.gguf" }, "-o a.gguf is also an input (--model-a)"},
		{"trials log is model B's system prompt", func(o *Options) { o.ModelB, o.TrialsLog = "gguf:a.gguf?system=s.txt", "s.txt" }, "--trials-log s.txt is also an input (--model-b)"},
		{"answers are the assistant", func(o *Options) { o.Assistant.Ref, o.Answers = "gguf:judge.gguf?threads=2", "./judge.gguf" }, "--answers ./judge.gguf is also an input (--assistant)"},
		{"budget -Inf", func(o *Options) { o.Assistant.Budget = math.Inf(-1) }, "--budget -Inf"},
		{"concurrency 0", func(o *Options) { o.Assistant.Concurrency = 0 }, "--concurrency 0"},
		{"same input twice", func(o *Options) { o.Prompts = "h.parquet" }, "--prompts h.parquet is given twice"},
		{"output is an input", func(o *Options) { o.Output = "p.parquet" }, "-o p.parquet is also an input (--prompts)"},
		{"trials log is an input", func(o *Options) { o.TrialsLog = "h.parquet" }, "--trials-log h.parquet is also an input (--hypotheses)"},
		{"trials log is the output", func(o *Options) { o.TrialsLog = "v.parquet" }, "--trials-log v.parquet is also the output of -o"},
		{"default trials log is an input", func(o *Options) { o.Hypotheses = "v.parquet.trials.jsonl" }, "--trials-log v.parquet.trials.jsonl is also an input (--hypotheses)"},
		{"answers are the output", func(o *Options) { o.Answers = "v.parquet" }, "--answers v.parquet is also the output of -o"},
		{"answers are an input", func(o *Options) { o.Answers = "p.parquet" }, "--answers p.parquet is also an input (--prompts)"},
	} {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
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
		{[]string{"--rounds", "NaN"}, "flag -rounds"},
	} {
		args := append(append(append([]string{}, refs...), small...), tc.args...)
		rc, _, stderr := clitest.Run(t, Main, dir, append(args, "-o", "x.parquet")...)
		clitest.UsageError(t, tc.args, rc, stderr, tc.want)
		clitest.Absent(t, tc.args, dir, "x.parquet", "x.parquet.trials.jsonl")
	}
}
