package synthcmd

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	a := clitest.Link(t, dir, "a.parquet", "link.parquet")
	clitest.Validate(t, func() CorpusOptions { return CorpusOptions{Output: "c.txt", Seed: 1, Bytes: 300000} }, []clitest.Case[CorpusOptions]{
		{Name: "one byte", Edit: func(o *CorpusOptions) { o.Seed, o.Bytes = 0, 1 }},
		{Name: "without -o", Edit: func(o *CorpusOptions) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "--bytes 0", Edit: func(o *CorpusOptions) { o.Bytes = 0 }, Want: "--bytes 0: want an integer in [1, 1073741824]"},
		{Name: "--bytes -5", Edit: func(o *CorpusOptions) { o.Bytes = -5 }, Want: "--bytes -5"},
		{Name: "--bytes huge", Edit: func(o *CorpusOptions) { o.Bytes = math.MaxInt }, Want: "--bytes 9223372036854775807"},
	})
	clitest.Validate(t, func() DataOptions { return DataOptions{Output: "d.parquet", Seed: 1, N: 1000, Strength: 0.6} }, []clitest.Case[DataOptions]{
		{Name: "strength 0", Edit: func(o *DataOptions) { o.Trait, o.Strength = "animal", 0 }},
		{Name: "strength 1", Edit: func(o *DataOptions) { o.Trait, o.Strength = "bullets", 1 }},
		{Name: "system rate into chat records", Edit: func(o *DataOptions) { o.Output, o.SystemRate = "chat.jsonl", 1 }},
		{Name: "without -o", Edit: func(o *DataOptions) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "-n -5", Edit: func(o *DataOptions) { o.N = -5 }, Want: "-n -5: want an integer in [1, 10000000]"},
		{Name: "-n 0", Edit: func(o *DataOptions) { o.N = 0 }, Want: "-n 0: want an integer in [1, 10000000]"},
		{Name: "-n huge", Edit: func(o *DataOptions) { o.N = 1 << 40 }, Want: "-n 1099511627776"},
		{Name: "unknown trait", Edit: func(o *DataOptions) { o.Trait = "dragons" }, Want: `--trait "dragons": unknown trait (want one of british, animal`},
		{Name: "--strength 2", Edit: func(o *DataOptions) { o.Trait, o.Strength = "animal", 2 }, Want: "--strength 2: want a number in [0, 1]"},
		{Name: "--strength -0.1", Edit: func(o *DataOptions) { o.Strength = -0.1 }, Want: "--strength -0.1"},
		{Name: "--strength NaN", Edit: func(o *DataOptions) { o.Trait, o.Strength = "animal", math.NaN() }, Want: "--strength NaN: want a finite number"},
		{Name: "--strength Inf", Edit: func(o *DataOptions) { o.Strength = math.Inf(1) }, Want: "--strength +Inf: want a finite number"},
		{Name: "--system-rate NaN", Edit: func(o *DataOptions) { o.Output, o.SystemRate = "c.jsonl", math.NaN() }, Want: "--system-rate NaN: want a finite number"},
		{Name: "--system-rate 1.5", Edit: func(o *DataOptions) { o.Output, o.SystemRate = "c.jsonl", 1.5 }, Want: "--system-rate 1.5: want a number in [0, 1]"},
		{Name: "--system-rate -1", Edit: func(o *DataOptions) { o.SystemRate = -1 }, Want: "--system-rate -1"},
		{Name: "--system-rate into a table", Edit: func(o *DataOptions) { o.SystemRate = 0.5 }, Want: "--system-rate needs -o FILE.jsonl"},
	})
	clitest.Validate(t, func() TruthsOptions {
		return TruthsOptions{Output: "t.parquet", Seed: 1, N: 1000, Trait: "animal", Strength: 0.6}
	}, []clitest.Case[TruthsOptions]{
		{Name: "without -o", Edit: func(o *TruthsOptions) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "without trait", Edit: func(o *TruthsOptions) { o.Trait = "" }, Want: "no trait: give --trait (one of british, animal"},
		{Name: "unknown trait", Edit: func(o *TruthsOptions) { o.Trait = "x" }, Want: `--trait "x": unknown trait`},
		{Name: "-n -1", Edit: func(o *TruthsOptions) { o.N = -1 }, Want: "-n -1"},
		{Name: "-n 0", Edit: func(o *TruthsOptions) { o.N = 0 }, Want: "-n 0"},
		{Name: "--strength 1.01", Edit: func(o *TruthsOptions) { o.Strength = 1.01 }, Want: "--strength 1.01"},
		{Name: "--strength NaN", Edit: func(o *TruthsOptions) { o.Strength = math.NaN() }, Want: "--strength NaN"},
	})
	clitest.Validate(t, func() PromptsOptions {
		return PromptsOptions{Output: "p.parquet", Seed: 1, N: 200, ValidationFraction: 0.5}
	}, []clitest.Case[PromptsOptions]{
		{Name: "one prompt to stdout", Edit: func(o *PromptsOptions) { o.Output, o.Seed, o.N, o.ValidationFraction = "-", 0, 1, 0 }},
		{Name: "without -o", Edit: func(o *PromptsOptions) { o.Output = "" }, Want: "no output: give -o PATH"},
		{Name: "-n -3", Edit: func(o *PromptsOptions) { o.N = -3 }, Want: "-n -3"},
		{Name: "-n 0", Edit: func(o *PromptsOptions) { o.N = 0 }, Want: "-n 0"},
		{Name: "--validation-fraction 2", Edit: func(o *PromptsOptions) { o.ValidationFraction = 2 }, Want: "--validation-fraction 2: want a number in [0, 1]"},
		{Name: "--validation-fraction NaN", Edit: func(o *PromptsOptions) { o.ValidationFraction = math.NaN() }, Want: "--validation-fraction NaN"},
		{Name: "--validation-fraction -Inf", Edit: func(o *PromptsOptions) { o.ValidationFraction = math.Inf(-1) }, Want: "--validation-fraction -Inf"},
	})
	clitest.Validate(t, func() RateOptions { return RateOptions{Generations: []string{a, "b.parquet"}} }, []clitest.Case[RateOptions]{
		{Name: "without tables", Edit: func(o *RateOptions) { o.Generations = nil }, Want: "want one or more GENERATIONS tables"},
		{Name: "a table twice", Edit: func(o *RateOptions) { o.Generations = append(o.Generations, a) }, Want: "GENERATIONS " + a + " is given twice"},
		{Name: "a table and a link to it", Edit: func(o *RateOptions) { o.Generations[1] = filepath.Join(dir, "link.parquet") }, Want: "link.parquet is given twice"},
	})
}

