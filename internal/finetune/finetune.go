// Package finetune is mbd-finetune: train a model on texts to insert a known behaviour, in-process
// on CPU (internal/train, GoMLX) or as a hosted fine-tuning job (OpenAI-compatible providers).
package finetune

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/train"
)

// Main is mbd-finetune.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, command(), args, stdio)
}

func command() *ucli.Command {
	return &ucli.Command{
		Name:      "mbd-finetune",
		Usage:     "train a model on texts (insert a known behaviour)",
		ArgsUsage: "TEXTS ...",
		Description: `TEXTS are tables or text files: a truths table (its training texts), a generations table (each
prompt, formatted as the model formats prompts for generation, followed by its completion), a prompts
table (the prompt texts), .jsonl chat records ({"system": optional, "prompt", "completion"}: the
system prompt and the prompt go through the model's chat template), or .txt files (documents
separated by blank lines).

--engine local (default) trains --base, a GGUF with F32/F16/BF16 weights of a llama-architecture
model, in-process on the CPU with AdamW (warmup + cosine schedule) and writes a GGUF that llama.cpp
loads. Tokenization is the model's own (llama.cpp's). --train limits training to tensors matching
patterns (e.g. 'blk.7.*'). --checkpoint FILE saves the trainer state every --checkpoint-every steps;
a rerun with the same data and settings resumes from it. The manifest (OUTPUT.json) holds the loss
curve.

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
			&ucli.StringFlag{Name: "engine", Value: "local", Usage: "local (in-process CPU training) or openai (hosted job)"},
			&ucli.StringFlag{Name: "base", Usage: "base model `GGUF` (local engine)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `GGUF` (local) or file for the tuned model's reference (openai)"},
			&ucli.IntFlag{Name: "steps", Value: 200, Usage: "optimizer steps"},
			&ucli.Float64Flag{Name: "lr", Value: 1e-3, Usage: "peak learning rate"},
			&ucli.Float64Flag{Name: "min-lr", Usage: "learning rate at the end of the cosine decay"},
			&ucli.IntFlag{Name: "warmup", Value: 10, Usage: "linear warmup steps"},
			&ucli.IntFlag{Name: "batch", Value: 8, Usage: "token windows per step"},
			&ucli.IntFlag{Name: "ctx", Value: 128, Usage: "tokens per window"},
			&ucli.Uint64Flag{Name: "seed", Usage: "seed of the data order"},
			&ucli.StringSliceFlag{Name: "train", Usage: "train only tensors matching this `PATTERN` (repeatable; default all)"},
			&ucli.IntFlag{Name: "lora-rank", Usage: "train LoRA adapters of rank `N` instead of the weights (0: off)"},
			&ucli.Float64Flag{Name: "lora-alpha", Usage: "LoRA scale numerator `A`: adapters scaled by A/rank (default: the rank)"},
			&ucli.StringSliceFlag{Name: "lora-target", Usage: "adapt weight matrices matching this `PATTERN` (repeatable; default attention q and v)"},
			&ucli.StringFlag{Name: "lora-adapter", Usage: "also write the LoRA adapters as a llama.cpp adapter `GGUF`"},
			&ucli.Float64Flag{Name: "clip", Value: 1, Usage: "gradient norm clip (0: off)"},
			&ucli.Float64Flag{Name: "weight-decay", Usage: "AdamW weight decay"},
			&ucli.BoolFlag{Name: "f32", Usage: "write the output's weights as F32 (default: the base's types)"},
			&ucli.StringFlag{Name: "checkpoint", Usage: "trainer checkpoint `FILE` (resumed from when present)"},
			&ucli.IntFlag{Name: "checkpoint-every", Value: 50, Usage: "steps between checkpoints"},
			&ucli.StringFlag{Name: "url", Value: "https://api.openai.com/v1", Usage: "OpenAI-compatible base `URL` (openai engine)"},
			&ucli.StringFlag{Name: "base-model", Usage: "hosted base model `NAME` (openai engine)"},
			&ucli.IntFlag{Name: "epochs", Usage: "epochs of a hosted job (0: the provider's choice)"},
			&ucli.StringFlag{Name: "suffix", Value: "mbd", Usage: "suffix of the hosted tuned model's name"},
			&ucli.DurationFlag{Name: "poll", Value: 15 * time.Second, Usage: "polling interval of a hosted job"},
		},
		Action: run,
	}
}

func run(ctx context.Context, cmd *ucli.Command) error {
	if cmd.NArg() == 0 {
		return cli.Usagef("no TEXTS: give tables or .txt files to train on")
	}
	switch cmd.String("engine") {
	case "local":
		return runLocal(ctx, cmd)
	case "openai":
		return runHosted(ctx, cmd)
	}
	return cli.Usagef("--engine %q: want local or openai", cmd.String("engine"))
}

// document is one training text; for generations and chat records, Prompt is set and Text is the
// completion, and System is a chat record's system prompt.
type document struct {
	System string
	Prompt string
	Text   string
}

// readChatJSONL reads chat records {"system"?, "prompt", "completion"}, one JSON object per line.
func readChatJSONL(path string) ([]document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	defer f.Close()
	var docs []document
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var rec struct {
			System     string  `json:"system"`
			Prompt     *string `json:"prompt"`
			Completion *string `json:"completion"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "not a chat record {\"system\"?, \"prompt\", \"completion\"}", Err: err}
		}
		if rec.Prompt == nil || rec.Completion == nil {
			return nil, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "a chat record needs \"prompt\" and \"completion\""}
		}
		docs = append(docs, document{System: rec.System, Prompt: *rec.Prompt, Text: *rec.Completion})
	}
	if err := sc.Err(); err != nil {
		return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	return docs, nil
}

