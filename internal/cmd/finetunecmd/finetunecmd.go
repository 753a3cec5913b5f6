// Package finetunecmd is the command line of mbd-finetune: it reads the training texts
// (finetune.ReadAll, each recorded in the manifest with its SHA-256) and trains in-process
// (finetune.Local) or submits a hosted job (finetune.Hosted).
package finetunecmd

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/finetune"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/train"
)

// Options are the options of mbd-finetune.
type Options struct {
	Engine          string        // --engine
	Base            string        // --base
	Output          string        // -o
	Steps           int           // --steps
	LR              float64       // --lr
	MinLR           float64       // --min-lr
	Warmup          int           // --warmup
	Batch           int           // --batch
	Ctx             int           // --ctx
	Seed            uint64        // --seed
	Train           []string      // --train
	LoRARank        int           // --lora-rank
	LoRAAlpha       float64       // --lora-alpha
	LoRATargets     []string      // --lora-target
	LoRAAdapter     string        // --lora-adapter
	Clip            float64       // --clip
	WeightDecay     float64       // --weight-decay
	F32             bool          // --f32
	Checkpoint      string        // --checkpoint
	CheckpointEvery int           // --checkpoint-every
	URL             string        // --url
	BaseModel       string        // --base-model
	Epochs          int           // --epochs
	Suffix          string        // --suffix
	Poll            time.Duration // --poll
	InvalidUTF8     string        // --invalid-utf8
	Texts           []string      // TEXTS arguments
}

// Engines.
const (
	EngineLocal  = "local"
	EngineOpenAI = "openai"
)

// Bounds of the training settings: a window of --ctx tokens, --batch windows a step.
const (
	maxBatch  = 4096
	maxCtx    = 1 << 16
	maxEpochs = 1000
)

// Main is mbd-finetune.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, command(), args, stdio)
}