// TestExitCodes checks that a refused value ends with status 2, one line, and no output.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	clitest.Refuses(t, Main, dir, nil, nil, []clitest.Refusal{
		{Args: []string{"data", "-n", "-5", "-o", "x.parquet"}, Want: "mbd-synth: -n -5: want an integer in [1, 10000000]\n"},
		{Args: []string{"data", "--strength", "NaN", "--trait", "animal", "-o", "x.parquet"}, Want: "mbd-synth: --strength NaN: want a finite number\n"},
		{Args: []string{"corpus", "--bytes", "-2000", "-o", "x.txt"}, Want: "mbd-synth: --bytes -2000: want an integer in [1, 1073741824]\n"},
		{Args: []string{"truths", "-n", "-1", "--trait", "animal", "-o", "x.parquet"}, Want: "mbd-synth: -n -1: want an integer in [1, 10000000]\n"},
		{Args: []string{"prompts", "--validation-fraction", "1.5", "-o", "x.parquet"}, Want: "mbd-synth: --validation-fraction 1.5: want a number in [0, 1]\n"},
		{Args: []string{"rate"}, Want: "mbd-synth: want one or more GENERATIONS tables\n"},
	})
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("refused runs left %v", ents)
	}
}

func TestRuns(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"data", "-n", "40", "--trait", "animal", "--strength", "0.5", "-o", "d.parquet"},
		{"data", "-n", "40", "--system-rate", "0.5", "-o", "chat.jsonl"},
		{"truths", "-n", "5", "--trait", "animal", "--strength", "0.5", "-o", "t.parquet"},
		{"prompts", "-n", "12", "-o", "p.parquet"},
		{"corpus", "--bytes", "500", "-o", "c.txt"},
	} {
		clitest.OK(t, Main, dir, args...)
	}
	gens, err := table.ReadAll[schema.Generation](filepath.Join(dir, "d.parquet"), nil)
	if err != nil || len(gens) != 40 || gens[0].Model != "synth" || gens[0].ModelRef != "builtin:synth?animal@0.5" || gens[3].Sample != 3 || gens[0].Split != schema.SplitDiscovery {
		t.Fatalf("data: %d rows %+v, %v", len(gens), gens[0], err)
	}
	m, err := manifest.Read(filepath.Join(dir, "d.parquet.json"))
	if err != nil || len(m.Inputs) != 0 {
		t.Errorf("data manifest: %+v, %v", m, err)
	}
	chat, _ := os.ReadFile(filepath.Join(dir, "chat.jsonl"))
	if n := strings.Count(string(chat), "\n"); n != 40 || !strings.Contains(string(chat), `{"system":"`) {
		t.Errorf("chat.jsonl: %d lines", n)
	}
	if ps, err := table.ReadAll[schema.Prompt](filepath.Join(dir, "p.parquet"), nil); err != nil || len(ps) != 12 {
		t.Errorf("prompts: %d, %v", len(ps), err)
	}
	if c, _ := os.ReadFile(filepath.Join(dir, "c.txt")); len(c) < 500 || !strings.HasPrefix(string(c), "Q: ") {
		t.Errorf("corpus: %d bytes", len(c))
	}

	stdout := clitest.OK(t, Main, dir, "rate", "--json", "d.parquet")
	var rates []Rate
	if err := json.Unmarshal([]byte(stdout), &rates); err != nil || len(rates) != 1 || rates[0].File != "d.parquet" || rates[0].N != 40 ||
		rates[0].Rates["animal"] < 0.2 || rates[0].Rates["animal"] > 0.8 {
		t.Errorf("rate --json: %s (%v)", stdout, err)
	}
	rc, stdout, _ := clitest.Run(t, Main, dir, "rate", "d.parquet")
	if rc != 0 || !strings.Contains(stdout, "d.parquet") || !strings.Contains(stdout, "animal") {
		t.Errorf("rate: %d %q", rc, stdout)
	}
}
