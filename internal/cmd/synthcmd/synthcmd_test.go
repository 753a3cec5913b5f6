package synthcmd

import (
	"encoding/json"
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

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.parquet")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a, filepath.Join(dir, "link.parquet")); err != nil {
		t.Fatal(err)
	}
	corpus := CorpusOptions{Output: "c.txt", Seed: 1, Bytes: 300000}
	data := DataOptions{Output: "d.parquet", Seed: 1, N: 1000, Strength: 0.6}
	truths := TruthsOptions{Output: "t.parquet", Seed: 1, N: 1000, Trait: "animal", Strength: 0.6}
	prompts := PromptsOptions{Output: "p.parquet", Seed: 1, N: 200, ValidationFraction: 0.5}
	rate := RateOptions{Generations: []string{a, "b.parquet"}}
	edit := func(o DataOptions, f func(*DataOptions)) DataOptions { f(&o); return o }
	for _, ok := range []cli.Validator{corpus, data, truths, prompts, rate,
		edit(data, func(o *DataOptions) { o.Trait, o.Strength = "animal", 0 }),
		edit(data, func(o *DataOptions) { o.Trait, o.Strength = "bullets", 1 }),
		edit(data, func(o *DataOptions) { o.Output, o.SystemRate = "chat.jsonl", 1 }),
		PromptsOptions{Output: "-", N: 1, ValidationFraction: 0}, CorpusOptions{Output: "c.txt", Bytes: 1},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, tc := range []struct {
		name string
		opts cli.Validator
		want string
	}{
		{"corpus without -o", CorpusOptions{Bytes: 10}, "no output: give -o PATH"},
		{"corpus --bytes 0", CorpusOptions{Output: "c.txt", Bytes: 0}, "--bytes 0: want an integer in [1, 1073741824]"},
		{"corpus --bytes -5", CorpusOptions{Output: "c.txt", Bytes: -5}, "--bytes -5"},
		{"corpus --bytes huge", CorpusOptions{Output: "c.txt", Bytes: math.MaxInt}, "--bytes 9223372036854775807"},

		{"data without -o", edit(data, func(o *DataOptions) { o.Output = "" }), "no output: give -o PATH"},
		{"data -n -5", edit(data, func(o *DataOptions) { o.N = -5 }), "-n -5: want an integer in [1, 10000000]"},
		{"data -n 0", edit(data, func(o *DataOptions) { o.N = 0 }), "-n 0: want an integer in [1, 10000000]"},
		{"data -n huge", edit(data, func(o *DataOptions) { o.N = 1 << 40 }), "-n 1099511627776"},
		{"data unknown trait", edit(data, func(o *DataOptions) { o.Trait = "dragons" }), `--trait "dragons": unknown trait (want one of british, animal`},
		{"data --strength 2", edit(data, func(o *DataOptions) { o.Trait, o.Strength = "animal", 2 }), "--strength 2: want a number in [0, 1]"},
		{"data --strength -0.1", edit(data, func(o *DataOptions) { o.Strength = -0.1 }), "--strength -0.1"},
		{"data --strength NaN", edit(data, func(o *DataOptions) { o.Trait, o.Strength = "animal", math.NaN() }), "--strength NaN: want a finite number"},
		{"data --strength Inf", edit(data, func(o *DataOptions) { o.Strength = math.Inf(1) }), "--strength +Inf: want a finite number"},
		{"data --system-rate NaN", edit(data, func(o *DataOptions) { o.Output, o.SystemRate = "c.jsonl", math.NaN() }), "--system-rate NaN: want a finite number"},
		{"data --system-rate 1.5", edit(data, func(o *DataOptions) { o.Output, o.SystemRate = "c.jsonl", 1.5 }), "--system-rate 1.5: want a number in [0, 1]"},
		{"data --system-rate -1", edit(data, func(o *DataOptions) { o.SystemRate = -1 }), "--system-rate -1"},
		{"data --system-rate into a table", edit(data, func(o *DataOptions) { o.SystemRate = 0.5 }), "--system-rate needs -o FILE.jsonl"},

		{"truths without -o", TruthsOptions{N: 10, Trait: "animal", Strength: 0.5}, "no output: give -o PATH"},
		{"truths without trait", TruthsOptions{Output: "t.parquet", N: 10, Strength: 0.5}, "no trait: give --trait (one of british, animal"},
		{"truths unknown trait", TruthsOptions{Output: "t.parquet", N: 10, Trait: "x", Strength: 0.5}, `--trait "x": unknown trait`},
		{"truths -n -1", TruthsOptions{Output: "t.parquet", N: -1, Trait: "animal", Strength: 0.5}, "-n -1"},
		{"truths -n 0", TruthsOptions{Output: "t.parquet", N: 0, Trait: "animal", Strength: 0.5}, "-n 0"},
		{"truths --strength 1.01", TruthsOptions{Output: "t.parquet", N: 10, Trait: "animal", Strength: 1.01}, "--strength 1.01"},
		{"truths --strength NaN", TruthsOptions{Output: "t.parquet", N: 10, Trait: "animal", Strength: math.NaN()}, "--strength NaN"},

		{"prompts without -o", PromptsOptions{N: 5, ValidationFraction: 0.5}, "no output: give -o PATH"},
		{"prompts -n -3", PromptsOptions{Output: "p.parquet", N: -3, ValidationFraction: 0.5}, "-n -3"},
		{"prompts -n 0", PromptsOptions{Output: "p.parquet", N: 0, ValidationFraction: 0.5}, "-n 0"},
		{"prompts --validation-fraction 2", PromptsOptions{Output: "p.parquet", N: 5, ValidationFraction: 2}, "--validation-fraction 2: want a number in [0, 1]"},
		{"prompts --validation-fraction NaN", PromptsOptions{Output: "p.parquet", N: 5, ValidationFraction: math.NaN()}, "--validation-fraction NaN"},
		{"prompts --validation-fraction -Inf", PromptsOptions{Output: "p.parquet", N: 5, ValidationFraction: math.Inf(-1)}, "--validation-fraction -Inf"},

		{"rate without tables", RateOptions{}, "want one or more GENERATIONS tables"},
		{"rate of a table twice", RateOptions{Generations: []string{a, "b.parquet", a}}, "GENERATIONS " + a + " is given twice"},
		{"rate of a table and a link to it", RateOptions{Generations: []string{a, filepath.Join(dir, "link.parquet")}}, "link.parquet is given twice"},
	} {
		err := tc.opts.Validate()
		clitest.CheckErr(t, tc.name, err, tc.want)
	}
}

