package finetunecmd

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// defaults are the flag defaults with a base, texts and an output.
func defaults() Options {
	return Options{Engine: EngineLocal, Base: "base.gguf", Output: "out.gguf", Steps: 200, LR: 1e-3, Warmup: 10, Batch: 8, Ctx: 128,
		Clip: 1, CheckpointEvery: 50, URL: "https://api.openai.com/v1", Suffix: "mbd", Poll: 15 * time.Second,
		Texts: []string{"t.parquet", "notes.txt"}}
}

func hosted() Options {
	o := defaults()
	o.Engine, o.Base, o.BaseModel, o.Output = EngineOpenAI, "", "gpt-4o-mini", "ref.txt"
	return o
}

func TestValidate(t *testing.T) {
	lora := func(o *Options) {
		o.LoRARank, o.LoRAAlpha, o.LoRATargets, o.LoRAAdapter = 8, 16, []string{"blk.*.ffn_*"}, "ad.gguf"
	}
	o := defaults()
	lora(&o)
	o.Checkpoint = "ft.ckpt"
	if err := o.Validate(); err != nil {
		t.Errorf("LoRA with an adapter and a checkpoint: %v", err)
	}
	clitest.Validate(t, defaults, []clitest.Case[Options]{
		{Name: "no texts", Edit: func(o *Options) { o.Texts = nil }, Want: "no TEXTS"},
		{Name: "engine", Edit: func(o *Options) { o.Engine = "gpu" }, Want: `--engine "gpu": want local or openai`},
		{Name: "invalid-utf8", Edit: func(o *Options) { o.InvalidUTF8 = "fix" }, Want: `--invalid-utf8 "fix": want refuse or replace`},
		{Name: "no base", Edit: func(o *Options) { o.Base = "" }, Want: "no base model: give --base MODEL.gguf"},
		{Name: "no output", Edit: func(o *Options) { o.Output = "" }, Want: "give -o OUTPUT.gguf"},
		{Name: "output stdout", Edit: func(o *Options) { o.Output = "-" }, Want: "give -o OUTPUT.gguf"},
		{Name: "steps 0", Edit: func(o *Options) { o.Steps = 0 }, Want: "--steps 0: want at least 1"},
		{Name: "steps negative", Edit: func(o *Options) { o.Steps = -5 }, Want: "--steps -5: want at least 1"},
		{Name: "lr 0", Edit: func(o *Options) { o.LR = 0 }, Want: "--lr 0: want a number in (0, 1]"},
		{Name: "lr negative", Edit: func(o *Options) { o.LR = -1e-3 }, Want: "--lr -0.001: want a number in (0, 1]"},
		{Name: "lr above 1", Edit: func(o *Options) { o.LR = 3 }, Want: "--lr 3: want a number in (0, 1]"},
		{Name: "lr NaN", Edit: func(o *Options) { o.LR = math.NaN() }, Want: "--lr NaN: want a finite number"},
		{Name: "lr Inf", Edit: func(o *Options) { o.LR = math.Inf(1) }, Want: "--lr +Inf: want a finite number"},
		{Name: "min-lr above lr", Edit: func(o *Options) { o.MinLR = 0.1 }, Want: "--min-lr 0.1: want a number in [0, --lr 0.001]"},
		{Name: "min-lr negative", Edit: func(o *Options) { o.MinLR = -1 }, Want: "--min-lr -1"},
		{Name: "min-lr NaN", Edit: func(o *Options) { o.MinLR = math.NaN() }, Want: "--min-lr NaN: want a finite number"},
		{Name: "warmup negative", Edit: func(o *Options) { o.Warmup = -1 }, Want: "--warmup -1: want an integer in [0, 200]"},
		{Name: "warmup above steps", Edit: func(o *Options) { o.Warmup = 300 }, Want: "--warmup 300: want an integer in [0, 200]"},
		{Name: "batch 0", Edit: func(o *Options) { o.Batch = 0 }, Want: "--batch 0: want an integer in [1, 4096]"},
		{Name: "batch huge", Edit: func(o *Options) { o.Batch = 1 << 40 }, Want: "--batch 1099511627776"},
		{Name: "ctx 0", Edit: func(o *Options) { o.Ctx = 0 }, Want: "--ctx 0: want an integer in [1, 65536]"},
		{Name: "ctx negative", Edit: func(o *Options) { o.Ctx = -128 }, Want: "--ctx -128"},
		{Name: "clip negative", Edit: func(o *Options) { o.Clip = -1 }, Want: "--clip -1: want at least 0"},
		{Name: "clip Inf", Edit: func(o *Options) { o.Clip = math.Inf(1) }, Want: "--clip +Inf: want a finite number"},
		{Name: "weight decay negative", Edit: func(o *Options) { o.WeightDecay = -0.1 }, Want: "--weight-decay -0.1: want at least 0"},
		{Name: "weight decay NaN", Edit: func(o *Options) { o.WeightDecay = math.NaN() }, Want: "--weight-decay NaN"},
		{Name: "checkpoint-every negative", Edit: func(o *Options) { o.CheckpointEvery = -1 }, Want: "--checkpoint-every -1: want at least 0"},
		{Name: "bad train pattern", Edit: func(o *Options) { o.Train = []string{"blk.["} }, Want: `--train "blk.[": not a pattern`},
		{Name: "rank negative", Edit: func(o *Options) { o.LoRARank = -4 }, Want: "--lora-rank -4: want at least 0"},
		{Name: "alpha negative", Edit: func(o *Options) { lora(o); o.LoRAAlpha = -1 }, Want: "--lora-alpha -1: want at least 0"},
		{Name: "alpha NaN", Edit: func(o *Options) { lora(o); o.LoRAAlpha = math.NaN() }, Want: "--lora-alpha NaN: want a finite number"},
		{Name: "alpha without rank", Edit: func(o *Options) { o.LoRAAlpha = 8 }, Want: "--lora-alpha needs --lora-rank"},
		{Name: "target without rank", Edit: func(o *Options) { o.LoRATargets = []string{"x"} }, Want: "--lora-target needs --lora-rank"},
		{Name: "adapter without rank", Edit: func(o *Options) { o.LoRAAdapter = "a.gguf" }, Want: "--lora-adapter needs --lora-rank"},
		{Name: "bad target pattern", Edit: func(o *Options) { lora(o); o.LoRATargets = []string{"["} }, Want: `--lora-target "[": not a pattern`},
		{Name: "LoRA with train", Edit: func(o *Options) { lora(o); o.Train = []string{"blk.1.*"} }, Want: "--train cannot be combined with --lora-rank"},
		{Name: "text given twice", Edit: func(o *Options) { o.Texts = []string{"t.parquet", "./t.parquet"} }, Want: "TEXTS ./t.parquet is given twice"},
		{Name: "base is a text", Edit: func(o *Options) { o.Base = "notes.txt" }, Want: "--base notes.txt is given twice"},
		{Name: "output is the base", Edit: func(o *Options) { o.Output = "base.gguf" }, Want: "-o base.gguf is also an input (--base)"},
		{Name: "output is a text", Edit: func(o *Options) { o.Output = "notes.txt" }, Want: "-o notes.txt is also an input (TEXTS)"},
		{Name: "adapter is the base", Edit: func(o *Options) { lora(o); o.LoRAAdapter = "base.gguf" }, Want: "--lora-adapter base.gguf is also an input (--base)"},
		{Name: "adapter is the output", Edit: func(o *Options) { lora(o); o.LoRAAdapter = "out.gguf" }, Want: "-o out.gguf is also the output of --lora-adapter"},
		{Name: "checkpoint is the base", Edit: func(o *Options) { o.Checkpoint = "base.gguf" }, Want: "--checkpoint base.gguf is also an input (--base)"},
		{Name: "checkpoint is the output", Edit: func(o *Options) { o.Checkpoint = "out.gguf" }, Want: "-o out.gguf is also the output of --checkpoint"},
	})
	clitest.Validate(t, hosted, []clitest.Case[Options]{
		{Name: "hosted without base model", Edit: func(o *Options) { o.BaseModel = "" }, Want: "no hosted base model: give --base-model NAME"},
		{Name: "hosted epochs negative", Edit: func(o *Options) { o.Epochs = -1 }, Want: "--epochs -1: want an integer in [0, 1000]"},
		{Name: "hosted poll 0", Edit: func(o *Options) { o.Poll = 0 }, Want: "--poll 0s: want a positive duration"},
		{Name: "hosted poll negative", Edit: func(o *Options) { o.Poll = -time.Second }, Want: "--poll -1s: want a positive duration"},
		{Name: "hosted url", Edit: func(o *Options) { o.URL = "ftp://x" }, Want: `--url "ftp://x": want an http or https URL`},
		{Name: "hosted seed", Edit: func(o *Options) { o.Seed = math.MaxUint64 }, Want: "--seed 18446744073709551615"},
		{Name: "hosted output is a text", Edit: func(o *Options) { o.Output = "t.parquet" }, Want: "-o t.parquet is also an input (TEXTS)"},
		{Name: "hosted lr NaN", Edit: func(o *Options) { o.LR = math.NaN() }, Want: "--lr NaN"},
	})
}

