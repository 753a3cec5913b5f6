package promptscmd

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func TestValidate(t *testing.T) {
	valid := func() Options {
		return Options{Output: "p.parquet", ValidationFraction: 0.5, TextField: "text", CategoryField: "category", Files: []string{"a.txt", "b.jsonl"}}
	}
	bank := valid()
	bank.Files = nil
	if err := bank.Validate(); err != nil {
		t.Fatalf("the bank: %v", err)
	}
	clitest.Validate(t, valid, []clitest.Case[Options]{
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "no output: give -o PATH (or -o - for stdout)"},
		{Name: "fraction above 1", Edit: func(o *Options) { o.ValidationFraction = 2 }, Want: "--validation-fraction 2: want a number in [0, 1]"},
		{Name: "fraction negative", Edit: func(o *Options) { o.ValidationFraction = -1 }, Want: "--validation-fraction -1: want a number in [0, 1]"},
		{Name: "fraction NaN", Edit: func(o *Options) { o.ValidationFraction = math.NaN() }, Want: "--validation-fraction NaN: want a finite number"},
		{Name: "fraction Inf", Edit: func(o *Options) { o.ValidationFraction = math.Inf(1) }, Want: "--validation-fraction +Inf: want a finite number"},
		{Name: "limit negative", Edit: func(o *Options) { o.Limit = -3 }, Want: "--limit -3: want at least 0"},
		{Name: "empty text field", Edit: func(o *Options) { o.TextField = "" }, Want: "--text-field is empty"},
		{Name: "empty category field", Edit: func(o *Options) { o.CategoryField = " " }, Want: "--category-field is empty"},
		{Name: "empty category", Edit: func(o *Options) { o.Categories = []string{"code", ""} }, Want: "--category is empty"},
		{Name: "same file twice", Edit: func(o *Options) { o.Files = []string{"a.txt", "./a.txt"} }, Want: "FILE ./a.txt is given twice (as FILE too)"},
		{Name: "output is an input", Edit: func(o *Options) { o.Output = "b.jsonl" }, Want: "-o b.jsonl is also an input (FILE)"},
	})
}

// TestRunRecordsInputs writes prompts from two files and checks the table and that the manifest
// records both files with their SHA-256.
func TestRunRecordsInputs(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	os.WriteFile(a, []byte("Why is the sky blue?\nName three rivers.\n"), 0o644)
	b := filepath.Join(dir, "b.jsonl")
	os.WriteFile(b, []byte(`{"text": "Name three rivers.", "category": "list"}`+"\n"+`{"text": "Write a haiku.", "category": "poetry"}`+"\n"), 0o644)
	out := filepath.Join(dir, "p.parquet")
	code, stdout, stderr := clitest.Run(t, Main, "", "--validation-fraction", "1", a, b, "-o", out)
	if code != 0 || !strings.Contains(stdout, "3 prompts (0 discovery, 3 validation)") || !strings.Contains(stderr, "dropped duplicate prompts") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	rows, err := table.ReadAll[schema.Prompt](out, nil)
	if err != nil || len(rows) != 3 || rows[0].Source != "a.txt" || rows[2].Category != "poetry" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	for i, in := range clitest.Inputs(t, out+".json", "", a, b) {
		if in.Rows != 2 {
			t.Errorf("input %d: %+v, want 2 rows", i, in)
		}
	}
}
