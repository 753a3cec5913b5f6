package modelcmd

import (
	"context"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// CreateOptions are the options of mbd-model create.
type CreateOptions struct {
	Output  string   // -o
	Corpus  string   // --corpus
	Vocab   int      // --vocab
	Embd    int      // --embd
	Layers  int      // --layers
	Heads   int      // --heads
	KVHeads int      // --kv-heads
	FF      int      // --ff
	Ctx     int      // --ctx
	Weights string   // --weights
	Chat    bool     // --chat
	Name    string   // --name
	Seed    uint64   // --seed
	Args    []string // arguments (none expected)
}

// Bounds of the model shape. create makes small models for tests and finetuning demos: a
// vocabulary of at most 2^20 tokens and at most maxParams parameters (8 GiB of F16 weights).
const (
	maxVocab  = 1 << 20
	maxEmbd   = 1 << 16
	maxLayers = 1024
	maxFF     = 1 << 18
	maxCtx    = 1 << 24
	maxParams = 1 << 32
)

func createCommand() *ucli.Command {
	d := tinymodel.DefaultConfig()
	o := &CreateOptions{}
	return &ucli.Command{
		Name: "create", Usage: "create a small llama-architecture model with random weights", ArgsUsage: " ",
		Description: `Trains a byte-level BPE tokenizer on --corpus (default: an embedded 48 KB English corpus) and
writes a llama-architecture GGUF with random weights (normal, std 0.02, from --seed) that llama.cpp
loads. For tests and for mbd-finetune to train; no weights are downloaded.`,
		Flags: []ucli.Flag{
			cli.OutputFlag(&o.Output, "output `MODEL.gguf`"),
			&ucli.StringFlag{Name: "corpus", Destination: &o.Corpus, Usage: "text `FILE` to train the tokenizer on"},
			&ucli.IntFlag{Name: "vocab", Value: d.VocabSize, Destination: &o.Vocab, Usage: "vocabulary size"},
			&ucli.IntFlag{Name: "embd", Value: d.NEmbd, Destination: &o.Embd, Usage: "embedding length"},
			&ucli.IntFlag{Name: "layers", Value: d.NLayer, Destination: &o.Layers, Usage: "transformer blocks"},
			&ucli.IntFlag{Name: "heads", Value: d.NHead, Destination: &o.Heads, Usage: "attention heads"},
			&ucli.IntFlag{Name: "kv-heads", Value: d.NHeadKV, Destination: &o.KVHeads, Usage: "key/value heads (0: as many as heads)"},
			&ucli.IntFlag{Name: "ff", Value: d.NFF, Destination: &o.FF, Usage: "feed-forward size"},
			&ucli.IntFlag{Name: "ctx", Value: d.ContextLength, Destination: &o.Ctx, Usage: "training context length"},
			&ucli.StringFlag{Name: "weights", Value: "f16", Destination: &o.Weights, Usage: "type of the 2-D weights: f32, f16 or bf16"},
			&ucli.BoolFlag{Name: "chat", Destination: &o.Chat, Usage: "add ChatML control tokens and chat template"},
			&ucli.StringFlag{Name: "name", Destination: &o.Name, Usage: "general.name"},
			&ucli.Uint64Flag{Name: "seed", Destination: &o.Seed, Usage: "seed of the random weights"},
		},
		Action: cli.Action(o, &o.Args, RunCreate),
	}
}

// config is the model configuration the options describe.
func (o CreateOptions) config() tinymodel.Config {
	cfg := tinymodel.DefaultConfig()
	cfg.Name = o.Name
	cfg.VocabSize, cfg.NEmbd, cfg.NLayer, cfg.NHead, cfg.NHeadKV = o.Vocab, o.Embd, o.Layers, o.Heads, o.KVHeads
	cfg.NFF, cfg.ContextLength, cfg.Chat = o.FF, o.Ctx, o.Chat
	cfg.WeightType, _ = tinymodel.ParseWeightType(o.Weights)
	return cfg
}

// Validate checks the options of create, and that the model they describe can be built.
func (o CreateOptions) Validate() error {
	var c cli.Check
	c.Must(len(o.Args) == 0, "create takes no arguments (got %q): give the output with -o", o.Args)
	c.Add(cli.NeedOutput(o.Output, "MODEL.gguf"))
	// The tokenizer has the byte tokens and BOS and EOS (and the two ChatML tokens with --chat).
	minVocab := 256 + 2
	if o.Chat {
		minVocab += 2
	}
	c.CountIn("--vocab", o.Vocab, minVocab, maxVocab)
	c.CountIn("--embd", o.Embd, 1, maxEmbd)
	c.CountIn("--layers", o.Layers, 1, maxLayers)
	c.CountIn("--heads", o.Heads, 1, max(1, o.Embd))
	c.CountIn("--kv-heads", o.KVHeads, 0, max(0, o.Heads))
	c.CountIn("--ff", o.FF, 1, maxFF)
	c.CountIn("--ctx", o.Ctx, 1, maxCtx)
	if _, err := tinymodel.ParseWeightType(o.Weights); err != nil {
		c.Failf("--weights %q: want f32, f16 or bf16", o.Weights)
	}
	if c.Err() == nil {
		c.Must(o.Embd%o.Heads == 0, "--heads %d: must divide --embd %d", o.Heads, o.Embd)
		c.Must(o.Embd%o.Heads != 0 || o.Embd/o.Heads%2 == 0, "--embd %d / --heads %d = %d: the head size must be even (RoPE rotates pairs)", o.Embd, o.Heads, o.Embd/o.Heads)
		c.Must(o.KVHeads == 0 || o.Heads%o.KVHeads == 0, "--kv-heads %d: must divide --heads %d", o.KVHeads, o.Heads)
	}
	if c.Err() == nil {
		cfg := o.config()
		n := cfg.ParamCount(o.Vocab)
		c.Must(n <= maxParams, "--vocab %d --embd %d --layers %d --ff %d: %d parameters, more than %d (create makes small models)",
			o.Vocab, o.Embd, o.Layers, o.FF, n, uint64(maxParams))
		if err := cfg.Validate(); err != nil { // the shape as the model code sees it
			c.Failf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	var p cli.Paths
	p.In("--corpus", o.Corpus)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunCreate trains the tokenizer and writes the model.
func RunCreate(_ context.Context, env *cli.Env, o CreateOptions) error {
	cfg := o.config()
	corpus := ""
	if o.Corpus != "" {
		b, err := os.ReadFile(o.Corpus)
		if err != nil {
			return cli.Usagef("--corpus: %v", err)
		}
		if len(bpe.PreTokenize(string(b))) == 0 {
			return cli.Usagef("--corpus %s: no text to train the tokenizer on", o.Corpus)
		}
		corpus = string(b)
		if _, err := cli.RecordFile(env, o.Corpus, 0); err != nil {
			return err
		}
	}
	tok, err := tinymodel.Train(corpus, cfg)
	if err != nil {
		return cli.Usagef("--corpus: %v", strings.TrimPrefix(err.Error(), "bpe: "))
	}
	if err := tinymodel.CreateFile(o.Output, tok, cfg, o.Seed); err != nil {
		return err
	}
	n := len(tok.Tokens)
	if n < cfg.VocabSize {
		env.Log.Warn("the corpus supports a smaller vocabulary than asked for", "asked", cfg.VocabSize, "got", n)
	}
	st, _ := os.Stat(o.Output)
	env.Manifest.Param("config", cfg)
	env.Manifest.Seed("weights", o.Seed)
	if err := env.Manifest.WriteFor(o.Output, "", 0); err != nil {
		return err
	}
	env.Log.Info("created model", "output", o.Output, "vocab", n, "params", cfg.ParamCount(n), "bytes", st.Size())
	return nil
}
