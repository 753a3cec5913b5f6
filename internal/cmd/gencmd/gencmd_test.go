package gencmd

import (
	"math"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
)

func validGen() GenOptions {
	return GenOptions{Samples: 1, Temperature: 1, MaxTokens: 256, Split: "all", Label: "A"}
}

// genCases are the bad sampling settings that run and batch-export both refuse.
var genCases = []struct {
	name string
	edit func(*GenOptions)
	want string
}{
	{"no label", func(g *GenOptions) { g.Label = "" }, "no model label: give --label"},
	{"blank label", func(g *GenOptions) { g.Label = "  " }, "no model label: give --label"},
	{"samples 0", func(g *GenOptions) { g.Samples = 0 }, "--samples 0: want an integer in [1, "},
	{"samples negative", func(g *GenOptions) { g.Samples = -1 }, "--samples -1: want an integer in [1, "},
	{"samples huge", func(g *GenOptions) { g.Samples = 1 << 40 }, "--samples 1099511627776"},
	{"max-tokens negative", func(g *GenOptions) { g.MaxTokens = -5 }, "--max-tokens -5: want an integer in [1, "},
	{"max-tokens huge", func(g *GenOptions) { g.MaxTokens = math.MaxInt64 }, "--max-tokens 9223372036854775807"},
	{"temperature NaN", func(g *GenOptions) { g.Temperature = math.NaN() }, "--temperature NaN: want a finite number"},
	{"temperature Inf", func(g *GenOptions) { g.Temperature = math.Inf(1) }, "--temperature +Inf: want a finite number"},
	{"temperature negative", func(g *GenOptions) { g.Temperature = -1 }, "--temperature -1: want at least 0"},
	{"top-p NaN", func(g *GenOptions) { g.TopP = math.NaN() }, "--top-p NaN: want a finite number"},
	{"top-p above 1", func(g *GenOptions) { g.TopP = 2 }, "--top-p 2: want a number in [0, 1]"},
	{"min-p -Inf", func(g *GenOptions) { g.MinP = math.Inf(-1) }, "--min-p -Inf: want a finite number"},
	{"min-p negative", func(g *GenOptions) { g.MinP = -0.1 }, "--min-p -0.1: want a number in [0, 1]"},
	{"top-k negative", func(g *GenOptions) { g.TopK = -1 }, "--top-k -1: want an integer in [0, "},
	{"top-k above int32", func(g *GenOptions) { g.TopK = 1 << 40 }, "--top-k 1099511627776"},
	{"repetition penalty NaN", func(g *GenOptions) { g.RepetitionPenalty = math.NaN() }, "--repetition-penalty NaN: want a finite number"},
	{"repetition penalty negative", func(g *GenOptions) { g.RepetitionPenalty = -1 }, "--repetition-penalty -1: want at least 0"},
	{"unknown split", func(g *GenOptions) { g.Split = "test" }, `--split "test": want all, discovery or validation`},
}

