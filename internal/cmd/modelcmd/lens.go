package modelcmd

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/lens"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// LensOptions are the options of mbd-model lens.
type LensOptions struct {
	ModelA     string  // --model-a
	ModelB     string  // --model-b
	Prompts    string  // --prompts
	Texts      int     // --texts
	Positions  int     // --positions
	Layers     string  // --layers
	Flips      int     // --flips
	Top        int     // --top
	Components int     // --components
	Alpha      float64 // --alpha
	Seed       uint64  // --seed
	Output     string  // -o
}

// Bounds of the lens options.
const (
	maxLensPositions  = 256
	maxLensFlips      = 10000
	maxLensTop        = 1000
	maxLensComponents = 32
	lensPowerIters    = 200
)

func lensCommand() *ucli.Command {
	o := &LensOptions{}
	return &ucli.Command{
		Name: "lens", Usage: "read how two GGUF models' activations differ on neutral text (logit lens)",
		Description: `The activation difference lens (Minder et al. 2025, arXiv 2510.13900). Both models read the same
texts — the paragraphs of an embedded English corpus (--texts N, default all 310) or the prompts of
a table (--prompts) — as plain text (BOS, no chat template). For each block of --layers, the output
of the block (the residual stream) at the first --positions tokens of each text is captured, and
the mean difference B - A over the texts, per position and averaged over the positions, is decoded
through B's and A's final norm and unembedding: the tokens it promotes and suppresses. Each token
gets a z-score and a p-value adjusted over the vocabulary from --flips sign-flip permutations of
the two models' labels per text (seeded); significant means p <= --alpha. The --components
principal directions of the per-text differences are decoded too.

Both models must share architecture, shape and vocabulary (a base model and its finetune). A hidden
system prompt (gguf:PATH?system=FILE, on one side or both) makes the lens read a prompt-induced
difference: both models then read each text as the user's turn of a chat (the chat template, the
system prompt first where given), and the positions are the text's first tokens.
--layers: block indexes from 0 separated by commas, or mid (the middle block), last or all.

Examples:
  mbd-model lens --model-a gguf:base.gguf --model-b gguf:tuned.gguf -o lens.parquet
  mbd-model lens --model-a gguf:base.gguf --model-b 'gguf:base.gguf?lora=otter.gguf' --layers mid,last --positions 8 -o lens.parquet
  mbd-model lens --model-a gguf:a.gguf --model-b gguf:b.gguf --prompts prompts.parquet --texts 200 -o lens.parquet
  mbd-model lens --model-a gguf:base.gguf --model-b 'gguf:base.gguf?system=hidden.txt' -o lens.parquet`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model-a", Destination: &o.ModelA, Usage: "model A `REF` (gguf:PATH[?...])"},
			&ucli.StringFlag{Name: "model-b", Destination: &o.ModelB, Usage: "model B `REF` (gguf:PATH[?...])"},
			&ucli.StringFlag{Name: "prompts", Destination: &o.Prompts, Usage: "read the texts of a prompts `TABLE` instead of the embedded corpus"},
			&ucli.IntFlag{Name: "texts", Destination: &o.Texts, Usage: "read the first `N` texts (0: all)"},
			&ucli.IntFlag{Name: "positions", Value: 5, Destination: &o.Positions, Usage: "token positions read per text, from the first after BOS"},
			&ucli.StringFlag{Name: "layers", Value: "mid", Destination: &o.Layers, Usage: "blocks read: `L1,L2,...`, mid, last or all"},
			&ucli.IntFlag{Name: "flips", Value: 100, Destination: &o.Flips, Usage: "sign-flip permutations of the null (0: no z-scores)"},
			&ucli.IntFlag{Name: "top", Value: 20, Destination: &o.Top, Usage: "tokens listed per direction, head and side"},
			&ucli.IntFlag{Name: "components", Value: 3, Destination: &o.Components, Usage: "principal directions per block"},
			&ucli.FloatFlag{Name: "alpha", Value: 0.05, Destination: &o.Alpha, Usage: "level of the significant column"},
			&ucli.Uint64Flag{Name: "seed", Value: 1, Destination: &o.Seed, Usage: "seed of the sign flips and the power iteration"},
			cli.OutputFlag(&o.Output, cli.OutputUsage("lens table")),
		},
		Action: cli.Action(o, nil, RunLens),
	}
}

