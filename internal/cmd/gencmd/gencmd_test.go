package gencmd

import (
	"math"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
)

func validGen() GenOptions {
	return GenOptions{Samples: 1, Temperature: 1, MaxTokens: 256, Split: "all", Label: "A"}
}

// withGen lifts genCases to options O whose sampling settings gen returns.
func withGen[O any](gen func(*O) *GenOptions) []clitest.Case[O] {
	cases := make([]clitest.Case[O], len(genCases))
	for i, c := range genCases {
		cases[i] = clitest.Case[O]{Name: c.Name, Edit: func(o *O) { c.Edit(gen(o)) }, Want: c.Want}
	}
	return cases
}

// genCases are the bad sampling settings that run and batch-export both refuse.
var genCases = []clitest.Case[GenOptions]{
	{Name: "no label", Edit: func(g *GenOptions) { g.Label = "" }, Want: "no model label: give --label"},
	{Name: "blank label", Edit: func(g *GenOptions) { g.Label = "  " }, Want: "no model label: give --label"},
	{Name: "samples 0", Edit: func(g *GenOptions) { g.Samples = 0 }, Want: "--samples 0: want an integer in [1, "},
	{Name: "samples negative", Edit: func(g *GenOptions) { g.Samples = -1 }, Want: "--samples -1: want an integer in [1, "},
	{Name: "samples huge", Edit: func(g *GenOptions) { g.Samples = 1 << 40 }, Want: "--samples 1099511627776"},
	{Name: "max-tokens negative", Edit: func(g *GenOptions) { g.MaxTokens = -5 }, Want: "--max-tokens -5: want an integer in [1, "},
	{Name: "max-tokens huge", Edit: func(g *GenOptions) { g.MaxTokens = math.MaxInt64 }, Want: "--max-tokens 9223372036854775807"},
	{Name: "temperature NaN", Edit: func(g *GenOptions) { g.Temperature = math.NaN() }, Want: "--temperature NaN: want a finite number"},
	{Name: "temperature Inf", Edit: func(g *GenOptions) { g.Temperature = math.Inf(1) }, Want: "--temperature +Inf: want a finite number"},
	{Name: "temperature negative", Edit: func(g *GenOptions) { g.Temperature = -1 }, Want: "--temperature -1: want at least 0"},
	{Name: "top-p NaN", Edit: func(g *GenOptions) { g.TopP = math.NaN() }, Want: "--top-p NaN: want a finite number"},
	{Name: "top-p above 1", Edit: func(g *GenOptions) { g.TopP = 2 }, Want: "--top-p 2: want a number in [0, 1]"},
	{Name: "min-p -Inf", Edit: func(g *GenOptions) { g.MinP = math.Inf(-1) }, Want: "--min-p -Inf: want a finite number"},
	{Name: "min-p negative", Edit: func(g *GenOptions) { g.MinP = -0.1 }, Want: "--min-p -0.1: want a number in [0, 1]"},
	{Name: "top-k negative", Edit: func(g *GenOptions) { g.TopK = -1 }, Want: "--top-k -1: want an integer in [0, "},
	{Name: "top-k above int32", Edit: func(g *GenOptions) { g.TopK = 1 << 40 }, Want: "--top-k 1099511627776"},
	{Name: "repetition penalty NaN", Edit: func(g *GenOptions) { g.RepetitionPenalty = math.NaN() }, Want: "--repetition-penalty NaN: want a finite number"},
	{Name: "repetition penalty negative", Edit: func(g *GenOptions) { g.RepetitionPenalty = -1 }, Want: "--repetition-penalty -1: want at least 0"},
	{Name: "unknown split", Edit: func(g *GenOptions) { g.Split = "test" }, Want: `--split "test": want all, discovery or validation`},
}

