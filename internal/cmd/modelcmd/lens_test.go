package modelcmd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
)

func defaultLens() LensOptions {
	return LensOptions{ModelA: "gguf:a.gguf", ModelB: "gguf:b.gguf?threads=1", Positions: 5, Layers: "mid", Flips: 100,
		Top: 20, Components: 3, Alpha: 0.05, Output: "lens.parquet"}
}

func TestValidateLens(t *testing.T) {
	clitest.Validate(t, defaultLens, []clitest.Case[LensOptions]{
		{Name: "no model A", Edit: func(o *LensOptions) { o.ModelA = "" }, Want: "no model: give --model-a gguf:PATH"},
		{Name: "remote model", Edit: func(o *LensOptions) { o.ModelB = "openai:gpt-4o-mini" }, Want: `--model-b "openai:gpt-4o-mini": the lens reads a GGUF model's activations in-process`},
		{Name: "bad reference", Edit: func(o *LensOptions) { o.ModelA = "gguf:a.gguf?threads=-1" }, Want: "--model-a: "},
		{Name: "no output", Edit: func(o *LensOptions) { o.Output = "" }, Want: "no output"},
		{Name: "texts negative", Edit: func(o *LensOptions) { o.Texts = -1 }, Want: "--texts -1: want at least 0"},
		{Name: "texts beyond the corpus", Edit: func(o *LensOptions) { o.Texts = 311 }, Want: "--texts 311: want an integer in [0, 310]"},
		{Name: "positions 0", Edit: func(o *LensOptions) { o.Positions = 0 }, Want: "--positions 0: want an integer in [1, 256]"},
		{Name: "positions huge", Edit: func(o *LensOptions) { o.Positions = 1 << 20 }, Want: "--positions 1048576"},
		{Name: "flips negative", Edit: func(o *LensOptions) { o.Flips = -1 }, Want: "--flips -1: want an integer in [0, 10000]"},
		{Name: "flips 1", Edit: func(o *LensOptions) { o.Flips = 1 }, Want: "--flips 1: want 0 (no null) or at least 2"},
		{Name: "top 0", Edit: func(o *LensOptions) { o.Top = 0 }, Want: "--top 0: want an integer in [1, 1000]"},
		{Name: "components negative", Edit: func(o *LensOptions) { o.Components = -2 }, Want: "--components -2"},
		{Name: "alpha 1", Edit: func(o *LensOptions) { o.Alpha = 1 }, Want: "--alpha 1: want a number in (0, 1)"},
		{Name: "layers word", Edit: func(o *LensOptions) { o.Layers = "middle" }, Want: `--layers "middle": want block indexes from 0, mid, last or all`},
		{Name: "layers negative", Edit: func(o *LensOptions) { o.Layers = "1,-1" }, Want: `--layers "1,-1"`},
		{Name: "output is a model", Edit: func(o *LensOptions) { o.Output = "a.gguf" }, Want: "a.gguf"},
		{Name: "output is the prompts", Edit: func(o *LensOptions) { o.Prompts = "lens.parquet" }, Want: "-o lens.parquet is also an input (--prompts)"},
	})
	o := defaultLens()
	o.Prompts, o.Texts = "p.parquet", 5000
	if err := o.Validate(); err != nil {
		t.Errorf("--texts beyond the corpus with --prompts: %v", err)
	}
}

func TestParseLayers(t *testing.T) {
	for _, tt := range []struct {
		spec string
		n    int
		want string
	}{
		{"mid", 4, "[2]"}, {"mid", 1, "[0]"}, {"last", 4, "[3]"}, {"all", 3, "[0 1 2]"},
		{"0, 2,last", 4, "[0 2 3]"}, {"1,1,mid", 2, "[1]"},
		{"4", 4, "error: block 4: the models have 4 blocks (0 to 3)"}, {"", 4, "error: want block indexes"},
		{"1.5", 4, "error: want block indexes"},
	} {
		got, err := parseLayers(tt.spec, tt.n)
		s := fmt.Sprint(got)
		if err != nil {
			s = "error: " + err.Error()
		}
		if !strings.HasPrefix(s, tt.want) {
			t.Errorf("parseLayers(%q, %d) = %s, want %s", tt.spec, tt.n, s, tt.want)
		}
	}
}
