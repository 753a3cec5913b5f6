package modelcmd

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/llm"
)

func TestValidateInfoDevices(t *testing.T) {
	clitest.Validate(t, func() InfoOptions { return InfoOptions{Devices: true, GPU: true} }, []clitest.Case[InfoOptions]{
		{Name: "a model", Edit: func(o *InfoOptions) { o.Args = []string{"m.gguf"} }, Want: "--devices takes no MODEL.gguf"},
		{Name: "metadata", Edit: func(o *InfoOptions) { o.Metadata = true }, Want: "--metadata describes a model, not --devices"},
	})
}

func defaultBench() BenchOptions {
	return BenchOptions{Model: "gguf:m.gguf?threads=1", Batches: []int64{1, 32, 256}, Tokens: 128, ScoreTexts: 256,
		ScoreTokens: 256, ScoreBatch: 32, CopyMiB: 1024, CompareCPU: 16, Tolerance: 1e-3, Output: "b.json"}
}

func TestValidateBench(t *testing.T) {
	clitest.Validate(t, defaultBench, []clitest.Case[BenchOptions]{
		{Name: "arguments", Edit: func(o *BenchOptions) { o.Args = []string{"m.gguf"} }, Want: "bench takes no arguments"},
		{Name: "no model", Edit: func(o *BenchOptions) { o.Model = "" }, Want: `--model "": want gguf:PATH[?...]`},
		{Name: "remote model", Edit: func(o *BenchOptions) { o.Model = "openai:gpt-4o-mini" }, Want: "want gguf:PATH"},
		{Name: "bad reference", Edit: func(o *BenchOptions) { o.Model = "gguf:m.gguf?gpu-layers=most" }, Want: `gpu-layers="most"`},
		{Name: "no batches", Edit: func(o *BenchOptions) { o.Batches = nil }, Want: "--batches: want at least one batch size"},
		{Name: "batch 0", Edit: func(o *BenchOptions) { o.Batches = []int64{1, 0} }, Want: "--batches 0: want whole numbers in [1, 256]"},
		{Name: "batch 257", Edit: func(o *BenchOptions) { o.Batches = []int64{257} }, Want: "--batches 257"},
		{Name: "tokens 0", Edit: func(o *BenchOptions) { o.Tokens = 0 }, Want: "--tokens 0"},
		{Name: "score-texts 0", Edit: func(o *BenchOptions) { o.ScoreTexts = 0 }, Want: "--score-texts 0"},
		{Name: "score-batch 300", Edit: func(o *BenchOptions) { o.ScoreBatch = 300 }, Want: "--score-batch 300"},
		{Name: "copy-mib negative", Edit: func(o *BenchOptions) { o.CopyMiB = -1 }, Want: "--copy-mib -1"},
		{Name: "compare more than scored", Edit: func(o *BenchOptions) { o.CompareCPU = 257 }, Want: "--compare-cpu 257: want an integer in [0, 256]"},
		{Name: "tolerance NaN", Edit: func(o *BenchOptions) { o.Tolerance = math.NaN() }, Want: "--tolerance"},
		{Name: "output is the model", Edit: func(o *BenchOptions) { o.Output = "m.gguf" }, Want: "-o m.gguf is also an input (--model)"},
	})
}

func TestCompareScores(t *testing.T) {
	a := []llm.ScoreResult{{Logprobs: []float64{-1, -2}}, {Logprobs: []float64{-3}}}
	for _, tc := range []struct {
		name string
		b    []llm.ScoreResult
		max  float64
		ok   bool
	}{
		{"same", []llm.ScoreResult{{Logprobs: []float64{-1, -2}}, {Logprobs: []float64{-3}}}, 0, true},
		{"within", []llm.ScoreResult{{Logprobs: []float64{-1.0005, -2}}, {Logprobs: []float64{-3}}}, 5e-4, true},
		{"beyond", []llm.ScoreResult{{Logprobs: []float64{-1, -2}}, {Logprobs: []float64{-3.002}}}, 2e-3, false},
		{"NaN", []llm.ScoreResult{{Logprobs: []float64{math.NaN(), -2}}, {Logprobs: []float64{-3}}}, math.Inf(1), false},
		{"other tokens", []llm.ScoreResult{{Logprobs: []float64{-1}}, {Logprobs: []float64{-3}}}, math.Inf(1), false},
		{"missing text", []llm.ScoreResult{{Logprobs: []float64{-1, -2}}}, math.Inf(1), false},
	} {
		c := compareScores(a, tc.b, 1e-3)
		if c.OK != tc.ok || math.Abs(c.MaxAbsDiff-tc.max) > 1e-9 && !(math.IsInf(tc.max, 1) && math.IsInf(c.MaxAbsDiff, 1)) {
			t.Errorf("%s: %+v, want max %g ok %v", tc.name, c, tc.max, tc.ok)
		}
	}
}