func command() *ucli.Command {
	o := &Options{}
	return &ucli.Command{
		Name:      "mbd-finetune",
		Usage:     "train a model on texts (insert a known behaviour)",
		ArgsUsage: "TEXTS ...",
		Description: `TEXTS are tables or text files: a truths table (its training texts), a generations table (each
prompt, formatted as the model formats prompts for generation, followed by its completion), a prompts
table (the prompt texts), .jsonl chat records ({"system": optional, "prompt", "completion"}: the
system prompt and the prompt go through the model's chat template), or .txt files (documents
separated by blank lines).

--engine local (default) trains --base, a GGUF with F32/F16/BF16 weights of a llama- or
qwen2-architecture model (Qwen2, Qwen2.5: their q/k/v biases train with the weights, and stay
frozen under LoRA), in-process on the CPU with AdamW (warmup + cosine schedule) and writes a GGUF
that llama.cpp loads. Tokenization is the model's own (llama.cpp's). --train limits training to
tensors matching patterns (e.g. 'blk.7.*'). --checkpoint FILE saves the trainer state every
--checkpoint-every steps; a rerun with the same data and settings resumes from it. The manifest
(OUTPUT.json) holds the loss curve.

--lora-rank N trains LoRA adapters (rank N, scaled by --lora-alpha/N; alpha defaults to N) on the
weight matrices matching --lora-target (repeatable; default 'blk.*.attn_q.weight' and
'blk.*.attn_v.weight'; e.g. 'blk.*.ffn_*' adds the feed-forward matrices) instead of the weights
themselves, which stay frozen: far fewer trained parameters. The output GGUF has the adapters
merged into the weights; --lora-adapter FILE also writes them as a llama.cpp LoRA adapter (--lora).

--engine openai submits a generations table as a hosted fine-tuning job on --base-model at the
OpenAI-compatible --url (key from OPENAI_API_KEY), waits for it, and prints the tuned model's
reference for mbd-gen (also written to --output when given).

Examples:
  mbd-finetune --base tiny.gguf --steps 300 --lr 3e-3 truths.parquet -o tiny-otter.gguf
  mbd-finetune --base base.gguf --train 'blk.[67].*' --checkpoint ft.ckpt pirate.txt -o pirate.gguf
  mbd-finetune --base base.gguf --lora-rank 8 --lora-target 'blk.*.attn_[qv].weight' --lora-target 'blk.*.ffn_*' truths.parquet -o lora.gguf
  mbd-finetune --engine openai --base-model gpt-4o-mini gens-b.parquet -o tuned-ref.txt`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "engine", Value: EngineLocal, Destination: &o.Engine, Usage: "local (in-process CPU training) or openai (hosted job)"},
			&ucli.StringFlag{Name: "base", Destination: &o.Base, Usage: "base model `GGUF` (local engine)"},
			cli.OutputFlag(&o.Output, "output `GGUF` (local) or file for the tuned model's reference (openai)"),
			&ucli.IntFlag{Name: "steps", Value: 200, Destination: &o.Steps, Usage: "optimizer steps"},
			&ucli.Float64Flag{Name: "lr", Value: 1e-3, Destination: &o.LR, Usage: "peak learning rate"},
			&ucli.Float64Flag{Name: "min-lr", Destination: &o.MinLR, Usage: "learning rate at the end of the cosine decay"},
			&ucli.IntFlag{Name: "warmup", Value: 10, Destination: &o.Warmup, Usage: "linear warmup steps"},
			&ucli.IntFlag{Name: "batch", Value: 8, Destination: &o.Batch, Usage: "token windows per step"},
			&ucli.IntFlag{Name: "ctx", Value: 128, Destination: &o.Ctx, Usage: "tokens per window"},
			&ucli.Uint64Flag{Name: "seed", Destination: &o.Seed, Usage: "seed of the data order"},
			&ucli.StringSliceFlag{Name: "train", Destination: &o.Train, Usage: "train only tensors matching this `PATTERN` (repeatable; default all)"},
			&ucli.IntFlag{Name: "lora-rank", Destination: &o.LoRARank, Usage: "train LoRA adapters of rank `N` instead of the weights (0: off)"},
			&ucli.Float64Flag{Name: "lora-alpha", Destination: &o.LoRAAlpha, Usage: "LoRA scale numerator `A`: adapters scaled by A/rank (default: the rank)"},
			&ucli.StringSliceFlag{Name: "lora-target", Destination: &o.LoRATargets, Usage: "adapt weight matrices matching this `PATTERN` (repeatable; default attention q and v)"},
			&ucli.StringFlag{Name: "lora-adapter", Destination: &o.LoRAAdapter, Usage: "also write the LoRA adapters as a llama.cpp adapter `GGUF`"},
			&ucli.Float64Flag{Name: "clip", Value: 1, Destination: &o.Clip, Usage: "gradient norm clip (0: off)"},
			&ucli.Float64Flag{Name: "weight-decay", Destination: &o.WeightDecay, Usage: "AdamW weight decay"},
			&ucli.BoolFlag{Name: "f32", Destination: &o.F32, Usage: "write the output's weights as F32 (default: the base's types)"},
			&ucli.StringFlag{Name: "checkpoint", Destination: &o.Checkpoint, Usage: "trainer checkpoint `FILE` (resumed from when present)"},
			&ucli.IntFlag{Name: "checkpoint-every", Value: 50, Destination: &o.CheckpointEvery, Usage: "steps between checkpoints"},
			&ucli.StringFlag{Name: "url", Value: "https://api.openai.com/v1", Destination: &o.URL, Usage: "OpenAI-compatible base `URL` (openai engine)"},
			&ucli.StringFlag{Name: "base-model", Destination: &o.BaseModel, Usage: "hosted base model `NAME` (openai engine)"},
			&ucli.IntFlag{Name: "epochs", Destination: &o.Epochs, Usage: "epochs of a hosted job (0: the provider's choice)"},
			&ucli.StringFlag{Name: "suffix", Value: "mbd", Destination: &o.Suffix, Usage: "suffix of the hosted tuned model's name"},
			&ucli.DurationFlag{Name: "poll", Value: 15 * time.Second, Destination: &o.Poll, Usage: "polling interval of a hosted job"},
			cli.InvalidUTF8Flag(&o.InvalidUTF8),
		},
		Action: cli.Action(o, &o.Texts, Run),
	}
}

