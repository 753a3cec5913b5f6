package modelcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// SteerOptions are the options of mbd-model steer.
type SteerOptions struct {
	ModelA      string  // --model-a
	ModelB      string  // --model-b
	Prompts     string  // --prompts
	Steer       string  // --steer: the model generated from, A or B
	Layers      string  // --layers
	Scales      string  // --scales
	Texts       int     // --texts
	Positions   int     // --positions
	Samples     int     // --samples
	Seed        uint64  // --seed
	Temperature float64 // --temperature
	MaxTokens   int     // --max-tokens
	Output      string  // -o
}

// Bounds of the steer options.
const (
	maxSteerScales  = 32
	maxSteerScale   = 1e4
	maxSteerSamples = 100
)

func steerCommand() *ucli.Command {
	o := &SteerOptions{}
	return &ucli.Command{
		Name: "steer", Usage: "generate with the lens's difference vector added to the residual stream",
		Description: `Steering with the activation difference (Minder et al. 2025, arXiv 2510.13900). Both models read
the paragraphs of the embedded English corpus (--texts N, default all 310) as "mbd-model lens"
does, and for each block of --layers the mean difference d = mean B - mean A of the block's output
over the texts and their first --positions tokens is computed (the lens's mean direction at
position -1). Then --steer (B, or A) answers the discovery-split prompts of --prompts with
scale x d added to the output of each of those blocks at every token (a llama.cpp control vector),
once per --scales value, with the same seeds for every scale. The block's output is the residual
stream after it, so the vector added at one block is carried to every later one.

The output is a generations table whose model label names the steering ("B+4×d@12": B, scale 4,
block 12) and whose model_ref is steer:REF?layers=12&scale=4 (REF the steered model's reference;
"&" instead of "?" when REF has options); split is discovery, so "mbd-hypo --steered" and the
report read it. The terminal shows each block's |d| and its size relative to A's activations.

Both models must share architecture, shape and vocabulary. llama.cpp has no control vector for
block 0, so --layers counts from 1: indexes separated by commas, mid, last or all (all but 0).

Examples:
  mbd-model steer --model-a gguf:base.gguf --model-b gguf:tuned.gguf --prompts prompts.parquet -o steered.parquet
  mbd-model steer --model-a gguf:base.gguf --model-b gguf:tuned.gguf --steer A --layers mid --scales 1,2,4 --prompts prompts.parquet -o steered.parquet`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model-a", Destination: &o.ModelA, Usage: "model A `REF` (gguf:PATH[?...])"},
			&ucli.StringFlag{Name: "model-b", Destination: &o.ModelB, Usage: "model B `REF` (gguf:PATH[?...])"},
			&ucli.StringFlag{Name: "prompts", Destination: &o.Prompts, Usage: "prompts `TABLE` whose discovery-split prompts are answered"},
			&ucli.StringFlag{Name: "steer", Value: "B", Destination: &o.Steer, Usage: "the model generated from, `A or B`"},
			&ucli.StringFlag{Name: "layers", Value: "mid", Destination: &o.Layers, Usage: "blocks steered: `L1,L2,...` (from 1), mid, last or all"},
			&ucli.StringFlag{Name: "scales", Value: "2,4,8", Destination: &o.Scales, Usage: "multiples of d added, one table part each: `S1,S2,...`"},
			&ucli.IntFlag{Name: "texts", Destination: &o.Texts, Usage: "read the first `N` corpus texts for d (0: all)"},
			&ucli.IntFlag{Name: "positions", Value: 5, Destination: &o.Positions, Usage: "token positions read per text for d, from the first after BOS"},
			&ucli.IntFlag{Name: "samples", Value: 1, Destination: &o.Samples, Usage: "completions per prompt and scale"},
			&ucli.Uint64Flag{Name: "seed", Destination: &o.Seed, Usage: "base seed; each completion's seed is a hash of it, the prompt id and the sample index"},
			&ucli.Float64Flag{Name: "temperature", Value: 1, Destination: &o.Temperature, Usage: "sampling temperature (0: greedy)"},
			&ucli.IntFlag{Name: "max-tokens", Value: 64, Destination: &o.MaxTokens, Usage: "most tokens per completion"},
			cli.OutputFlag(&o.Output, cli.OutputUsage("generations table")),
		},
		Action: cli.Action(o, nil, RunSteer),
	}
}