// TestGPURefusals: no GPU backend here, so asking for one is bad input (status 2), and nothing is
// written.
func TestGPURefusals(t *testing.T) {
	dir := fixture(t)
	t.Setenv("MBD_GGML_CACHE", filepath.Join(dir, "cache"))
	clitest.Refuses(t, Main, dir, nil, []string{"b.json", "x.parquet"}, []clitest.Refusal{
		{Args: []string{"info", "--devices", "--gpu"}, Want: "/cache/"},
		{Args: []string{"info", "--gpu", "tiny.gguf"}, Want: "libggml-cuda.so: no such file (build it with scripts/gpu/build-cuda.sh)"},
		{Args: []string{"bench", "--gpu", "--model", "gguf:tiny.gguf", "-o", "b.json"}, Want: "--gpu: GPU backend"},
		{Args: []string{"bench", "--model", "gguf:tiny.gguf?gpu-layers=all&threads=1", "-o", "b.json"}, Want: "gpu-layers=all but no GPU backend is loaded"},
		{Args: []string{"score", "--model", "gguf:tiny.gguf?gpu-layers=2&threads=1", "g.parquet", "-o", "x.parquet"}, Want: "gpu-layers=2 but no GPU backend is loaded"},
	})
}

func TestDevicesAndBenchCPU(t *testing.T) {
	dir := fixture(t)
	out := clitest.OK(t, Main, dir, "info", "--devices")
	if !strings.Contains(out, "ggml sources") || !strings.Contains(out, "\nCPU ") {
		t.Errorf("info --devices:\n%s", out)
	}
	var r devicesReport
	if err := json.Unmarshal([]byte(clitest.OK(t, Main, dir, "info", "--devices", "--json")), &r); err != nil || len(r.Devices) == 0 || r.Devices[0].Type != "cpu" {
		t.Errorf("info --devices --json: %+v, %v", r, err)
	}

	md := clitest.OK(t, Main, dir, "bench", "--model", "gguf:tiny.gguf?threads=1", "--batches", "1,2", "--tokens", "4",
		"--score-texts", "4", "--score-tokens", "16", "--score-batch", "2", "--copy-mib", "1", "--compare-cpu", "2", "-o", "b.json")
	b, err := os.ReadFile(filepath.Join(dir, "b.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res BenchResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Generate) != 2 || res.Generate[0].Batch != 1 || res.Generate[1].Batch != 2 || res.Generate[1].Texts != 2 {
		t.Errorf("generate: %+v", res.Generate)
	}
	for _, g := range append(append([]BenchRate{}, res.Generate...), append(res.Score, res.Embed)...) {
		if g.Tokens <= 0 || g.Seconds <= 0 || g.TokS <= 0 {
			t.Errorf("a measurement without tokens or time: %+v", g)
		}
	}
	if len(res.Score) != 2 || res.Score[0].Batch != 1 || res.Score[1].Batch != 2 || res.Score[0].Tokens != res.Score[1].Tokens {
		t.Errorf("score: %+v", res.Score)
	}
	if res.Copy == nil || res.Copy.Device != "CPU" || res.Batch1Bound <= 0 || res.SizeBytes <= 0 || res.GPULayers != "0" {
		t.Errorf("copy and bound: %+v %g", res.Copy, res.Batch1Bound)
	}
	if c := res.CompareCPU; c == nil || !c.OK || c.Texts != 2 || c.Tokens == 0 || c.MaxAbsDiff != 0 {
		t.Errorf("the CPU against itself: %+v", c)
	}
	for _, want := range []string{"| generate | 1 |", "| generate | 2 |", "| score | 2 |", "| embed | 2 |", "batch-1 decode bound", "tolerance 0.001: ok"} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown table has no %q:\n%s", want, md)
		}
	}
}