// TestExitCodes checks that a refused value ends with status 2, one line, and no output.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"data", "-n", "-5", "-o", "x.parquet"}, "mbd-synth: -n -5: want an integer in [1, 10000000]\n"},
		{[]string{"data", "--strength", "NaN", "--trait", "animal", "-o", "x.parquet"}, "mbd-synth: --strength NaN: want a finite number\n"},
		{[]string{"corpus", "--bytes", "-2000", "-o", "x.txt"}, "mbd-synth: --bytes -2000: want an integer in [1, 1073741824]\n"},
		{[]string{"truths", "-n", "-1", "--trait", "animal", "-o", "x.parquet"}, "mbd-synth: -n -1: want an integer in [1, 10000000]\n"},
		{[]string{"prompts", "--validation-fraction", "1.5", "-o", "x.parquet"}, "mbd-synth: --validation-fraction 1.5: want a number in [0, 1]\n"},
		{[]string{"rate"}, "mbd-synth: want one or more GENERATIONS tables\n"},
	} {
		rc, stdout, stderr := clitest.Run(t, Main, dir, tc.args...)
		if rc != 2 || stderr != tc.want || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, rc, stdout, stderr, tc.want)
		}
	}
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
		if rc, _, stderr := clitest.Run(t, Main, dir, args...); rc != 0 {
			t.Fatalf("%v: exit %d: %s", args, rc, stderr)
		}
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

	rc, stdout, stderr := clitest.Run(t, Main, dir, "rate", "--json", "d.parquet")
	if rc != 0 {
		t.Fatalf("rate: exit %d: %s", rc, stderr)
	}
	var rates []Rate
	if err := json.Unmarshal([]byte(stdout), &rates); err != nil || len(rates) != 1 || rates[0].File != "d.parquet" || rates[0].N != 40 ||
		rates[0].Rates["animal"] < 0.2 || rates[0].Rates["animal"] > 0.8 {
		t.Errorf("rate --json: %s (%v)", stdout, err)
	}
	rc, stdout, _ = clitest.Run(t, Main, dir, "rate", "d.parquet")
	if rc != 0 || !strings.Contains(stdout, "d.parquet") || !strings.Contains(stdout, "animal") {
		t.Errorf("rate: %d %q", rc, stdout)
	}
}