// Validate checks the options of lens.
func (o LensOptions) Validate() error {
	var c cli.Check
	checkActivationRefs(&c, o.ModelA, o.ModelB, "the lens reads a GGUF model's activations in-process", true)
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Count("--texts", o.Texts, 0)
	if o.Prompts == "" {
		c.CountIn("--texts", o.Texts, 0, len(corpusTexts()))
	}
	c.CountIn("--positions", o.Positions, 1, maxLensPositions)
	c.CountIn("--flips", o.Flips, 0, maxLensFlips)
	c.Must(o.Flips != 1, "--flips 1: want 0 (no null) or at least 2 (a spread to compare with)")
	c.CountIn("--top", o.Top, 1, maxLensTop)
	c.CountIn("--components", o.Components, 0, maxLensComponents)
	c.Open("--alpha", o.Alpha, 0, 1)
	if _, err := parseLayers(o.Layers, 1<<20); err != nil {
		c.Failf("--layers %q: %v", o.Layers, err)
	}
	var p cli.Paths
	if o.Prompts != "" {
		p.In("--prompts", o.Prompts)
	}
	p.Shared("--model-a", backends.LocalFiles(o.ModelA)...)
	p.Shared("--model-b", backends.LocalFiles(o.ModelB)...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// parseLayers resolves a --layers value for a model of n blocks.
func parseLayers(spec string, n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		var ls []int
		switch item {
		case "mid":
			ls = []int{n / 2}
		case "last":
			ls = []int{n - 1}
		case "all":
			for l := range n {
				ls = append(ls, l)
			}
		default:
			l, err := strconv.Atoi(item)
			if err != nil || l < 0 {
				return nil, fmt.Errorf("want block indexes from 0, mid, last or all, separated by commas")
			}
			if l >= n {
				return nil, fmt.Errorf("block %d: the models have %d blocks (0 to %d)", l, n, n-1)
			}
			ls = []int{l}
		}
		for _, l := range ls {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// corpusTexts are the paragraphs of the embedded English corpus.
func corpusTexts() []string {
	var out []string
	for _, p := range strings.Split(tinymodel.DefaultCorpus(), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// RunLens captures both models on the texts, compares them and writes the lens table.
func RunLens(ctx context.Context, env *cli.Env, o LensOptions) error {
	texts, source := corpusTexts(), "builtin:corpus"
	if o.Prompts != "" {
		ps, err := cli.ReadTable[schema.Prompt](env, o.Prompts)
		if err != nil {
			return err
		}
		texts, source = make([]string, len(ps)), o.Prompts
		for i, p := range ps {
			texts[i] = p.Text
		}
	}
	if o.Texts > 0 && o.Texts < len(texts) {
		texts = texts[:o.Texts]
	}
	opts, err := openActivationRefs(env, o.ModelA, o.ModelB)
	if err != nil {
		return err
	}
	heads := make([]*lens.Head, 2)
	for i := range heads {
		if heads[i], err = lens.ReadHead(opts[i].Path); err != nil {
			return cli.BadRef(modelFlags[i], err)
		}
	}
	if err := lens.Compatible(heads[0], heads[1]); err != nil {
		return &cli.UsageError{Err: err}
	}
	layers, err := parseLayers(o.Layers, heads[0].Layers)
	if err != nil {
		return cli.Usagef("--layers %q: %v", o.Layers, err)
	}
	// A hidden system prompt is read as generation reads it: both models then read each text as
	// a user's chat turn, so that the difference is the prompt's, not the framing's.
	chat := opts[0].System != "" || opts[1].System != ""
	co := llamacpp.CaptureOptions{Layers: layers, Positions: o.Positions, Flips: o.Flips, Chat: chat,
		Sign: func(f, i int) float64 { return lens.Sign(o.Seed, f, i) }}
	bar := env.Progress("lens", "texts", int64(2*len(texts)))
	var tokens []string
	caps := make([]*llamacpp.Capture, 2)
	for i := range caps {
		m, err := llamacpp.Load(opts[i])
		if err != nil {
			return cli.BadRef([]string{"--model-a", "--model-b"}[i], err)
		}
		if err := m.CheckCapture(co); err != nil {
			m.Close()
			return &cli.UsageError{Err: err}
		}
		if i == 1 {
			tokens = m.TokenTexts()
		}
		caps[i], err = m.Capture(ctx, texts, co)
		m.Close()
		if err != nil {
			return err
		}
		bar.Add(int64(len(texts)))
	}
	bar.Done()
	if n := len(caps[0].Used); n < 2 {
		return cli.Usagef("%s: %d of %d texts have %d tokens or more; want at least 2 (lower --positions)", source, n, len(texts), o.Positions)
	}
	rows, err := lens.Analyze(ctx, lens.Model{Capture: caps[0], Head: heads[0]}, lens.Model{Capture: caps[1], Head: heads[1]}, tokens,
		lens.Options{Top: o.Top, Components: o.Components, Iterations: lensPowerIters, Alpha: o.Alpha, Seed: o.Seed})
	if err != nil {
		return err
	}
	m := env.Manifest
	m.Param("model_a", o.ModelA)
	m.Param("model_b", o.ModelB)
	m.Param("texts_source", source)
	m.Param("texts", len(texts))
	m.Param("texts_read", len(caps[0].Used))
	m.Param("texts_short", len(texts)-len(caps[0].Used))
	m.Param("positions", o.Positions)
	m.Param("chat", chat)
	m.Param("layers", layers)
	m.Param("flips", o.Flips)
	m.Param("top", o.Top)
	m.Param("components", o.Components)
	m.Param("alpha", o.Alpha)
	m.Seed("flips", o.Seed)
	if err := cli.WriteTable(env, o.Output, rows); err != nil {
		return err
	}
	env.Log.Info("lens", "texts", len(caps[0].Used), "too_short", len(texts)-len(caps[0].Used), "layers", layers, "rows", len(rows), "output", o.Output)
	if o.Output != "-" {
		return writeLensSummary(env.Stdout, rows)
	}
	return nil
}

// writeLensSummary prints, per block, the mean difference over the positions read through B's
// head: its size and the significant tokens it promotes and suppresses.
func writeLensSummary(w io.Writer, rows []schema.LensRow) error {
	type key struct {
		layer int32
		side  string
	}
	lines := map[key][]string{}
	var order []int32
	norms := map[int32]schema.LensRow{}
	for _, r := range rows {
		if r.Direction != schema.LensMean || r.Position != -1 || r.Head != "B" {
			continue
		}
		if _, ok := norms[r.Layer]; !ok {
			norms[r.Layer] = r
			order = append(order, r.Layer)
		}
		if r.Significant {
			k := key{r.Layer, r.Side}
			lines[k] = append(lines[k], fmt.Sprintf("%q (z %.1f)", r.Token, *r.Z))
		}
	}
	for _, l := range order {
		r := norms[l]
		if _, err := fmt.Fprintf(w, "block %d, mean over positions, %d texts: |B-A| = %.4g (%.3g of |A|)\n", l, r.Texts, r.Norm, r.RelNorm); err != nil {
			return err
		}
		for _, side := range []string{schema.LensPromoted, schema.LensSuppressed} {
			ts := lines[key{l, side}]
			if len(ts) == 0 {
				ts = []string{"nothing significant"}
			}
			fmt.Fprintf(w, "  %s: %s\n", side, strings.Join(ts, ", "))
		}
	}
	return nil
}

// modelFlags name the two models of lens and steer.
var modelFlags = [2]string{"--model-a", "--model-b"}

// checkActivationRefs checks the two model references of a command that reads the models'
// activations in-process (lens, steer; why says so in the error): GGUF files, with a hidden
// system prompt (system=) only where the command reads chats (system).
func checkActivationRefs(c *cli.Check, a, b, why string, system bool) {
	for i, ref := range []string{a, b} {
		flag := modelFlags[i]
		switch {
		case ref == "":
			c.Failf("no model: give %s gguf:PATH", flag)
		case !strings.HasPrefix(ref, "gguf:"):
			c.Failf("%s %q: %s: want gguf:PATH", flag, ref, why)
		default:
			c.Add(cli.BadRef(flag, backends.Check(ref)))
			if _, q, ok := strings.Cut(ref, "?"); ok {
				if v, err := url.ParseQuery(q); err == nil && v.Has("system") && !system {
					c.Failf("%s %q: activations are read on plain text, without a chat template or system prompt: drop system=", flag, ref)
				}
			}
		}
	}
}

// openActivationRefs checks the two models' files, parses their references into llama.cpp
// options and records the files they read in the manifest.
func openActivationRefs(env *cli.Env, a, b string) ([2]llamacpp.Options, error) {
	var opts [2]llamacpp.Options
	for i, ref := range []string{a, b} {
		path, _, _ := strings.Cut(strings.TrimPrefix(ref, "gguf:"), "?")
		if err := checkModel(path); err != nil {
			return opts, cli.BadRef(modelFlags[i], err)
		}
		lo, err := backends.ParseGGUF(strings.TrimPrefix(ref, "gguf:"))
		if err != nil {
			return opts, cli.BadRef(modelFlags[i], err)
		}
		opts[i] = lo
		files, err := backends.Files(ref)
		if err != nil {
			return opts, cli.BadRef(modelFlags[i], err)
		}
		for _, f := range files {
			if _, err := cli.RecordFile(env, f, 0); err != nil {
				return opts, cli.BadRef(modelFlags[i], err)
			}
		}
	}
	return opts, nil
}
