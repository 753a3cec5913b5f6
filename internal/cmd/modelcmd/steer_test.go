package modelcmd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

func defaultSteer() SteerOptions {
	return SteerOptions{ModelA: "gguf:a.gguf", ModelB: "gguf:b.gguf?threads=1", Prompts: "p.parquet", Steer: "B", Layers: "mid",
		Scales: "2,4,8", Positions: 5, Samples: 1, Temperature: 1, MaxTokens: 64, Output: "steered.parquet"}
}

func TestValidateSteer(t *testing.T) {
	clitest.Validate(t, defaultSteer, []clitest.Case[SteerOptions]{
		{Name: "no model B", Edit: func(o *SteerOptions) { o.ModelB = "" }, Want: "no model: give --model-b gguf:PATH"},
		{Name: "remote model", Edit: func(o *SteerOptions) { o.ModelA = "openai:gpt-4o-mini" }, Want: `--model-a "openai:gpt-4o-mini": steering reads and changes a GGUF model's activations in-process`},
		{Name: "bad reference", Edit: func(o *SteerOptions) { o.ModelB = "gguf:b.gguf?threads=-1" }, Want: "--model-b: "},
		{Name: "system prompt", Edit: func(o *SteerOptions) { o.ModelB = "gguf:b.gguf?system=s.txt" }, Want: "drop system="},
		{Name: "no prompts", Edit: func(o *SteerOptions) { o.Prompts = "" }, Want: "no prompts: give --prompts TABLE"},
		{Name: "steer C", Edit: func(o *SteerOptions) { o.Steer = "C" }, Want: `--steer "C": want`},
		{Name: "steer lower case", Edit: func(o *SteerOptions) { o.Steer = "b" }, Want: `--steer "b": want`},
		{Name: "no output", Edit: func(o *SteerOptions) { o.Output = "" }, Want: "no output"},
		{Name: "texts beyond the corpus", Edit: func(o *SteerOptions) { o.Texts = 311 }, Want: "--texts 311: want an integer in [0, 310]"},
		{Name: "positions 0", Edit: func(o *SteerOptions) { o.Positions = 0 }, Want: "--positions 0: want an integer in [1, 256]"},
		{Name: "samples 0", Edit: func(o *SteerOptions) { o.Samples = 0 }, Want: "--samples 0: want an integer in [1, 100]"},
		{Name: "max tokens 0", Edit: func(o *SteerOptions) { o.MaxTokens = 0 }, Want: "--max-tokens 0"},
		{Name: "temperature negative", Edit: func(o *SteerOptions) { o.Temperature = -1 }, Want: "--temperature -1"},
		{Name: "layers word", Edit: func(o *SteerOptions) { o.Layers = "middle" }, Want: `--layers "middle": want block indexes`},
		{Name: "scales word", Edit: func(o *SteerOptions) { o.Scales = "2,big" }, Want: `--scales "2,big": want numbers separated by commas`},
		{Name: "scales empty", Edit: func(o *SteerOptions) { o.Scales = "" }, Want: `--scales "": want numbers separated by commas`},
		{Name: "scales NaN", Edit: func(o *SteerOptions) { o.Scales = "NaN" }, Want: `--scales "NaN": want numbers`},
		{Name: "scales Inf", Edit: func(o *SteerOptions) { o.Scales = "1,Inf" }, Want: `--scales "1,Inf": want numbers`},
		{Name: "scale huge", Edit: func(o *SteerOptions) { o.Scales = "1e9" }, Want: `--scales "1e9": scale 1e+09: want at most 10000 in size`},
		{Name: "scales twice", Edit: func(o *SteerOptions) { o.Scales = "4,2,4" }, Want: `--scales "4,2,4": scale 4: given twice`},
		{Name: "output is a model", Edit: func(o *SteerOptions) { o.Output = "a.gguf" }, Want: "a.gguf"},
		{Name: "output is the prompts", Edit: func(o *SteerOptions) { o.Output = "p.parquet" }, Want: "-o p.parquet is also an input (--prompts)"},
	})
}

func TestSteerNames(t *testing.T) {
	for _, tt := range []struct {
		model, ref string
		scale      float64
		layers     []int
		label, out string
	}{
		{"B", "gguf:b.gguf", 4, []int{12}, "B+4×d@12", "steer:gguf:b.gguf?layers=12&scale=4"},
		{"A", "gguf:a.gguf?threads=1", -2.5, []int{3, 5}, "A-2.5×d@3,5", "steer:gguf:a.gguf?threads=1&layers=3,5&scale=-2.5"},
		{"B", "gguf:b.gguf", 0, []int{1}, "B+0×d@1", "steer:gguf:b.gguf?layers=1&scale=0"},
	} {
		if got := SteerLabel(tt.model, tt.scale, tt.layers); got != tt.label {
			t.Errorf("SteerLabel(%s, %v, %v) = %q, want %q", tt.model, tt.scale, tt.layers, got, tt.label)
		}
		if got := SteerRef(tt.ref, tt.scale, tt.layers); got != tt.out {
			t.Errorf("SteerRef(%s, %v, %v) = %q, want %q", tt.ref, tt.scale, tt.layers, got, tt.out)
		}
	}
}

func TestSteerLayers(t *testing.T) {
	for _, tt := range []struct {
		spec string
		n    int
		want string
	}{
		{"mid", 4, "[2]"}, {"all", 4, "[1 2 3]"}, {"all", 1, "[0]"}, {"last,1", 4, "[3 1]"},
		{"9", 4, "error: block 9"},
	} {
		got, err := steerLayers(tt.spec, tt.n)
		s := fmt.Sprint(got)
		if err != nil {
			s = "error: " + err.Error()
		}
		if !strings.HasPrefix(s, tt.want) {
			t.Errorf("steerLayers(%q, %d) = %s, want %s", tt.spec, tt.n, s, tt.want)
		}
	}
}

// meanDifference averages B - A over texts and positions, per layer.
func TestMeanDifference(t *testing.T) {
	// One layer, two positions, width 2, two texts: A sums to (2, 0) and (0, 2), B to (4, 0) and (0, 6).
	a := &llamacpp.Capture{Layers: []int{1}, Positions: 2, Dim: 2, Used: []int{0, 1}, Sum: []float64{2, 0, 0, 2}, SumSq: []float64{2, 2}}
	b := &llamacpp.Capture{Layers: []int{1}, Positions: 2, Dim: 2, Used: []int{0, 1}, Sum: []float64{4, 0, 0, 6}, SumSq: []float64{8, 18}}
	d, norms, rel := meanDifference(a, b)
	// d = ((4-2)/4, (6-2)/4) = (0.5, 1); A's mean squared norm is (2+2)/4 = 1.
	if fmt.Sprint(d) != "[[0.5 1]]" || math.Abs(norms[0]-math.Sqrt(1.25)) > 1e-12 || math.Abs(rel[0]-math.Sqrt(1.25)) > 1e-12 {
		t.Errorf("meanDifference = %v, %v, %v; want [[0.5 1]], √1.25, √1.25", d, norms, rel)
	}
}