// Validate checks the options of steer.
func (o SteerOptions) Validate() error {
	var c cli.Check
	checkActivationRefs(&c, o.ModelA, o.ModelB, "steering reads and changes a GGUF model's activations in-process", false)
	c.Must(o.Prompts != "", "no prompts: give --prompts TABLE (its discovery-split prompts are answered)")
	c.OneOf("--steer", o.Steer, "A", "B")
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.CountIn("--texts", o.Texts, 0, len(corpusTexts()))
	c.CountIn("--positions", o.Positions, 1, maxLensPositions)
	c.CountIn("--samples", o.Samples, 1, maxSteerSamples)
	c.Sampling(o.Temperature, o.MaxTokens)
	if _, err := parseLayers(o.Layers, 1<<20); err != nil {
		c.Failf("--layers %q: %v", o.Layers, err)
	}
	if _, err := parseScales(o.Scales); err != nil {
		c.Failf("--scales %q: %v", o.Scales, err)
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

// parseScales reads a --scales value: distinct finite numbers separated by commas.
func parseScales(spec string) ([]float64, error) {
	var out []float64
	for _, item := range strings.Split(spec, ",") {
		s, err := strconv.ParseFloat(strings.TrimSpace(item), 64)
		if err != nil || math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, errors.New("want numbers separated by commas")
		}
		if math.Abs(s) > maxSteerScale {
			return nil, fmt.Errorf("scale %v: want at most %g in size", s, float64(maxSteerScale))
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("scale %v: given twice", s)
		}
		out = append(out, s)
	}
	if len(out) > maxSteerScales {
		return nil, fmt.Errorf("%d scales: want at most %d", len(out), maxSteerScales)
	}
	return out, nil
}

// steerLayers resolves --layers for a model of n blocks; "all" leaves out block 0, which llama.cpp
// cannot steer.
func steerLayers(spec string, n int) ([]int, error) {
	layers, err := parseLayers(spec, n)
	if err != nil {
		return nil, err
	}
	for _, item := range strings.Split(spec, ",") {
		if strings.TrimSpace(item) == "all" && n > 1 {
			layers = slices.DeleteFunc(layers, func(l int) bool { return l == 0 })
		}
	}
	return layers, nil
}

// SteerLabel is the model label of the texts of a steered model at one scale: "B+4×d@12" for B,
// scale 4, block 12 ("A-2×d@3,5" for A, scale -2, blocks 3 and 5).
func SteerLabel(model string, scale float64, layers []int) string {
	sign := "+"
	if math.Signbit(scale) {
		sign = "-"
	}
	ls := make([]string, len(layers))
	for i, l := range layers {
		ls[i] = strconv.Itoa(l)
	}
	return fmt.Sprintf("%s%s%s×d@%s", model, sign, strconv.FormatFloat(math.Abs(scale), 'g', -1, 64), strings.Join(ls, ","))
}

// SteerRef is the model_ref of the texts of model ref steered at scale: steer:REF?layers=L&scale=S.
func SteerRef(ref string, scale float64, layers []int) string {
	ls := make([]string, len(layers))
	for i, l := range layers {
		ls[i] = strconv.Itoa(l)
	}
	sep := "?"
	if strings.Contains(ref, "?") {
		sep = "&"
	}
	return fmt.Sprintf("steer:%s%slayers=%s&scale=%s", ref, sep, strings.Join(ls, ","), strconv.FormatFloat(scale, 'g', -1, 64))
}

// RunSteer computes the mean difference per block, generates with it at each scale and writes
// the generations table.
func RunSteer(ctx context.Context, env *cli.Env, o SteerOptions) error {
	scales, _ := parseScales(o.Scales)
	ps, err := cli.ReadTable[schema.Prompt](env, o.Prompts)
	if err != nil {
		return err
	}
	ps = gen.Select(ps, schema.SplitDiscovery, nil)
	if len(ps) == 0 {
		return &table.InputError{Path: o.Prompts, Column: "split", Msg: "no discovery-split prompts (steered texts are read from the discovery split)"}
	}
	texts := corpusTexts()
	if o.Texts > 0 {
		texts = texts[:o.Texts]
	}
	opts, err := openActivationRefs(env, o.ModelA, o.ModelB)
	if err != nil {
		return err
	}

	// Capture A, then B; the steered model stays loaded when it is B.
	type shape struct {
		arch        string
		layers, dim int
		vocab       []string
		capture     *llamacpp.Capture
	}
	var layers []int
	var shapes [2]shape
	var steered *llamacpp.Model
	defer func() {
		if steered != nil {
			steered.Close()
		}
	}()
	bar := env.Progress("steer: read", "texts", int64(2*len(texts)))
	for i := range 2 {
		m, err := llamacpp.Load(opts[i])
		if err != nil {
			return cli.BadRef(modelFlags[i], err)
		}
		sh := shape{arch: m.Info().Arch, layers: m.Layers(), dim: m.Dim(), vocab: m.TokenTexts()}
		if i == 0 {
			if layers, err = steerLayers(o.Layers, sh.layers); err != nil {
				m.Close()
				return cli.Usagef("--layers %q: %v", o.Layers, err)
			}
			zero := make([][]float32, len(layers))
			for j := range zero {
				zero[j] = make([]float32, sh.dim)
			}
			if err := m.CheckSteering(llamacpp.Steering{Layers: layers, Vectors: zero}); err != nil {
				m.Close()
				return cli.Usagef("--layers %q: %v", o.Layers, err)
			}
		} else if err := compatible(shapes[0].arch, sh.arch, shapes[0].layers, sh.layers, shapes[0].dim, sh.dim, shapes[0].vocab, sh.vocab); err != nil {
			m.Close()
			return &cli.UsageError{Err: err}
		}
		co := llamacpp.CaptureOptions{Layers: layers, Positions: o.Positions}
		if err := m.CheckCapture(co); err != nil {
			m.Close()
			return &cli.UsageError{Err: err}
		}
		sh.capture, err = m.Capture(ctx, texts, co)
		if err != nil {
			m.Close()
			return err
		}
		shapes[i] = sh
		bar.Add(int64(len(texts)))
		if i == 1 && o.Steer == "B" {
			steered = m
		} else {
			m.Close()
		}
	}
	bar.Done()
	ca, cb := shapes[0].capture, shapes[1].capture
	if n := len(ca.Used); n < 1 || !slices.Equal(ca.Used, cb.Used) {
		return cli.Usagef("builtin:corpus: %d of %d texts have %d tokens or more; want at least 1 (lower --positions)", n, len(texts), o.Positions)
	}
	d, norms, rel := meanDifference(ca, cb)

	ref := o.ModelB
	if o.Steer == "A" {
		ref = o.ModelA
		if steered, err = llamacpp.Load(opts[0]); err != nil {
			return cli.BadRef("--model-a", err)
		}
	}
	jobs := gen.Jobs(ps, "", o.Samples, o.Seed)
	sampling := llm.Sampling{Temperature: o.Temperature, MaxTokens: o.MaxTokens}
	var ce *llm.ContextError
	if err := gen.Fit(steered, jobs, o.MaxTokens); errors.As(err, &ce) {
		return cli.Usagef("%s: a prompt of %d tokens + --max-tokens %d exceeds the context of %d tokens per sequence; raise ctx= to at least %d or lower --max-tokens",
			ref, ce.Prompt, ce.NewTokens, ce.Context, ce.Prompt+ce.NewTokens)
	} else if err != nil {
		return err
	}
	var rows []schema.Generation
	gbar := env.Progress("steer: generate", "completions", int64(len(scales)*len(jobs)))
	for _, s := range scales {
		vecs := make([][]float32, len(layers))
		for l := range layers {
			vecs[l] = make([]float32, len(d[l]))
			for j, v := range d[l] {
				vecs[l][j] = float32(s * v)
			}
		}
		if err := steered.SetSteering(&llamacpp.Steering{Layers: layers, Vectors: vecs}); err != nil {
			return err
		}
		p := gen.Params{Label: SteerLabel(o.Steer, s, layers), ModelRef: SteerRef(ref, s, layers), Sampling: sampling, Samples: o.Samples, Seed: o.Seed}
		part := gen.Jobs(ps, p.Label, o.Samples, o.Seed)
		got, err := gen.Chunk(ctx, steered, p, part)
		if err != nil {
			return err
		}
		rows = append(rows, got...)
		gbar.Add(int64(len(part)))
	}
	gbar.Done()
	if err := steered.SetSteering(nil); err != nil {
		return err
	}

	m := env.Manifest
	m.Param("model_a", o.ModelA)
	m.Param("model_b", o.ModelB)
	m.Param("steered", o.Steer)
	m.Param("layers", layers)
	m.Param("scales", scales)
	m.Param("texts_source", "builtin:corpus")
	m.Param("texts", len(texts))
	m.Param("texts_read", len(ca.Used))
	m.Param("positions", o.Positions)
	m.Param("difference_norms", norms)
	m.Param("difference_rel_norms", rel)
	m.Param("samples", o.Samples)
	m.Param("sampling", sampling)
	m.Seed("base", o.Seed)
	if err := cli.WriteTable(env, o.Output, rows); err != nil {
		return err
	}
	env.Log.Info("steer", "texts", len(ca.Used), "layers", layers, "scales", scales, "rows", len(rows), "output", o.Output)
	if o.Output != "-" {
		return writeSteerSummary(env.Stdout, layers, norms, rel, len(ca.Used))
	}
	return nil
}

// compatible refuses models that differ in architecture, shape or vocabulary.
func compatible(archA, archB string, layersA, layersB, dimA, dimB int, vocabA, vocabB []string) error {
	switch {
	case archA != archB:
		return fmt.Errorf("A is a %s model and B a %s model: steering with their difference needs models of one architecture", archA, archB)
	case layersA != layersB || dimA != dimB:
		return fmt.Errorf("A has %d layers of width %d and B %d of width %d: steering with their difference needs models of one shape", layersA, dimA, layersB, dimB)
	case !slices.Equal(vocabA, vocabB):
		return fmt.Errorf("A and B have different vocabularies (%d and %d tokens): steering with their difference needs models that share one", len(vocabA), len(vocabB))
	}
	return nil
}

// meanDifference is, per captured layer, d = mean B - mean A over the texts and positions, its
// norm, and the norm relative to the root-mean-square norm of A's activations there.
func meanDifference(a, b *llamacpp.Capture) (d [][]float64, norms, rel []float64) {
	L, K, D := len(a.Layers), a.Positions, a.Dim
	n := float64(len(a.Used))
	for l := range L {
		v := make([]float64, D)
		var ssA float64
		for k := range K {
			off := (l*K + k) * D
			for j := range D {
				v[j] += (b.Sum[off+j] - a.Sum[off+j]) / (n * float64(K))
			}
			ssA += a.SumSq[l*K+k] / (n * float64(K))
		}
		var ss float64
		for _, x := range v {
			ss += x * x
		}
		d = append(d, v)
		norms = append(norms, math.Sqrt(ss))
		r := 0.0
		if ssA > 0 {
			r = math.Sqrt(ss) / math.Sqrt(ssA)
		}
		rel = append(rel, r)
	}
	return d, norms, rel
}

// writeSteerSummary prints each steered block's difference size.
func writeSteerSummary(w io.Writer, layers []int, norms, rel []float64, texts int) error {
	for i, l := range layers {
		if _, err := fmt.Fprintf(w, "block %d, mean over positions, %d texts: |d| = %.4g (%.3g of |A|)\n", l, texts, norms[i], rel[i]); err != nil {
			return err
		}
	}
	return nil
}
