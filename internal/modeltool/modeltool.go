// Package modeltool is mbd-model: inspect, quantize, create, score, convert and compare (diff) models.
package modeltool

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-model.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-model",
		Usage: "inspect, quantize, create, score, convert and compare models",
		Description: `Examples:
  mbd-model create --corpus notes.txt --layers 2 --embd 64 -o tiny.gguf
  mbd-model info tiny.gguf
  mbd-model quantize --type Q8_0 tiny.gguf tiny-q8.gguf
  mbd-model score --model gguf:tiny.gguf generations.parquet -o scores.parquet
  mbd-model convert ./SmolLM2-135M -o smollm2.gguf
  mbd-model diff tiny.gguf tiny-q8.gguf`,
		Commands: []*ucli.Command{infoCommand(), quantizeCommand(), scoreCommand(), createCommand(), convertCommand(), diffCommand()},
	}, args, stdio)
}

func infoCommand() *ucli.Command {
	return &ucli.Command{
		Name: "info", Usage: "describe a GGUF model", ArgsUsage: "MODEL.gguf",
		Flags: []ucli.Flag{&ucli.BoolFlag{Name: "json", Usage: "print JSON"}, &ucli.BoolFlag{Name: "metadata", Usage: "list every metadata key"}},
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			env := cli.FromContext(ctx)
			if cmd.NArg() != 1 {
				return cli.Usagef("want one MODEL.gguf")
			}
			m, err := llamacpp.Load(llamacpp.Options{Path: cmd.Args().First()})
			if err != nil {
				return badModel(err)
			}
			defer m.Close()
			info := m.Info()
			if !cmd.Bool("metadata") {
				for k := range info.Metadata {
					if strings.HasPrefix(k, "tokenizer.") {
						delete(info.Metadata, k)
					}
				}
			}
			if cmd.Bool("json") {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			tw := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintf(tw, "file\t%s\n", cmd.Args().First())
			fmt.Fprintf(tw, "description\t%s\n", info.Description)
			fmt.Fprintf(tw, "architecture\t%s\n", info.Arch)
			fmt.Fprintf(tw, "parameters\t%d\n", info.Params)
			fmt.Fprintf(tw, "file type\t%s\n", info.FileType)
			fmt.Fprintf(tw, "vocabulary\t%d tokens\n", info.VocabSize)
			fmt.Fprintf(tw, "layers\t%d\n", info.Layers)
			fmt.Fprintf(tw, "embedding\t%d\n", info.EmbeddingDim)
			fmt.Fprintf(tw, "trained context\t%d\n", info.ContextTrain)
			tmpl := "none"
			if info.ChatTemplate != "" {
				tmpl = fmt.Sprintf("%d bytes", len(info.ChatTemplate))
			}
			fmt.Fprintf(tw, "chat template\t%s\n", tmpl)
			if cmd.Bool("metadata") {
				keys := make([]string, 0, len(info.Metadata))
				for k := range info.Metadata {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					v := info.Metadata[k]
					if len(v) > 80 {
						v = v[:77] + "..."
					}
					fmt.Fprintf(tw, "%s\t%s\n", k, strings.ReplaceAll(v, "\n", `\n`))
				}
			}
			return tw.Flush()
		},
	}
}

// badModel marks model-loading errors as bad input (exit 2).
func badModel(err error) error { return &cli.UsageError{Err: err} }

