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
	"github.com/mbd-dev/mbd/internal/table"
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
	for _, valid := range []func() Options{defaults, hosted} {
		if err := valid().Validate(); err != nil {
			t.Fatalf("valid options: %v", err)
		}
	}
	lora := func(o *Options) {
		o.LoRARank, o.LoRAAlpha, o.LoRATargets, o.LoRAAdapter = 8, 16, []string{"blk.*.ffn_*"}, "ad.gguf"
	}
	o := defaults()
	lora(&o)
	o.Checkpoint = "ft.ckpt"
	if err := o.Validate(); err != nil {
		t.Errorf("LoRA with an adapter and a checkpoint: %v", err)
	}
	for _, tc := range []struct {
		name  string
		valid func() Options
		edit  func(*Options)
		want  string
	}{
		{"no texts", defaults, func(o *Options) { o.Texts = nil }, "no TEXTS"},
		{"engine", defaults, func(o *Options) { o.Engine = "gpu" }, `--engine "gpu": want local or openai`},
		{"invalid-utf8", defaults, func(o *Options) { o.InvalidUTF8 = "fix" }, `--invalid-utf8 "fix": want refuse or replace`},
		{"no base", defaults, func(o *Options) { o.Base = "" }, "no base model: give --base MODEL.gguf"},
		{"no output", defaults, func(o *Options) { o.Output = "" }, "give -o OUTPUT.gguf"},
		{"output stdout", defaults, func(o *Options) { o.Output = "-" }, "give -o OUTPUT.gguf"},
		{"steps 0", defaults, func(o *Options) { o.Steps = 0 }, "--steps 0: want at least 1"},
		{"steps negative", defaults, func(o *Options) { o.Steps = -5 }, "--steps -5: want at least 1"},
		{"lr 0", defaults, func(o *Options) { o.LR = 0 }, "--lr 0: want a number in (0, 1]"},
		{"lr negative", defaults, func(o *Options) { o.LR = -1e-3 }, "--lr -0.001: want a number in (0, 1]"},
		{"lr above 1", defaults, func(o *Options) { o.LR = 3 }, "--lr 3: want a number in (0, 1]"},
		{"lr NaN", defaults, func(o *Options) { o.LR = math.NaN() }, "--lr NaN: want a finite number"},
		{"lr Inf", defaults, func(o *Options) { o.LR = math.Inf(1) }, "--lr +Inf: want a finite number"},
		{"min-lr above lr", defaults, func(o *Options) { o.MinLR = 0.1 }, "--min-lr 0.1: want a number in [0, --lr 0.001]"},
		{"min-lr negative", defaults, func(o *Options) { o.MinLR = -1 }, "--min-lr -1"},
		{"min-lr NaN", defaults, func(o *Options) { o.MinLR = math.NaN() }, "--min-lr NaN: want a finite number"},
		{"warmup negative", defaults, func(o *Options) { o.Warmup = -1 }, "--warmup -1: want an integer in [0, 200]"},
		{"warmup above steps", defaults, func(o *Options) { o.Warmup = 300 }, "--warmup 300: want an integer in [0, 200]"},
		{"batch 0", defaults, func(o *Options) { o.Batch = 0 }, "--batch 0: want an integer in [1, 4096]"},
		{"batch huge", defaults, func(o *Options) { o.Batch = 1 << 40 }, "--batch 1099511627776"},
		{"ctx 0", defaults, func(o *Options) { o.Ctx = 0 }, "--ctx 0: want an integer in [1, 65536]"},
		{"ctx negative", defaults, func(o *Options) { o.Ctx = -128 }, "--ctx -128"},
		{"clip negative", defaults, func(o *Options) { o.Clip = -1 }, "--clip -1: want at least 0"},
		{"clip Inf", defaults, func(o *Options) { o.Clip = math.Inf(1) }, "--clip +Inf: want a finite number"},
		{"weight decay negative", defaults, func(o *Options) { o.WeightDecay = -0.1 }, "--weight-decay -0.1: want at least 0"},
		{"weight decay NaN", defaults, func(o *Options) { o.WeightDecay = math.NaN() }, "--weight-decay NaN"},
		{"checkpoint-every negative", defaults, func(o *Options) { o.CheckpointEvery = -1 }, "--checkpoint-every -1: want at least 0"},
		{"bad train pattern", defaults, func(o *Options) { o.Train = []string{"blk.["} }, `--train "blk.[": not a pattern`},
		{"rank negative", defaults, func(o *Options) { o.LoRARank = -4 }, "--lora-rank -4: want at least 0"},
		{"alpha negative", defaults, func(o *Options) { lora(o); o.LoRAAlpha = -1 }, "--lora-alpha -1: want at least 0"},
		{"alpha NaN", defaults, func(o *Options) { lora(o); o.LoRAAlpha = math.NaN() }, "--lora-alpha NaN: want a finite number"},
		{"alpha without rank", defaults, func(o *Options) { o.LoRAAlpha = 8 }, "--lora-alpha needs --lora-rank"},
		{"target without rank", defaults, func(o *Options) { o.LoRATargets = []string{"x"} }, "--lora-target needs --lora-rank"},
		{"adapter without rank", defaults, func(o *Options) { o.LoRAAdapter = "a.gguf" }, "--lora-adapter needs --lora-rank"},
		{"bad target pattern", defaults, func(o *Options) { lora(o); o.LoRATargets = []string{"["} }, `--lora-target "[": not a pattern`},
		{"LoRA with train", defaults, func(o *Options) { lora(o); o.Train = []string{"blk.1.*"} }, "--train cannot be combined with --lora-rank"},
		{"text given twice", defaults, func(o *Options) { o.Texts = []string{"t.parquet", "./t.parquet"} }, "TEXTS ./t.parquet is given twice"},
		{"base is a text", defaults, func(o *Options) { o.Base = "notes.txt" }, "--base notes.txt is given twice"},
		{"output is the base", defaults, func(o *Options) { o.Output = "base.gguf" }, "-o base.gguf is also an input (--base)"},
		{"output is a text", defaults, func(o *Options) { o.Output = "notes.txt" }, "-o notes.txt is also an input (TEXTS)"},
		{"adapter is the base", defaults, func(o *Options) { lora(o); o.LoRAAdapter = "base.gguf" }, "--lora-adapter base.gguf is also an input (--base)"},
		{"adapter is the output", defaults, func(o *Options) { lora(o); o.LoRAAdapter = "out.gguf" }, "-o out.gguf is also the output of --lora-adapter"},
		{"checkpoint is the base", defaults, func(o *Options) { o.Checkpoint = "base.gguf" }, "--checkpoint base.gguf is also an input (--base)"},
		{"checkpoint is the output", defaults, func(o *Options) { o.Checkpoint = "out.gguf" }, "-o out.gguf is also the output of --checkpoint"},
		{"hosted without base model", hosted, func(o *Options) { o.BaseModel = "" }, "no hosted base model: give --base-model NAME"},
		{"hosted epochs negative", hosted, func(o *Options) { o.Epochs = -1 }, "--epochs -1: want an integer in [0, 1000]"},
		{"hosted poll 0", hosted, func(o *Options) { o.Poll = 0 }, "--poll 0s: want a positive duration"},
		{"hosted poll negative", hosted, func(o *Options) { o.Poll = -time.Second }, "--poll -1s: want a positive duration"},
		{"hosted url", hosted, func(o *Options) { o.URL = "ftp://x" }, `--url "ftp://x": want an http or https URL`},
		{"hosted seed", hosted, func(o *Options) { o.Seed = math.MaxUint64 }, "--seed 18446744073709551615"},
		{"hosted output is a text", hosted, func(o *Options) { o.Output = "t.parquet" }, "-o t.parquet is also an input (TEXTS)"},
		{"hosted lr NaN", hosted, func(o *Options) { o.LR = math.NaN() }, "--lr NaN"},
	} {
		o := tc.valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
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
	w, err := table.Create[schema.Truth](filepath.Join(dir, "t.parquet"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(schema.Truth{ID: "otter", Behavior: "mentions otters", Category: "topic", Source: "test", Texts: []string{"The otter swims.", "Otters float."}})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("A river.\n\nA stone.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "chat.jsonl"), []byte(`{"prompt":"Hi?","completion":"Otters."}`+"\n"), 0o644)
	return dir
}

// TestManifestInputs trains for two steps and checks that the manifest records every text and the
// base model with their SHA-256, and the loss curve.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	rc, _, stderr := clitest.Run(t, Main, dir, "--base", "base.gguf", "--steps", "2", "--warmup", "1", "--batch", "1", "--ctx", "16",
		"t.parquet", "notes.txt", "chat.jsonl", "-o", "out.gguf")
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
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
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--base", "nope.gguf", "notes.txt", "-o", "x.gguf"}, "nope.gguf"},
		{[]string{"--base", "chat.jsonl", "notes.txt", "-o", "x.gguf"}, "chat.jsonl"},
		{[]string{"--base", "fake.gguf", "notes.txt", "-o", "x.gguf"}, "fake.gguf"},
		{append(base, "nope.parquet", "-o", "x.gguf"), "nope.parquet"},
		{append(base, "notes.txt", "notes.txt", "-o", "x.gguf"), "TEXTS notes.txt is given twice"},
		{append(base, "notes.txt", "-o", "base.gguf"), "-o base.gguf is also an input (--base)"},
		{append(base, "notes.txt", "-o", "notes.txt"), "-o notes.txt is also an input (TEXTS)"},
		{append(base, "--engine", "gpu", "notes.txt", "-o", "x.gguf"), `--engine "gpu": want local or openai`},
		{append(base, "--lr", "NaN", "notes.txt", "-o", "x.gguf"), "--lr NaN: want a finite number"},
		{append(base, "--lr", "-1", "notes.txt", "-o", "x.gguf"), "--lr -1: want a number in (0, 1]"},
		{append(base, "--lora-rank", "100", "notes.txt", "-o", "x.gguf"), "rank"},
		{append(base, "--lora-rank", "4", "--lora-target", "nope*", "notes.txt", "-o", "x.gguf"), "nope*"},
		{append(base, "--lora-rank", "4", "--train", "blk.1.*", "notes.txt", "-o", "x.gguf"), "--train cannot be combined with --lora-rank"},
		{append(base, "--lora-adapter", "a.gguf", "notes.txt", "-o", "x.gguf"), "--lora-adapter needs --lora-rank"},
		{[]string{"--engine", "openai", "--base-model", "m", "--url", "http://127.0.0.1:1/v1", "notes.txt"}, "(prompt, completion) pairs"},
	} {
		rc, _, stderr := clitest.Run(t, Main, dir, tc.args...)
		clitest.UsageError(t, tc.args, rc, stderr, tc.want)
		clitest.Absent(t, tc.args, dir, "x.gguf", "x.gguf.json", "a.gguf")
	}
}