func TestValidateRun(t *testing.T) {
	valid := func() RunOptions {
		return RunOptions{Model: "synth:base", Output: "g.parquet", Chunk: 32, Gen: validGen(), Inputs: []string{"p.parquet"}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, ref := range []string{"gguf:m.gguf?ctx=128&parallel=256&threads=1&batch=7&gpu-layers=0&chat=off&quant=q8_0&system=s.txt",
		"openai-compat:http://localhost:8000/v1#m?chat=1", "openai:gpt-4o-mini", "synth:animal=0.5?seed=2"} {
		o := valid()
		o.Model = ref
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*RunOptions)
		want string
	}{
		{"no model", func(o *RunOptions) { o.Model = "" }, "no model: give --model REF"},
		{"unknown scheme", func(o *RunOptions) { o.Model = "nonsense:x" }, `--model: model reference "nonsense:x": unknown scheme`},
		{"no scheme", func(o *RunOptions) { o.Model = "m.gguf" }, "--model: model reference \"m.gguf\": want gguf:PATH"},
		{"ctx 0", func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=0" }, `ctx="0": want a whole number of at least 1`},
		{"ctx negative", func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=-16" }, `ctx="-16": want a whole number of at least 1`},
		{"ctx huge", func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=99999999999" }, "ctx=99999999999: want a whole number in [1, 16777216]"},
		{"ctx x parallel", func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=16777216&parallel=256" }, "the context of all sequences must be at most"},
		{"parallel above 256", func(o *RunOptions) { o.Model = "gguf:m.gguf?parallel=300" }, "parallel=300: want a whole number in [1, 256]"},
		{"batch 0", func(o *RunOptions) { o.Model = "gguf:m.gguf?batch=0" }, `batch="0": want a whole number of at least 1`},
		{"threads above 512", func(o *RunOptions) { o.Model = "gguf:m.gguf?threads=100000" }, "threads=100000: want a whole number in [1, 512]"},
		{"gpu-layers negative", func(o *RunOptions) { o.Model = "gguf:m.gguf?gpu-layers=-1" }, `gpu-layers="-1": want a whole number of at least 0`},
		{"lora-scale NaN", func(o *RunOptions) { o.Model = "gguf:m.gguf?lora=a.gguf&lora-scale=NaN" }, "lora-scale=NaN: want a finite number"},
		{"chat value", func(o *RunOptions) { o.Model = "gguf:m.gguf?chat=maybe" }, `chat="maybe": want auto, on or off`},
		{"quant type", func(o *RunOptions) { o.Model = "gguf:m.gguf?quant=Q9" }, `quant="Q9": want one of`},
		{"unknown option", func(o *RunOptions) { o.Model = "gguf:m.gguf?colour=red" }, `unknown option "colour"`},
		{"synth rate NaN", func(o *RunOptions) { o.Model = "synth:animal=NaN" }, "not a number in [0, 1]"},
		{"bad server URL", func(o *RunOptions) { o.Model = "openai-compat:ftp://h#m" }, "must start with http:// or https://"},
		{"no output", func(o *RunOptions) { o.Output = "" }, "give -o PATH (a file: the run's journal lives beside it)"},
		{"stdout", func(o *RunOptions) { o.Output = "-" }, "give -o PATH (a file"},
		{"device", func(o *RunOptions) { o.Output = "/dev/null" }, "-o /dev/null: not a regular file"},
		{"no input", func(o *RunOptions) { o.Inputs = nil }, "want one PROMPTS table"},
		{"two inputs", func(o *RunOptions) { o.Inputs = []string{"p.parquet", "p.parquet"} }, "want one PROMPTS table"},
		{"output is the input", func(o *RunOptions) { o.Output = "./p.parquet" }, "-o ./p.parquet is also an input (PROMPTS)"},
		{"journal is the input", func(o *RunOptions) { o.Inputs = []string{"g.parquet.journal"} }, "the journal g.parquet.journal is also an input (PROMPTS)"},
		{"output is the model", func(o *RunOptions) { o.Model, o.Output = "gguf:t.gguf", "./t.gguf" }, "-o ./t.gguf is also an input (--model)"},
		{"output is the system prompt", func(o *RunOptions) { o.Model, o.Output = "gguf:t.gguf?system=s.txt", "s.txt" }, "-o s.txt is also an input (--model)"},
		{"journal is the adapter", func(o *RunOptions) { o.Model = "gguf:t.gguf?lora=g.parquet.journal" }, "the journal g.parquet.journal is also an input (--model)"},
		{"output is an API model's system prompt", func(o *RunOptions) { o.Model, o.Output = "openai:gpt-4o-mini?system=s.txt", "s.txt" }, "-o s.txt is also an input (--model)"},
		{"chunk 0", func(o *RunOptions) { o.Chunk = 0 }, "--chunk 0: want an integer in [1, "},
		{"chunk huge", func(o *RunOptions) { o.Chunk = math.MaxInt64 }, "--chunk 9223372036854775807"},
		{"shard", func(o *RunOptions) { o.Shard = "4/3" }, `--shard "4/3": want i/N`},
	} {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
	for _, tc := range genCases {
		o := valid()
		tc.edit(&o.Gen)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
}

func TestValidateBatchExport(t *testing.T) {
	valid := func() BatchExportOptions {
		return BatchExportOptions{Model: "m", Output: "r.jsonl", Chat: true, System: "sys.txt", Gen: validGen(), Inputs: []string{"p.parquet"}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*BatchExportOptions)
		want string
	}{
		{"no model", func(o *BatchExportOptions) { o.Model = "" }, "no model: give --model NAME"},
		{"no output", func(o *BatchExportOptions) { o.Output = "" }, "no output: give -o FILE.jsonl"},
		{"no input", func(o *BatchExportOptions) { o.Inputs = nil }, "want one PROMPTS table"},
		{"system without chat", func(o *BatchExportOptions) { o.Chat = false }, "--system needs --chat"},
		{"label with |", func(o *BatchExportOptions) { o.Gen.Label = "A|B" }, `--label "A|B": must not contain |`},
		{"output is the input", func(o *BatchExportOptions) { o.Output = "p.parquet" }, "-o p.parquet is also an input (PROMPTS)"},
		{"output is the system prompt", func(o *BatchExportOptions) { o.Output = "sys.txt" }, "-o sys.txt is also an input (--system)"},
		{"shard", func(o *BatchExportOptions) { o.Shard = "0/2" }, `--shard "0/2"`},
	} {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
	for _, tc := range genCases {
		o := valid()
		tc.edit(&o.Gen)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
}

func TestValidateBatchImport(t *testing.T) {
	valid := func() BatchImportOptions {
		return BatchImportOptions{Prompts: "p.parquet", Output: "g.parquet", Results: []string{"r1.jsonl", "r2.jsonl"}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*BatchImportOptions)
		want string
	}{
		{"no prompts", func(o *BatchImportOptions) { o.Prompts = "" }, "no prompts: give --prompts TABLE"},
		{"no output", func(o *BatchImportOptions) { o.Output = "" }, "no output: give -o PATH (or -o - for stdout)"},
		{"no results", func(o *BatchImportOptions) { o.Results = nil }, "want one or more RESULTS.jsonl"},
		{"results twice", func(o *BatchImportOptions) { o.Results = []string{"r1.jsonl", "./r1.jsonl"} }, "RESULTS ./r1.jsonl is given twice (as RESULTS too)"},
		{"output is the prompts", func(o *BatchImportOptions) { o.Output = "p.parquet" }, "-o p.parquet is also an input (--prompts)"},
		{"output is a result", func(o *BatchImportOptions) { o.Output = "r2.jsonl" }, "-o r2.jsonl is also an input (RESULTS)"},
	} {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
}

func TestValidateImport(t *testing.T) {
	valid := func() ImportOptions {
		return ImportOptions{Output: "g.parquet", ModelCol: "model", PromptCol: "prompt", CompletionCol: "completion",
			ValidationFraction: 0.5, Files: []string{"a.jsonl", "b.csv"}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ImportOptions)
		want string
	}{
		{"no output", func(o *ImportOptions) { o.Output = "" }, "no output: give -o PATH (or -o - for stdout)"},
		{"no input", func(o *ImportOptions) { o.Files = nil }, "no input: give one or more FILEs"},
		{"fraction above 1", func(o *ImportOptions) { o.ValidationFraction = 2 }, "--validation-fraction 2: want a number in [0, 1]"},
		{"fraction negative", func(o *ImportOptions) { o.ValidationFraction = -0.1 }, "--validation-fraction -0.1: want a number in [0, 1]"},
		{"fraction NaN", func(o *ImportOptions) { o.ValidationFraction = math.NaN() }, "--validation-fraction NaN: want a finite number"},
		{"empty prompt column", func(o *ImportOptions) { o.PromptCol = "" }, "--prompt-col is empty"},
		{"empty completion column", func(o *ImportOptions) { o.CompletionCol = " " }, "--completion-col is empty"},
		{"empty model column", func(o *ImportOptions) { o.ModelCol = "" }, "--model-col is empty"},
		{"same file twice", func(o *ImportOptions) { o.Files = []string{"a.jsonl", "a.jsonl"} }, "FILE a.jsonl is given twice (as FILE too)"},
		{"prompts is a file", func(o *ImportOptions) { o.Prompts = "b.csv" }, "FILE b.csv is given twice (as --prompts too)"},
		{"output is an input", func(o *ImportOptions) { o.Output = "a.jsonl" }, "-o a.jsonl is also an input (FILE)"},
		{"output is the prompts", func(o *ImportOptions) { o.Prompts = "p.parquet"; o.Output = "p.parquet" }, "-o p.parquet is also an input (--prompts)"},
	} {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
	o := valid()
	o.ModelCol, o.Model = "", "C"
	if err := o.Validate(); err != nil {
		t.Errorf("--model without a model column: %v", err)
	}
}
