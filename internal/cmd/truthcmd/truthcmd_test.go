package truthcmd

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
)

var builtin = cli.Assistant{Ref: "builtin", Concurrency: 4}

func TestValidateMake(t *testing.T) {
	valid := func() MakeOptions {
		return MakeOptions{Output: "t.parquet", N: 5, M: 100, Strength: 0.6, Seed: 7, Traits: []string{"animal"}, Assistant: builtin}
	}
	clitest.Validate(t, valid, []clitest.Case[MakeOptions]{
		{Name: "no output", Edit: func(o *MakeOptions) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "n 0", Edit: func(o *MakeOptions) { o.N = 0 }, Want: "-n 0: want at least 1"},
		{Name: "m negative", Edit: func(o *MakeOptions) { o.M = -5 }, Want: "-m -5: want at least 1"},
		{Name: "strength above 1", Edit: func(o *MakeOptions) { o.Strength = 1.5 }, Want: "--strength 1.5: want a number in [0, 1]"},
		{Name: "strength NaN", Edit: func(o *MakeOptions) { o.Strength = math.NaN() }, Want: "--strength NaN: want a finite number"},
		{Name: "unknown trait", Edit: func(o *MakeOptions) { o.Traits = []string{"animal", "wings"} }, Want: `--trait "wings": unknown trait`},
		{Name: "budget NaN", Edit: func(o *MakeOptions) { o.Assistant.Budget = math.NaN() }, Want: "--budget NaN"},
		{Name: "rpm negative", Edit: func(o *MakeOptions) { o.Assistant.RequestsPerMinute = -1 }, Want: "--rpm -1"},
	})
}

func TestValidateScore(t *testing.T) {
	valid := func() ScoreOptions {
		return ScoreOptions{Output: "r.parquet", Truths: "t.parquet", Hypotheses: "h.parquet", Validations: "v.parquet", Reference: "a.parquet", Assistant: builtin}
	}
	clitest.Validate(t, valid, []clitest.Case[ScoreOptions]{
		{Name: "no output", Edit: func(o *ScoreOptions) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "no truths", Edit: func(o *ScoreOptions) { o.Truths = "" }, Want: "give --truths, --hypotheses and --validations"},
		{Name: "offline without reference", Edit: func(o *ScoreOptions) { o.Reference = "" }, Want: "needs --reference"},
		{Name: "threshold negative", Edit: func(o *ScoreOptions) { o.Threshold = -3 }, Want: "--threshold -3: want a number in [0, 1]"},
		{Name: "threshold above 1", Edit: func(o *ScoreOptions) { o.Threshold = 2 }, Want: "--threshold 2"},
		{Name: "threshold NaN", Edit: func(o *ScoreOptions) { o.Threshold = math.NaN() }, Want: "--threshold NaN: want a finite number"},
		{Name: "concurrency negative", Edit: func(o *ScoreOptions) { o.Assistant.Concurrency = -1 }, Want: "--concurrency -1"},
		{Name: "same input twice", Edit: func(o *ScoreOptions) { o.Validations = "h.parquet" }, Want: "--validations h.parquet is given twice"},
		{Name: "output is an input", Edit: func(o *ScoreOptions) { o.Output = "t.parquet" }, Want: "-o t.parquet is also an input (--truths)"},
		{Name: "output is the reference", Edit: func(o *ScoreOptions) { o.Output = "a.parquet" }, Want: "-o a.parquet is also an input (--reference)"},
	})
	// An LLM rubric needs no reference.
	o := valid()
	o.Reference, o.Assistant.Ref = "", "openai:gpt-4o-mini"
	if err := o.Validate(); err != nil {
		t.Errorf("LLM without reference: %v", err)
	}
}

func fixture(t *testing.T) string {
	dir := t.TempDir()
	var ref []schema.Generation
	for i := range 20 {
		ref = append(ref, schema.Generation{ID: fmt.Sprint("a", i), Model: "A", Split: schema.SplitDiscovery, Completion: fmt.Sprintf("Rinse the rice %d times.", i)})
	}
	clitest.Write(t, filepath.Join(dir, "a.parquet"), ref...)
	clitest.Write(t, filepath.Join(dir, "h.parquet"),
		schema.Hypothesis{ID: "h1", Text: "B mentions otters", Property: "contains 'otter'", Direction: schema.DirectionBA},
		schema.Hypothesis{ID: "h2", Text: "B is terse", Property: "contains 'terse'", Direction: schema.DirectionBA})
	clitest.Write(t, filepath.Join(dir, "v.parquet"),
		schema.Validation{HypothesisID: "h1", Method: schema.MethodDiscriminative, Verdict: schema.VerdictValidated},
		schema.Validation{HypothesisID: "h2", Method: schema.MethodDiscriminative, Verdict: schema.VerdictRejected})
	return dir
}

// TestManifestInputs runs make and score and checks that score's manifest records every input
// table with its SHA-256 (make reads none).
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	clitest.OK(t, Main, dir, "make", "--trait", "animal", "-m", "50", "-o", "t.parquet")
	m, err := manifest.Read(filepath.Join(dir, "t.parquet.json"))
	if err != nil || len(m.Inputs) != 0 {
		t.Fatalf("make's manifest: %v, inputs %+v", err, m)
	}
	stdout := clitest.OK(t, Main, dir, "score", "--truths", "t.parquet", "--hypotheses", "h.parquet", "--validations", "v.parquet", "--reference", "a.parquet", "-o", "r.parquet")
	if !strings.HasPrefix(stdout, "recall 1/1, precision 1/1 (lexical-agreement, threshold 0.5)") {
		t.Errorf("score: %s", stdout)
	}
	clitest.TableInputs(t, "r.parquet.json", dir, "t.parquet", "h.parquet", "v.parquet", "a.parquet")
}

// TestExitCodes checks that bad input ends with status 2 and one line naming the problem.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	clitest.Write(t, filepath.Join(dir, "t.parquet"), schema.Truth{ID: "t1", Behavior: "mentions otters", Texts: []string{"Q: q\nA: an otter"}})
	score := []string{"score", "--truths", "t.parquet", "--hypotheses", "h.parquet", "--validations", "v.parquet"}
	clitest.Refuses(t, Main, dir, nil, []string{"x.parquet"}, []clitest.Refusal{
		{Args: []string{"make", "--assistant", "nonsense:x", "-o", "x.parquet"}, Want: "nonsense"},
		{Args: []string{"make", "--trait", "wings", "-o", "x.parquet"}, Want: "unknown trait"},
		{Args: []string{"make", "-m", "0", "-o", "x.parquet"}, Want: "-m 0: want at least 1"},
		{Args: append(score, "--assistant", "nonsense:x", "-o", "x.parquet"), Want: "nonsense"},
		{Args: append(score, "--reference", "a.parquet", "--threshold", "-3", "-o", "x.parquet"), Want: "--threshold -3: want a number in [0, 1]"},
		{Args: append(score, "--reference", "a.parquet", "-o", "h.parquet"), Want: "-o h.parquet is also an input (--hypotheses)"},
	})
}