func quantizeCommand() *ucli.Command {
	return &ucli.Command{
		Name: "quantize", Usage: "write a quantized copy of a GGUF model", ArgsUsage: "IN.gguf OUT.gguf",
		Description: "Types: " + strings.Join(llamacpp.QuantTypes(), ", ") + `. Row sizes must be multiples of 32 (256 for
the K-quants; llama.cpp falls back to another type for tensors that do not fit).`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "type", Value: "Q8_0", Usage: "quantization type"},
			&ucli.IntFlag{Name: "threads", Usage: "threads (0: all CPUs)"},
		},
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			env := cli.FromContext(ctx)
			if cmd.NArg() != 2 {
				return cli.Usagef("want IN.gguf OUT.gguf")
			}
			in, out := cmd.Args().Get(0), cmd.Args().Get(1)
			tmp := out + ".tmp"
			defer os.Remove(tmp)
			if err := llamacpp.Quantize(in, tmp, cmd.String("type"), int(cmd.Int("threads"))); err != nil {
				return badModel(err)
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			env.Manifest.Input(in, "", 0, "")
			env.Manifest.Param("type", strings.ToUpper(cmd.String("type")))
			if err := env.Manifest.WriteFor(out, "", 0); err != nil {
				return err
			}
			st, _ := os.Stat(out)
			env.Log.Info("quantized", "in", in, "out", out, "type", strings.ToUpper(cmd.String("type")), "bytes", st.Size())
			return nil
		},
	}
}

func scoreCommand() *ucli.Command {
	return &ucli.Command{
		Name: "score", Usage: "log-probabilities of a table's completions under a model", ArgsUsage: "GENERATIONS",
		Description: `Scores every completion of a generations table given its prompt (teacher forcing), token by
token, under --model, and writes a scores table. The prompt is formatted as the model formats it for
generation (chat template, hidden system prompt).`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "model `REF` (gguf:PATH[?...] or openai-compat:URL#MODEL)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output scores table (`PATH` or -)"},
			&ucli.IntFlag{Name: "batch", Value: 32, Usage: "completions per scoring call"},
		},
		Action: runScore,
	}
}

func runScore(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	switch {
	case cmd.String("model") == "":
		return cli.Usagef("no model: give --model REF")
	case cmd.String("output") == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case cmd.NArg() != 1:
		return cli.Usagef("want one GENERATIONS table")
	case cmd.Int("batch") < 1:
		return cli.Usagef("--batch must be at least 1")
	}
	in, out, ref := cmd.Args().First(), cmd.String("output"), cmd.String("model")
	r, err := table.Open[schema.Generation](in, env.Stdin)
	if err != nil {
		return err
	}
	defer r.Close()
	model, err := backends.Open(ref)
	if err != nil {
		return badModel(err)
	}
	defer model.Close()
	w, err := table.Create[schema.Score](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	detok, _ := model.(interface {
		Detokenize([]int32, bool) string
	})
	bar := env.Progress("score", "texts", r.NumRows())
	batch := make([]schema.Generation, 0, cmd.Int("batch"))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		reqs := make([]llm.ScoreRequest, len(batch))
		for i, g := range batch {
			reqs[i] = llm.ScoreRequest{ID: g.ID, Prompt: g.Prompt, Completion: g.Completion}
		}
		res, err := model.Score(ctx, reqs)
		if err != nil {
			return err
		}
		for _, s := range res {
			row := schema.Score{GenerationID: s.ID, Scorer: ref, LogprobSum: s.Sum, LogprobMean: s.Mean}
			for i, t := range s.Tokens {
				if detok != nil {
					row.Tokens = append(row.Tokens, detok.Detokenize([]int32{t}, false))
				}
				row.Logprobs = append(row.Logprobs, float32(s.Logprobs[i]))
			}
			if err := w.Write(row); err != nil {
				return err
			}
		}
		bar.Add(int64(len(batch)))
		batch = batch[:0]
		return nil
	}
	for g, err := range r.All() {
		if err != nil {
			return err
		}
		batch = append(batch, g)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	bar.Done()
	if err := w.Commit(); err != nil {
		return err
	}
	hash, err := r.Hash()
	if err != nil {
		return err
	}
	env.Manifest.Input(in, schema.Generations.ID(), w.Rows(), hash)
	env.Manifest.Param("model", ref)
	if err := env.Manifest.WriteFor(out, schema.Scores.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("scored", "texts", w.Rows(), "model", ref, "output", out)
	return nil
}
