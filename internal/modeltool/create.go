package modeltool

import (
	"context"
	"os"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

func createCommand() *ucli.Command {
	d := tinymodel.DefaultConfig()
	return &ucli.Command{
		Name: "create", Usage: "create a small llama-architecture model with random weights", ArgsUsage: " ",
		Description: `Trains a byte-level BPE tokenizer on --corpus (default: an embedded 48 KB English corpus) and
writes a llama-architecture GGUF with random weights (normal, std 0.02, from --seed) that llama.cpp
loads. For tests and for mbd-finetune to train; no weights are downloaded.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `MODEL.gguf`"},
			&ucli.StringFlag{Name: "corpus", Usage: "text `FILE` to train the tokenizer on"},
			&ucli.IntFlag{Name: "vocab", Value: d.VocabSize, Usage: "vocabulary size"},
			&ucli.IntFlag{Name: "embd", Value: d.NEmbd, Usage: "embedding length"},
			&ucli.IntFlag{Name: "layers", Value: d.NLayer, Usage: "transformer blocks"},
			&ucli.IntFlag{Name: "heads", Value: d.NHead, Usage: "attention heads"},
			&ucli.IntFlag{Name: "kv-heads", Value: d.NHeadKV, Usage: "key/value heads (0: as many as heads)"},
			&ucli.IntFlag{Name: "ff", Value: d.NFF, Usage: "feed-forward size"},
			&ucli.IntFlag{Name: "ctx", Value: d.ContextLength, Usage: "training context length"},
			&ucli.StringFlag{Name: "weights", Value: "f16", Usage: "type of the 2-D weights: f32, f16 or bf16"},
			&ucli.BoolFlag{Name: "chat", Usage: "add ChatML control tokens and chat template"},
			&ucli.StringFlag{Name: "name", Usage: "general.name"},
			&ucli.Uint64Flag{Name: "seed", Usage: "seed of the random weights"},
		},
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			env := cli.FromContext(ctx)
			out := cmd.String("output")
			if out == "" {
				return cli.Usagef("no output: give -o MODEL.gguf")
			}
			cfg := tinymodel.DefaultConfig()
			cfg.Name = cmd.String("name")
			cfg.VocabSize = int(cmd.Int("vocab"))
			cfg.NEmbd = int(cmd.Int("embd"))
			cfg.NLayer = int(cmd.Int("layers"))
			cfg.NHead = int(cmd.Int("heads"))
			cfg.NHeadKV = int(cmd.Int("kv-heads"))
			cfg.NFF = int(cmd.Int("ff"))
			cfg.ContextLength = int(cmd.Int("ctx"))
			cfg.Chat = cmd.Bool("chat")
			wt, err := tinymodel.ParseWeightType(cmd.String("weights"))
			if err != nil {
				return cli.Usagef("--weights: %v", err)
			}
			cfg.WeightType = wt
			if err := cfg.Validate(); err != nil {
				return cli.Usagef("%v", err)
			}
			corpus := ""
			if p := cmd.String("corpus"); p != "" {
				b, err := os.ReadFile(p)
				if err != nil {
					return cli.Usagef("--corpus: %v", err)
				}
				corpus = string(b)
			}
			tok, err := tinymodel.TrainAndCreate(out, corpus, cfg, cmd.Uint64("seed"))
			if err != nil {
				return err
			}
			n := len(tok.Tokens)
			if n < cfg.VocabSize {
				env.Log.Warn("the corpus supports a smaller vocabulary than asked for", "asked", cfg.VocabSize, "got", n)
			}
			st, _ := os.Stat(out)
			env.Manifest.Param("config", cfg)
			env.Manifest.Seed("weights", cmd.Uint64("seed"))
			if err := env.Manifest.WriteFor(out, "", 0); err != nil {
				return err
			}
			env.Log.Info("created model", "output", out, "vocab", n, "params", cfg.ParamCount(n), "bytes", st.Size())
			return nil
		},
	}
}