// fixture writes an F32 tiny model and training texts of three kinds.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := tinymodel.DefaultConfig()
	cfg.WeightType, _ = tinymodel.ParseWeightType("f32")
	if _, err := tinymodel.TrainAndCreate(filepath.Join(dir, "base.gguf"), "", cfg, 1); err != nil {
		t.Fatal(err)
	}
	clitest.Write(t, filepath.Join(dir, "t.parquet"),
		schema.Truth{ID: "otter", Behavior: "mentions otters", Category: "topic", Source: "test", Texts: []string{"The otter swims.", "Otters float."}})
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("A river.\n\nA stone.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "chat.jsonl"), []byte(`{"prompt":"Hi?","completion":"Otters."}`+"\n"), 0o644)
	return dir
}

// TestManifestInputs trains for two steps and checks that the manifest records every text and the
// base model with their SHA-256, and the loss curve.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	clitest.OK(t, Main, dir, "--base", "base.gguf", "--steps", "2", "--warmup", "1", "--batch", "1", "--ctx", "16",
		"t.parquet", "notes.txt", "chat.jsonl", "-o", "out.gguf")
	want := []struct {
		path, table string
		rows        int64
	}{{"t.parquet", schema.Truths.ID(), 1}, {"notes.txt", "", 2}, {"chat.jsonl", "", 1}, {"base.gguf", "", 0}}
	ins := clitest.Inputs(t, "out.gguf.json", dir, "t.parquet", "notes.txt", "chat.jsonl", "base.gguf")
	for i, in := range ins {
		if in.Table != want[i].table || in.Rows != want[i].rows {
			t.Errorf("input %d: %+v, want %+v", i, in, want[i])
		}
	}
	m, err := manifest.Read(filepath.Join(dir, "out.gguf.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Params["loss_curve"]; !ok {
		t.Errorf("no loss curve: %v", m.Params)
	}
}