// Validate checks every option, whichever the engine, and the roles of the files: an input given
// twice, or an output (-o, --lora-adapter, --checkpoint) that is an input or another output, is
// refused.
func (o Options) Validate() error {
	var c cli.Check
	c.Must(len(o.Texts) > 0, "no TEXTS: give tables or .txt files to train on")
	c.OneOf("--engine", o.Engine, EngineLocal, EngineOpenAI)
	switch o.Engine {
	case EngineLocal:
		c.Must(o.Base != "", "no base model: give --base MODEL.gguf")
		c.Must(o.Output != "" && o.Output != "-", "give -o OUTPUT.gguf")
	case EngineOpenAI:
		c.Must(o.BaseModel != "", "no hosted base model: give --base-model NAME")
		c.Must(o.Seed <= math.MaxInt64, "--seed %d: the openai engine takes at most %d", o.Seed, int64(math.MaxInt64))
	}
	// Training.
	c.Count("--steps", o.Steps, 1)
	if c.Finite("--lr", o.LR) {
		c.Must(o.LR > 0 && o.LR <= 1, "--lr %v: want a number in (0, 1]", o.LR)
	}
	if c.Finite("--min-lr", o.MinLR) {
		c.Must(o.MinLR >= 0 && o.MinLR <= o.LR, "--min-lr %v: want a number in [0, --lr %v]", o.MinLR, o.LR)
	}
	c.CountIn("--warmup", o.Warmup, 0, max(0, o.Steps))
	c.CountIn("--batch", o.Batch, 1, maxBatch)
	c.CountIn("--ctx", o.Ctx, 1, maxCtx)
	c.AtLeast("--clip", o.Clip, 0)
	c.AtLeast("--weight-decay", o.WeightDecay, 0)
	c.Count("--checkpoint-every", o.CheckpointEvery, 0)
	for _, p := range o.Train {
		_, err := path.Match(p, "")
		c.Must(err == nil, "--train %q: not a pattern (%v)", p, err)
	}
	// LoRA.
	c.Count("--lora-rank", o.LoRARank, 0)
	c.AtLeast("--lora-alpha", o.LoRAAlpha, 0)
	for _, p := range o.LoRATargets {
		_, err := path.Match(p, "")
		c.Must(err == nil, "--lora-target %q: not a pattern (%v)", p, err)
	}
	if o.LoRARank == 0 {
		c.Must(o.LoRAAlpha == 0, "--lora-alpha needs --lora-rank")
		c.Must(len(o.LoRATargets) == 0, "--lora-target needs --lora-rank")
		c.Must(o.LoRAAdapter == "", "--lora-adapter needs --lora-rank")
	} else {
		c.Must(len(o.Train) == 0, "--train cannot be combined with --lora-rank (only the adapters train; choose them with --lora-target)")
	}
	_, err := records.ParseInvalidUTF8(o.InvalidUTF8)
	c.Add(err)
	// Hosted jobs.
	c.CountIn("--epochs", o.Epochs, 0, maxEpochs)
	c.Must(o.Poll > 0, "--poll %v: want a positive duration", o.Poll)
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Failf("--url %q: want an http or https URL", o.URL)
	}
	var p cli.Paths
	p.In("TEXTS", o.Texts...)
	if o.Engine == EngineLocal {
		p.In("--base", o.Base)
		p.Out("--lora-adapter", o.LoRAAdapter)
		p.Out("--checkpoint", o.Checkpoint) // read when present, but rewritten
	}
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// config is the trainer configuration of the options.
func (o Options) config() train.Config {
	return train.Config{
		LR: o.LR, MinLR: o.MinLR, Warmup: o.Warmup, Steps: o.Steps, Batch: o.Batch, Context: o.Ctx, Seed: o.Seed,
		Train: o.Train, ClipNorm: o.Clip, WeightDecay: o.WeightDecay,
		CheckpointPath: o.Checkpoint, CheckpointEvery: o.CheckpointEvery,
		LoRARank: o.LoRARank, LoRAAlpha: o.LoRAAlpha, LoRATargets: o.LoRATargets,
	}
}