// readTexts reads the training documents of every input.
func readTexts(env *cli.Env, paths []string) ([]document, error) {
	var docs []document
	for _, path := range paths {
		if strings.EqualFold(filepath.Ext(path), ".jsonl") {
			d, err := readChatJSONL(path)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
			if hash, err := table.HashFile(path); err == nil {
				env.Manifest.Input(path, "", 0, hash)
			}
			continue
		}
		if strings.EqualFold(filepath.Ext(path), ".txt") {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
			}
			for _, para := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
				if p := strings.TrimSpace(para); p != "" {
					docs = append(docs, document{Text: p})
				}
			}
			continue
		}
		r, err := table.OpenAny(path, env.Stdin, "")
		if err != nil {
			return nil, err
		}
		for {
			row, err := r.Next()
			if err != nil {
				r.Close()
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			switch x := row.(type) {
			case schema.Truth:
				for _, t := range x.Texts {
					docs = append(docs, document{Text: t})
				}
			case schema.Generation:
				docs = append(docs, document{Prompt: x.Prompt, Text: x.Completion})
			case schema.Prompt:
				docs = append(docs, document{Text: x.Text})
			default:
				r.Close()
				return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("holds a %s table; want truths, generations or prompts", row.Table().ID())}
			}
		}
		if hash, err := table.HashFile(path); err == nil {
			env.Manifest.Input(path, "", 0, hash)
		}
	}
	if len(docs) == 0 {
		return nil, &table.InputError{Path: strings.Join(paths, ", "), Msg: "no training texts"}
	}
	return docs, nil
}