func TestValidateRun(t *testing.T) {
	valid := func() RunOptions {
		return RunOptions{Model: "synth:base", Output: "g.parquet", Chunk: 32, Gen: validGen(), Inputs: []string{"p.parquet"}}
	}
	for _, ref := range []string{"gguf:m.gguf?ctx=128&parallel=256&threads=1&batch=7&gpu-layers=0&chat=off&quant=q8_0&system=s.txt",
		"openai-compat:http://localhost:8000/v1#m?chat=1", "openai:gpt-4o-mini", "synth:animal=0.5?seed=2"} {
		o := valid()
		o.Model = ref
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	clitest.Validate(t, valid, []clitest.Case[RunOptions]{
		{Name: "no model", Edit: func(o *RunOptions) { o.Model = "" }, Want: "no model: give --model REF"},
		{Name: "unknown scheme", Edit: func(o *RunOptions) { o.Model = "nonsense:x" }, Want: `--model: model reference "nonsense:x": unknown scheme`},
		{Name: "no scheme", Edit: func(o *RunOptions) { o.Model = "m.gguf" }, Want: "--model: model reference \"m.gguf\": want gguf:PATH"},
		{Name: "ctx 0", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=0" }, Want: `ctx="0": want a whole number of at least 1`},
		{Name: "ctx negative", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=-16" }, Want: `ctx="-16": want a whole number of at least 1`},
		{Name: "ctx huge", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=99999999999" }, Want: "ctx=99999999999: want a whole number in [1, 16777216]"},
		{Name: "ctx x parallel", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?ctx=16777216&parallel=256" }, Want: "the context of all sequences must be at most"},
		{Name: "parallel above 256", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?parallel=300" }, Want: "parallel=300: want a whole number in [1, 256]"},
		{Name: "batch 0", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?batch=0" }, Want: `batch="0": want a whole number of at least 1`},
		{Name: "threads above 512", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?threads=100000" }, Want: "threads=100000: want a whole number in [1, 512]"},
		{Name: "gpu-layers negative", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?gpu-layers=-1" }, Want: `gpu-layers="-1": want a whole number of at least 0`},
		{Name: "lora-scale NaN", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?lora=a.gguf&lora-scale=NaN" }, Want: "lora-scale=NaN: want a finite number"},
		{Name: "chat value", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?chat=maybe" }, Want: `chat="maybe": want auto, on or off`},
		{Name: "quant type", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?quant=Q9" }, Want: `quant="Q9": want one of`},
		{Name: "unknown option", Edit: func(o *RunOptions) { o.Model = "gguf:m.gguf?colour=red" }, Want: `unknown option "colour"`},
		{Name: "synth rate NaN", Edit: func(o *RunOptions) { o.Model = "synth:animal=NaN" }, Want: "not a number in [0, 1]"},
		{Name: "bad server URL", Edit: func(o *RunOptions) { o.Model = "openai-compat:ftp://h#m" }, Want: "must start with http:// or https://"},
		{Name: "no output", Edit: func(o *RunOptions) { o.Output = "" }, Want: "give -o PATH (a file: the run's journal lives beside it)"},
		{Name: "stdout", Edit: func(o *RunOptions) { o.Output = "-" }, Want: "give -o PATH (a file"},
		{Name: "device", Edit: func(o *RunOptions) { o.Output = "/dev/null" }, Want: "-o /dev/null: not a regular file"},
		{Name: "no input", Edit: func(o *RunOptions) { o.Inputs = nil }, Want: "want one PROMPTS table"},
		{Name: "two inputs", Edit: func(o *RunOptions) { o.Inputs = []string{"p.parquet", "p.parquet"} }, Want: "want one PROMPTS table"},
		{Name: "output is the input", Edit: func(o *RunOptions) { o.Output = "./p.parquet" }, Want: "-o ./p.parquet is also an input (PROMPTS)"},
		{Name: "journal is the input", Edit: func(o *RunOptions) { o.Inputs = []string{"g.parquet.journal"} }, Want: "the journal g.parquet.journal is also an input (PROMPTS)"},
		{Name: "output is the model", Edit: func(o *RunOptions) { o.Model, o.Output = "gguf:t.gguf", "./t.gguf" }, Want: "-o ./t.gguf is also an input (--model)"},
		{Name: "output is the system prompt", Edit: func(o *RunOptions) { o.Model, o.Output = "gguf:t.gguf?system=s.txt", "s.txt" }, Want: "-o s.txt is also an input (--model)"},
		{Name: "journal is the adapter", Edit: func(o *RunOptions) { o.Model = "gguf:t.gguf?lora=g.parquet.journal" }, Want: "the journal g.parquet.journal is also an input (--model)"},
		{Name: "output is an API model's system prompt", Edit: func(o *RunOptions) { o.Model, o.Output = "openai:gpt-4o-mini?system=s.txt", "s.txt" }, Want: "-o s.txt is also an input (--model)"},
		{Name: "chunk 0", Edit: func(o *RunOptions) { o.Chunk = 0 }, Want: "--chunk 0: want an integer in [1, "},
		{Name: "chunk huge", Edit: func(o *RunOptions) { o.Chunk = math.MaxInt64 }, Want: "--chunk 9223372036854775807"},
		{Name: "shard", Edit: func(o *RunOptions) { o.Shard = "4/3" }, Want: `--shard "4/3": want i/N`},
	})
	clitest.Validate(t, valid, withGen(func(o *RunOptions) *GenOptions { return &o.Gen }))
}

func TestValidateBatchExport(t *testing.T) {
	valid := func() BatchExportOptions {
		return BatchExportOptions{Model: "m", Output: "r.jsonl", Chat: true, System: "sys.txt", Gen: validGen(), Inputs: []string{"p.parquet"}}
	}
	clitest.Validate(t, valid, []clitest.Case[BatchExportOptions]{
		{Name: "no model", Edit: func(o *BatchExportOptions) { o.Model = "" }, Want: "no model: give --model NAME"},
		{Name: "no output", Edit: func(o *BatchExportOptions) { o.Output = "" }, Want: "no output: give -o FILE.jsonl"},
		{Name: "no input", Edit: func(o *BatchExportOptions) { o.Inputs = nil }, Want: "want one PROMPTS table"},
		{Name: "system without chat", Edit: func(o *BatchExportOptions) { o.Chat = false }, Want: "--system needs --chat"},
		{Name: "label with |", Edit: func(o *BatchExportOptions) { o.Gen.Label = "A|B" }, Want: `--label "A|B": must not contain |`},
		{Name: "output is the input", Edit: func(o *BatchExportOptions) { o.Output = "p.parquet" }, Want: "-o p.parquet is also an input (PROMPTS)"},
		{Name: "output is the system prompt", Edit: func(o *BatchExportOptions) { o.Output = "sys.txt" }, Want: "-o sys.txt is also an input (--system)"},
		{Name: "shard", Edit: func(o *BatchExportOptions) { o.Shard = "0/2" }, Want: `--shard "0/2"`},
	})
	clitest.Validate(t, valid, withGen(func(o *BatchExportOptions) *GenOptions { return &o.Gen }))
}

func TestValidateBatchImport(t *testing.T) {
	valid := func() BatchImportOptions {
		return BatchImportOptions{Prompts: "p.parquet", Output: "g.parquet", Results: []string{"r1.jsonl", "r2.jsonl"}}
	}
	clitest.Validate(t, valid, []clitest.Case[BatchImportOptions]{
		{Name: "no prompts", Edit: func(o *BatchImportOptions) { o.Prompts = "" }, Want: "no prompts: give --prompts TABLE"},
		{Name: "no output", Edit: func(o *BatchImportOptions) { o.Output = "" }, Want: "no output: give -o PATH (or -o - for stdout)"},
		{Name: "no results", Edit: func(o *BatchImportOptions) { o.Results = nil }, Want: "want one or more RESULTS.jsonl"},
		{Name: "results twice", Edit: func(o *BatchImportOptions) { o.Results = []string{"r1.jsonl", "./r1.jsonl"} }, Want: "RESULTS ./r1.jsonl is given twice (as RESULTS too)"},
		{Name: "output is the prompts", Edit: func(o *BatchImportOptions) { o.Output = "p.parquet" }, Want: "-o p.parquet is also an input (--prompts)"},
		{Name: "output is a result", Edit: func(o *BatchImportOptions) { o.Output = "r2.jsonl" }, Want: "-o r2.jsonl is also an input (RESULTS)"},
	})
}

func TestValidateImport(t *testing.T) {
	valid := func() ImportOptions {
		return ImportOptions{Output: "g.parquet", ModelCol: "model", PromptCol: "prompt", CompletionCol: "completion",
			ValidationFraction: 0.5, Split: "all", Files: []string{"a.jsonl", "b.csv"}}
	}
	clitest.Validate(t, valid, []clitest.Case[ImportOptions]{
		{Name: "unknown split", Edit: func(o *ImportOptions) { o.Split = "test" }, Want: `--split "test": want all, discovery or validation`},
		{Name: "no output", Edit: func(o *ImportOptions) { o.Output = "" }, Want: "no output: give -o PATH (or -o - for stdout)"},
		{Name: "no input", Edit: func(o *ImportOptions) { o.Files = nil }, Want: "no input: give one or more FILEs"},
		{Name: "fraction above 1", Edit: func(o *ImportOptions) { o.ValidationFraction = 2 }, Want: "--validation-fraction 2: want a number in [0, 1]"},
		{Name: "fraction negative", Edit: func(o *ImportOptions) { o.ValidationFraction = -0.1 }, Want: "--validation-fraction -0.1: want a number in [0, 1]"},
		{Name: "fraction NaN", Edit: func(o *ImportOptions) { o.ValidationFraction = math.NaN() }, Want: "--validation-fraction NaN: want a finite number"},
		{Name: "empty prompt column", Edit: func(o *ImportOptions) { o.PromptCol = "" }, Want: "--prompt-col is empty"},
		{Name: "empty completion column", Edit: func(o *ImportOptions) { o.CompletionCol = " " }, Want: "--completion-col is empty"},
		{Name: "empty model column", Edit: func(o *ImportOptions) { o.ModelCol = "" }, Want: "--model-col is empty"},
		{Name: "same file twice", Edit: func(o *ImportOptions) { o.Files = []string{"a.jsonl", "a.jsonl"} }, Want: "FILE a.jsonl is given twice (as FILE too)"},
		{Name: "prompts is a file", Edit: func(o *ImportOptions) { o.Prompts = "b.csv" }, Want: "FILE b.csv is given twice (as --prompts too)"},
		{Name: "output is an input", Edit: func(o *ImportOptions) { o.Output = "a.jsonl" }, Want: "-o a.jsonl is also an input (FILE)"},
		{Name: "output is the prompts", Edit: func(o *ImportOptions) { o.Prompts = "p.parquet"; o.Output = "p.parquet" }, Want: "-o p.parquet is also an input (--prompts)"},
	})
	o := valid()
	o.ModelCol, o.Model = "", "C"
	if err := o.Validate(); err != nil {
		t.Errorf("--model without a model column: %v", err)
	}
}