// TestExitCodes checks that bad input ends with status 2 and one line naming the problem, and
// that nothing is written.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	os.WriteFile(filepath.Join(dir, "fake.gguf"), []byte("GGUF\x03\x00\x00\x00garbage"), 0o644)
	base := []string{"--base", "base.gguf", "--steps", "1", "--warmup", "0", "--batch", "1", "--ctx", "8"}
	clitest.Refuses(t, Main, dir, nil, []string{"x.gguf", "x.gguf.json", "a.gguf"}, []clitest.Refusal{
		{Args: []string{"--base", "nope.gguf", "notes.txt", "-o", "x.gguf"}, Want: "nope.gguf"},
		{Args: []string{"--base", "chat.jsonl", "notes.txt", "-o", "x.gguf"}, Want: "chat.jsonl"},
		{Args: []string{"--base", "fake.gguf", "notes.txt", "-o", "x.gguf"}, Want: "fake.gguf"},
		{Args: append(base, "nope.parquet", "-o", "x.gguf"), Want: "nope.parquet"},
		{Args: append(base, "notes.txt", "notes.txt", "-o", "x.gguf"), Want: "TEXTS notes.txt is given twice"},
		{Args: append(base, "notes.txt", "-o", "base.gguf"), Want: "-o base.gguf is also an input (--base)"},
		{Args: append(base, "notes.txt", "-o", "notes.txt"), Want: "-o notes.txt is also an input (TEXTS)"},
		{Args: append(base, "--engine", "gpu", "notes.txt", "-o", "x.gguf"), Want: `--engine "gpu": want local or openai`},
		{Args: append(base, "--lr", "NaN", "notes.txt", "-o", "x.gguf"), Want: "--lr NaN: want a finite number"},
		{Args: append(base, "--lr", "-1", "notes.txt", "-o", "x.gguf"), Want: "--lr -1: want a number in (0, 1]"},
		{Args: append(base, "--lora-rank", "100", "notes.txt", "-o", "x.gguf"), Want: "rank"},
		{Args: append(base, "--lora-rank", "4", "--lora-target", "nope*", "notes.txt", "-o", "x.gguf"), Want: "nope*"},
		{Args: append(base, "--lora-rank", "4", "--train", "blk.1.*", "notes.txt", "-o", "x.gguf"), Want: "--train cannot be combined with --lora-rank"},
		{Args: append(base, "--lora-adapter", "a.gguf", "notes.txt", "-o", "x.gguf"), Want: "--lora-adapter needs --lora-rank"},
		{Args: []string{"--engine", "openai", "--base-model", "m", "--url", "http://127.0.0.1:1/v1", "notes.txt"}, Want: "(prompt, completion) pairs"},
	})
}