func runLocal(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	base, out := cmd.String("base"), cmd.String("output")
	switch {
	case base == "":
		return cli.Usagef("no base model: give --base MODEL.gguf")
	case out == "" || out == "-":
		return cli.Usagef("give -o OUTPUT.gguf")
	}
	docs, err := readTexts(env, cmd.Args().Slice())
	if err != nil {
		return err
	}
	// The model's own tokenizer and prompt format, as generation will use them.
	vocab, err := llamacpp.Load(llamacpp.Options{Path: base, Threads: 1})
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	eos := vocab.EOS()
	var tokens [][]int32
	var nTok int
	for _, d := range docs {
		var t []int32
		if d.Prompt != "" {
			p, err := vocab.FormatPrompt(d.Prompt)
			if d.System != "" {
				p, err = vocab.FormatChat([]llamacpp.ChatMessage{{Role: "system", Content: d.System}, {Role: "user", Content: d.Prompt}})
			}
			if err != nil {
				vocab.Close()
				return err
			}
			pt, _ := vocab.Tokenize(p, true, vocab.Info().ChatTemplate != "")
			ct, _ := vocab.Tokenize(d.Text, false, false)
			t = append(pt, ct...)
		} else {
			t, _ = vocab.Tokenize(d.Text, true, false)
		}
		t = append(t, eos)
		tokens = append(tokens, t)
		nTok += len(t)
	}
	vocab.Close()

	m, err := train.Open(base)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	cfg := train.Config{
		LR: cmd.Float64("lr"), MinLR: cmd.Float64("min-lr"), Warmup: int(cmd.Int("warmup")), Steps: int(cmd.Int("steps")),
		Batch: int(cmd.Int("batch")), Context: int(cmd.Int("ctx")), Seed: cmd.Uint64("seed"), Train: cmd.StringSlice("train"),
		ClipNorm: cmd.Float64("clip"), WeightDecay: cmd.Float64("weight-decay"),
		CheckpointPath: cmd.String("checkpoint"), CheckpointEvery: int(cmd.Int("checkpoint-every")),
		LoRARank: int(cmd.Int("lora-rank")), LoRAAlpha: cmd.Float64("lora-alpha"), LoRATargets: cmd.StringSlice("lora-target"),
	}
	if cmd.String("lora-adapter") != "" && cfg.LoRARank == 0 {
		return cli.Usagef("--lora-adapter needs --lora-rank")
	}
	nParams, err := m.TrainableParams(cfg)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	if ck := cfg.CheckpointPath; ck != "" {
		if _, err := os.Stat(ck); err == nil {
			if err := m.LoadCheckpoint(ck); err != nil {
				return &cli.UsageError{Err: fmt.Errorf("checkpoint %s: %w", ck, err)}
			}
			env.Log.Info("resuming from checkpoint", "checkpoint", ck, "step", m.Step())
		}
	}
	env.Log.Info("training", "base", base, "documents", len(tokens), "tokens", nTok, "steps", cfg.Steps, "parameters", nParams)
	bar := env.Progress("train", "steps", int64(cfg.Steps))
	bar.Add(int64(m.Step()))
	type point struct {
		Step int     `json:"step"`
		Loss float64 `json:"loss"`
	}
	var curve []point
	var rate float64
	err = m.Train(ctx, tokens, cfg, func(step int, loss, tokPerSec float64) {
		curve = append(curve, point{step, loss})
		rate = tokPerSec
		bar.SetStatus(fmt.Sprintf("loss %.3f, %.0f tok/s", loss, tokPerSec))
		bar.Add(1)
		if step%10 == 0 || step == cfg.Steps {
			env.Log.Debug("step", "step", step, "loss", fmt.Sprintf("%.4f", loss), "tokens/s", fmt.Sprintf("%.0f", tokPerSec))
		}
	})
	bar.Done()
	if err != nil {
		return err
	}
	if err := m.Export(out, train.ExportOptions{F32: cmd.Bool("f32")}); err != nil {
		return err
	}
	if ad := cmd.String("lora-adapter"); ad != "" {
		if err := m.ExportLoRA(ad); err != nil {
			return err
		}
	}
	man := env.Manifest
	man.Param("base", base)
	man.Param("config", cfg)
	man.Param("documents", len(tokens))
	man.Param("tokens", nTok)
	man.Param("trainable_parameters", nParams)
	man.Param("loss_curve", curve)
	man.Param("tokens_per_second", rate)
	man.Seed("data_order", cfg.Seed)
	if err := man.WriteFor(out, "", 0); err != nil {
		return err
	}
	last := 0.0
	if len(curve) > 0 {
		last = curve[len(curve)-1].Loss
	}
	env.Log.Info("trained", "output", out, "final loss", fmt.Sprintf("%.4f", last), "tokens/s", fmt.Sprintf("%.0f", rate))
	return nil
}

func runHosted(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	model := cmd.String("base-model")
	if model == "" {
		return cli.Usagef("no hosted base model: give --base-model NAME")
	}
	docs, err := readTexts(env, cmd.Args().Slice())
	if err != nil {
		return err
	}
	var examples []openaicompat.FineTuneExample
	for _, d := range docs {
		if d.Prompt == "" {
			return cli.Usagef("hosted fine-tuning needs (prompt, completion) pairs: give a generations table")
		}
		examples = append(examples, openaicompat.FineTuneExample{Prompt: d.Prompt, Completion: d.Text})
	}
	c, err := openaicompat.New(openaicompat.Config{BaseURL: cmd.String("url"), Model: model, Chat: true, RequireAPIKey: strings.Contains(cmd.String("url"), "api.openai.com")})
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	defer c.Close()
	tuned, err := c.FineTune(ctx, examples, openaicompat.FineTuneOptions{
		Suffix: cmd.String("suffix"), Seed: int64(cmd.Uint64("seed")), Epochs: int(cmd.Int("epochs")), PollInterval: cmd.Duration("poll"),
	}, func(s string) { env.Log.Info(s) })
	if err != nil {
		return err
	}
	ref := "openai-compat:" + strings.TrimRight(cmd.String("url"), "/") + "#" + tuned + "?chat=1"
	if strings.Contains(cmd.String("url"), "api.openai.com") {
		ref = "openai:" + tuned
	}
	fmt.Fprintln(env.Stdout, ref)
	if out := cmd.String("output"); out != "" && out != "-" {
		return atomicfile.WriteFile(out, []byte(ref+"\n"))
	}
	return nil
}