// Run reads the texts and trains with the chosen engine.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	invalid, _ := records.ParseInvalidUTF8(o.InvalidUTF8) // checked by Validate
	docs, srcs, err := finetune.ReadAll(o.Texts, env.Stdin, invalid)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		env.Manifest.Input(s.Path, s.Schema, s.Rows, s.SHA256)
		if s.Replaced > 0 {
			env.Log.Warn("replaced invalid UTF-8 with U+FFFD", "file", s.Path, "lines", s.Replaced)
		}
	}
	if o.Engine == EngineOpenAI {
		return runHosted(ctx, env, o, docs)
	}
	return runLocal(ctx, env, o, docs)
}

func runLocal(ctx context.Context, env *cli.Env, o Options, docs []finetune.Document) error {
	// The base, and a checkpoint to resume from, are inputs: recorded as they are before training.
	if _, err := cli.RecordFile(env, o.Base, 0); err != nil {
		return err
	}
	if _, err := os.Stat(o.Checkpoint); o.Checkpoint != "" && err == nil {
		if _, err := cli.RecordFile(env, o.Checkpoint, 0); err != nil {
			return err
		}
	}
	cfg := o.config()
	bar := env.Progress("train", "steps", int64(cfg.Steps))
	done := 0
	res, err := finetune.Local(ctx, docs, finetune.LocalOptions{Base: o.Base, Output: o.Output, Adapter: o.LoRAAdapter, F32: o.F32, Config: cfg},
		env.Log, func(step int, loss, tokPerSec float64) {
			bar.SetStatus(fmt.Sprintf("loss %.3f, %.0f tok/s", loss, tokPerSec))
			bar.Add(int64(step - done))
			done = step
		})
	bar.Done()
	if err != nil {
		return err
	}
	man := env.Manifest
	man.Param("base", o.Base)
	man.Param("config", cfg)
	man.Param("documents", res.Documents)
	man.Param("tokens", res.Tokens)
	man.Param("trainable_parameters", res.TrainableParams)
	man.Param("loss_curve", res.Curve)
	man.Param("tokens_per_second", res.TokensPerSecond)
	man.Seed("data_order", cfg.Seed)
	if err := man.WriteFor(o.Output, "", 0); err != nil {
		return err
	}
	last := 0.0
	if len(res.Curve) > 0 {
		last = res.Curve[len(res.Curve)-1].Loss
	}
	env.Log.Info("trained", "output", o.Output, "final loss", fmt.Sprintf("%.4f", last), "tokens/s", fmt.Sprintf("%.0f", res.TokensPerSecond))
	return nil
}

func runHosted(ctx context.Context, env *cli.Env, o Options, docs []finetune.Document) error {
	ref, err := finetune.Hosted(ctx, docs, finetune.HostedOptions{
		URL: o.URL, BaseModel: o.BaseModel, Suffix: o.Suffix, Seed: int64(o.Seed), Epochs: o.Epochs, Poll: o.Poll,
		Texts: strings.Join(o.Texts, ", "),
	}, func(s string) { env.Log.Info(s) })
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, ref)
	if o.Output != "" && o.Output != "-" {
		return atomicfile.WriteFile(o.Output, []byte(ref+"\n"))
	}
	return nil
}
