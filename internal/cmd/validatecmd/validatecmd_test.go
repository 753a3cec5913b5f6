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
		Methods: "discriminative,generative,interactive", MaxPairs: 0, Samples: 1, JudgeBatch: 1, Exemplars: 20, Trials: 20, Rounds: 3, Alpha: 0.05,
		Correction: "bh", MinValid: 5, Temperature: 0.7, MaxTokens: 256, Seed: 1, Assistant: cli.Assistant{Ref: "builtin", Concurrency: 4}}
}

func TestValidate(t *testing.T) {
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "no output: give -o"},
		{Name: "no hypotheses", Edit: func(o *Options) { o.Hypotheses = "" }, Want: "give --hypotheses and --prompts"},
		{Name: "no model", Edit: func(o *Options) { o.ModelB = "" }, Want: "give --model-a and --model-b"},
		{Name: "unknown method", Edit: func(o *Options) { o.Methods = "discriminative,vibes" }, Want: `--methods: unknown test "vibes"`},
		{Name: "unknown correction", Edit: func(o *Options) { o.Correction = "bonferroni" }, Want: `--correction "bonferroni"`},
		{Name: "alpha 2", Edit: func(o *Options) { o.Alpha = 2 }, Want: "--alpha 2: want a number in (0, 1)"},
		{Name: "alpha 0", Edit: func(o *Options) { o.Alpha = 0 }, Want: "--alpha 0: want a number in (0, 1)"},
		{Name: "alpha NaN", Edit: func(o *Options) { o.Alpha = math.NaN() }, Want: "--alpha NaN: want a finite number"},
		{Name: "negative pairs", Edit: func(o *Options) { o.MaxPairs = -1 }, Want: "--max-pairs -1"},
		{Name: "no samples", Edit: func(o *Options) { o.Samples = 0 }, Want: "--samples-per-prompt 0"},
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
