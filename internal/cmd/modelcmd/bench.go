package modelcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

// BenchOptions are the options of mbd-model bench.
type BenchOptions struct {
	Model       string   // --model
	GPU         bool     // --gpu
	Batches     []int64  // --batches
	Tokens      int      // --tokens
	ScoreTexts  int      // --score-texts
	ScoreTokens int      // --score-tokens
	ScoreBatch  int      // --score-batch
	CopyMiB     int      // --copy-mib
	CompareCPU  int      // --compare-cpu
	Tolerance   float64  // --tolerance
	Output      string   // -o
	Markdown    string   // --markdown
	Args        []string // arguments (none expected)
}

// Bounds of bench's sizes.
const (
	maxBenchTokens = 1 << 14
	maxBenchTexts  = 1 << 16
	maxCopyMiB     = 1 << 16
)

func benchCommand() *ucli.Command {
	o := &BenchOptions{}
	return &ucli.Command{
		Name: "bench", Usage: "measure generation, scoring and embedding throughput of a GGUF model", ArgsUsage: " ",
		Description: `Loads --model once per measurement (loading is not timed; a warm-up call creates the context)
and measures, in tokens per second:
  generate  --tokens new tokens for each of B sequences decoded together, for each B of --batches
            (prompt prefill included in the time, only completion tokens counted)
  score     --score-texts texts of about --score-tokens tokens, one per forward and --score-batch
            together (scored tokens counted)
  embed     the same texts, --score-batch together (input tokens counted)
and the copy bandwidth of the first GPU device (the CPU without one): a tensor of --copy-mib MiB
copied on the device, read plus written bytes per second. Its quotient by the model's size is the
bound of batch-1 decoding, which reads every weight once per token.
--compare-cpu N scores N texts on the CPU alone as well and fails (status 1) when a token's log-prob
differs by more than --tolerance. --gpu loads the CUDA backend from the build script's cache and
offloads every layer unless the reference sets gpu-layers=.
Writes the results as JSON to -o and as a Markdown table to --markdown (default stdout).`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Destination: &o.Model, Usage: "model `REF` (gguf:PATH[?...])"},
			gpuFlag(&o.GPU),
			&ucli.Int64SliceFlag{Name: "batches", Value: []int64{1, 32, 256}, Destination: &o.Batches, Usage: "sequences generated together, one measurement each"},
			&ucli.IntFlag{Name: "tokens", Value: 128, Destination: &o.Tokens, Usage: "new tokens per generated sequence"},
			&ucli.IntFlag{Name: "score-texts", Value: 256, Destination: &o.ScoreTexts, Usage: "texts scored and embedded"},
			&ucli.IntFlag{Name: "score-tokens", Value: 256, Destination: &o.ScoreTokens, Usage: "tokens per scored text (about)"},
			&ucli.IntFlag{Name: "score-batch", Value: 32, Destination: &o.ScoreBatch, Usage: "texts scored or embedded together"},
			&ucli.IntFlag{Name: "copy-mib", Value: 1024, Destination: &o.CopyMiB, Usage: "size of the copied tensor in MiB (0: no copy measurement)"},
			&ucli.IntFlag{Name: "compare-cpu", Destination: &o.CompareCPU, Usage: "texts also scored on the CPU and compared (0: none)"},
			&ucli.FloatFlag{Name: "tolerance", Value: 1e-3, Destination: &o.Tolerance, Usage: "largest accepted CPU/device difference of a token's log-prob"},
			cli.OutputFlag(&o.Output, "results `FILE.json`"),
			&ucli.StringFlag{Name: "markdown", Destination: &o.Markdown, Usage: "Markdown table `FILE` (default: stdout)"},
		},
		Action: cli.Action(o, &o.Args, RunBench),
	}
}

// Validate checks the options of bench.
func (o BenchOptions) Validate() error {
	var c cli.Check
	c.Must(len(o.Args) == 0, "bench takes no arguments (got %q): give the model with --model", o.Args)
	c.Must(strings.HasPrefix(o.Model, "gguf:"), "--model %q: want gguf:PATH[?...]", o.Model)
	if strings.HasPrefix(o.Model, "gguf:") {
		c.Add(cli.BadRef("--model", backends.Check(o.Model)))
	}
	c.Must(len(o.Batches) > 0, "--batches: want at least one batch size")
	for _, b := range o.Batches {
		c.Must(b >= 1 && b <= llamacpp.MaxParallel, "--batches %d: want whole numbers in [1, %d]", b, llamacpp.MaxParallel)
	}
	c.CountIn("--tokens", o.Tokens, 1, maxBenchTokens)
	c.CountIn("--score-texts", o.ScoreTexts, 1, maxBenchTexts)
	c.CountIn("--score-tokens", o.ScoreTokens, 1, maxBenchTokens)
	c.CountIn("--score-batch", o.ScoreBatch, 1, llamacpp.MaxParallel)
	c.CountIn("--copy-mib", o.CopyMiB, 0, maxCopyMiB)
	c.CountIn("--compare-cpu", o.CompareCPU, 0, o.ScoreTexts)
	c.Between("--tolerance", o.Tolerance, 0, 1)
	var p cli.Paths
	p.Shared("--model", backends.LocalFiles(o.Model)...)
	p.Out("-o", o.Output)
	p.Out("--markdown", o.Markdown)
	c.Add(p.Err())
	return c.Err()
}

// BenchRate is one throughput measurement.
type BenchRate struct {
	Batch   int     `json:"batch"`
	Texts   int     `json:"texts"`
	Tokens  int     `json:"tokens"`
	Seconds float64 `json:"seconds"`
	TokS    float64 `json:"tok_s"`
}

// BenchCompare is the CPU/device agreement of scores.
type BenchCompare struct {
	Texts       int     `json:"texts"`
	Tokens      int     `json:"tokens"`
	MaxAbsDiff  float64 `json:"max_abs_diff"`
	MeanAbsDiff float64 `json:"mean_abs_diff"`
	Tolerance   float64 `json:"tolerance"`
	OK          bool    `json:"ok"`
}

// BenchResult is what bench writes.
type BenchResult struct {
	Model        string            `json:"model"`
	Params       int64             `json:"params"`
	SizeBytes    int64             `json:"size_bytes"`
	Layers       int               `json:"layers"`
	Devices      []llamacpp.Device `json:"devices"`
	GPULayers    string            `json:"gpu_layers"`
	Copy         *llamacpp.Copy    `json:"copy,omitempty"`
	Batch1Bound  float64           `json:"batch1_bound_tok_s,omitempty"`
	Generate     []BenchRate       `json:"generate"`
	Score        []BenchRate       `json:"score"`
	Embed        BenchRate         `json:"embed"`
	CompareCPU   *BenchCompare     `json:"compare_cpu,omitempty"`
	GGMLSource   string            `json:"ggml_source"`
	StartedAtUTC string            `json:"started_at_utc"`
}

// RunBench measures and writes the results.
func RunBench(ctx context.Context, env *cli.Env, o BenchOptions) error {
	if err := useGPU(o.GPU); err != nil {
		return err
	}
	opts, err := backends.ParseGGUF(strings.TrimPrefix(o.Model, "gguf:"))
	if err != nil {
		return cli.BadRef("--model", err)
	}
	if err := checkModel(opts.Path); err != nil {
		return cli.BadRef("--model", err)
	}
	if o.GPU && !strings.Contains(o.Model, "gpu-layers=") {
		opts.GPULayers = llamacpp.GPULayersAll
	}
	devices, err := llamacpp.Devices()
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	r := BenchResult{Model: o.Model, Devices: devices, GPULayers: fmt.Sprint(opts.GPULayers), StartedAtUTC: time.Now().UTC().Format(time.RFC3339)}
	if opts.GPULayers == llamacpp.GPULayersAll {
		r.GPULayers = "all"
	}
	r.GGMLSource, _ = llamacpp.GGMLSource()
	load := func(parallel, ctxLen, gpuLayers int) (*llamacpp.Model, error) {
		lo := opts
		lo.Parallel, lo.Ctx, lo.GPULayers = parallel, ctxLen, gpuLayers
		if gpuLayers < 0 {
			lo.GPULayers, lo.CPUOnly = 0, true
		}
		m, err := llamacpp.Load(lo)
		if err != nil {
			return nil, cli.BadRef("--model", err)
		}
		return m, nil
	}

	// Generation.
	for _, b := range o.Batches {
		m, err := load(int(b), o.Tokens+64, opts.GPULayers)
		if err != nil {
			return err
		}
		info := m.Info()
		r.Params, r.SizeBytes, r.Layers = info.Params, info.SizeBytes, info.Layers
		rate, err := benchGenerate(ctx, m, int(b), o.Tokens)
		m.Close()
		if err != nil {
			return err
		}
		env.Log.Info("generate", "batch", b, "tok_s", math.Round(rate.TokS))
		r.Generate = append(r.Generate, rate)
	}

	// Scoring and embedding.
	m, err := load(o.ScoreBatch, o.ScoreTokens+64, opts.GPULayers)
	if err != nil {
		return err
	}
	texts, err := benchTexts(m, o.ScoreTexts, o.ScoreTokens)
	if err != nil {
		m.Close()
		return err
	}
	reqs := make([]llm.ScoreRequest, len(texts))
	for i, t := range texts {
		reqs[i] = llm.ScoreRequest{ID: fmt.Sprint(i), Completion: t}
	}
	one, err := load(1, o.ScoreTokens+64, opts.GPULayers)
	if err != nil {
		m.Close()
		return err
	}
	rate1, _, err := benchScore(ctx, one, reqs, 1)
	one.Close()
	if err != nil {
		m.Close()
		return err
	}
	rate, devScores, err := benchScore(ctx, m, reqs, o.ScoreBatch)
	if err != nil {
		m.Close()
		return err
	}
	r.Score = []BenchRate{rate1, rate}
	env.Log.Info("score", "batch", o.ScoreBatch, "tok_s", math.Round(rate.TokS))
	r.Embed, err = benchEmbed(ctx, m, texts, o.ScoreBatch)
	m.Close()
	if err != nil {
		return err
	}

	// Copy bandwidth and the batch-1 bound.
	if o.CopyMiB > 0 {
		c, err := llamacpp.CopyBandwidth(int64(o.CopyMiB)<<20, 20)
		if err != nil {
			return err
		}
		r.Copy = &c
		if r.SizeBytes > 0 {
			r.Batch1Bound = c.BytesPerSec / float64(r.SizeBytes)
		}
	}

	// Agreement with the CPU.
	var disagree error
	if o.CompareCPU > 0 {
		cpu, err := load(o.ScoreBatch, o.ScoreTokens+64, -1) // -1: on the CPU alone
		if err != nil {
			return err
		}
		_, cpuScores, err := benchScore(ctx, cpu, reqs[:o.CompareCPU], o.ScoreBatch)
		cpu.Close()
		if err != nil {
			return err
		}
		cmp := compareScores(devScores[:o.CompareCPU], cpuScores, o.Tolerance)
		r.CompareCPU = &cmp
		if !cmp.OK {
			disagree = fmt.Errorf("scores on the device and on the CPU differ by up to %.3g per token, more than --tolerance %g", cmp.MaxAbsDiff, o.Tolerance)
		}
	}

	if o.Output != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(o.Output, append(b, '\n')); err != nil {
			return err
		}
	}
	md := benchMarkdown(r)
	if o.Markdown != "" {
		if err := atomicfile.WriteFile(o.Markdown, []byte(md)); err != nil {
			return err
		}
	} else if _, err := io.WriteString(env.Stdout, md); err != nil {
		return err
	}
	return disagree
}

// benchGenerate generates tokens new tokens for each of b prompts, decoded together.
func benchGenerate(ctx context.Context, m *llamacpp.Model, b, tokens int) (BenchRate, error) {
	s := llm.Sampling{Temperature: 1, MaxTokens: tokens}
	warm := llm.Sampling{Temperature: 1, MaxTokens: 2}
	if err := m.Generate(ctx, []llm.GenRequest{{ID: "warm", Prompt: "Hello"}}, warm, func(llm.GenResult) error { return nil }); err != nil {
		return BenchRate{}, err
	}
	reqs := make([]llm.GenRequest, b)
	for i := range reqs {
		reqs[i] = llm.GenRequest{ID: fmt.Sprint(i), Prompt: fmt.Sprintf("Tell me about topic %d.", i), Seed: uint64(i + 1)}
	}
	n := 0
	start := time.Now()
	err := m.Generate(ctx, reqs, s, func(g llm.GenResult) error { n += g.CompletionTokens; return nil })
	return rate(b, b, n, time.Since(start)), err
}

// benchScore scores reqs, parallel at a time, after a warm-up call.
func benchScore(ctx context.Context, m *llamacpp.Model, reqs []llm.ScoreRequest, parallel int) (BenchRate, []llm.ScoreResult, error) {
	if _, err := m.Score(ctx, reqs[:1]); err != nil {
		return BenchRate{}, nil, err
	}
	start := time.Now()
	res, err := m.Score(ctx, reqs)
	d := time.Since(start)
	n := 0
	for _, r := range res {
		n += len(r.Logprobs)
	}
	return rate(parallel, len(reqs), n, d), res, err
}

// benchEmbed embeds texts after a warm-up call, counting their tokens.
func benchEmbed(ctx context.Context, m *llamacpp.Model, texts []string, parallel int) (BenchRate, error) {
	if _, err := m.Embed(ctx, texts[:1]); err != nil {
		return BenchRate{}, err
	}
	n := 0
	for _, t := range texts {
		toks, err := m.Tokenize(t, true, false)
		if err != nil {
			return BenchRate{}, err
		}
		n += len(toks)
	}
	start := time.Now()
	_, err := m.Embed(ctx, texts)
	return rate(parallel, len(texts), n, time.Since(start)), err
}

func rate(batch, texts, tokens int, d time.Duration) BenchRate {
	r := BenchRate{Batch: batch, Texts: texts, Tokens: tokens, Seconds: d.Seconds()}
	if d > 0 {
		r.TokS = float64(tokens) / d.Seconds()
	}
	return r
}

// benchWords make the scored texts: plain English words in a fixed pseudo-random order.
var benchWords = strings.Fields(`the of and to in is was for on that with as by at from his her
they this which an be or had are not but one have were their all there been has when who will more
no if out so said what up its about into than them can only other new some could time these two may
then do first any my now such like our over man me even most made after also did many before must
through back years where much your way well down should because each just those people how too
little state good very make world still own see men work long get here between both life being under
never day same another know while last might us great old year off come since against go came right
used take three`)

// benchTexts makes n texts of about tokens tokens each.
func benchTexts(m *llamacpp.Model, n, tokens int) ([]string, error) {
	seed := uint64(1)
	next := func() int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed >> 33 % uint64(len(benchWords)))
	}
	var b strings.Builder
	for range 4 * tokens {
		b.WriteString(benchWords[next()])
		b.WriteByte(' ')
	}
	words := strings.Fields(b.String())
	// The words per token of this model's vocabulary, from the whole stream.
	toks, err := m.Tokenize(b.String(), false, false)
	if err != nil {
		return nil, err
	}
	per := max(1, min(len(words), int(float64(len(words))*float64(tokens)/float64(max(1, len(toks))))))
	texts := make([]string, n)
	for i := range texts {
		off := (i * 7) % max(1, len(words)-per+1)
		texts[i] = strings.Join(words[off:off+per], " ")
	}
	return texts, nil
}

// compareScores compares two scorings of the same requests token by token.
func compareScores(dev, cpu []llm.ScoreResult, tol float64) BenchCompare {
	c := BenchCompare{Texts: len(dev), Tolerance: tol, OK: true}
	sum := 0.0
	for i := range dev {
		if i >= len(cpu) || len(dev[i].Logprobs) != len(cpu[i].Logprobs) {
			c.OK, c.MaxAbsDiff = false, math.Inf(1)
			continue
		}
		for j, lp := range dev[i].Logprobs {
			d := math.Abs(lp - cpu[i].Logprobs[j])
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			c.MaxAbsDiff = max(c.MaxAbsDiff, d)
			sum += d
			c.Tokens++
		}
	}
	if c.Tokens > 0 {
		c.MeanAbsDiff = sum / float64(c.Tokens)
	}
	if c.MaxAbsDiff > tol {
		c.OK = false
	}
	return c
}

// benchMarkdown is the results as a Markdown table.
func benchMarkdown(r BenchResult) string {
	var b strings.Builder
	dev := "CPU"
	for _, d := range r.Devices {
		if d.Type != "cpu" {
			dev = fmt.Sprintf("%s (%s)", d.Name, d.Description)
			break
		}
	}
	fmt.Fprintf(&b, "Model %s: %.3g B parameters, %.2f GB, %d layers; device %s, gpu-layers=%s.\n\n",
		r.Model, float64(r.Params)/1e9, float64(r.SizeBytes)/1e9, r.Layers, dev, r.GPULayers)
	b.WriteString("| measure | batch | tokens | seconds | tok/s |\n|---|---:|---:|---:|---:|\n")
	if r.Copy != nil {
		fmt.Fprintf(&b, "| copy bandwidth on %s: %.3g TB/s (read + write) | | | %.3f | |\n", r.Copy.Device, r.Copy.BytesPerSec/1e12, r.Copy.Seconds)
		fmt.Fprintf(&b, "| batch-1 decode bound (bandwidth / model bytes) | 1 | | | %.0f |\n", r.Batch1Bound)
	}
	for _, g := range r.Generate {
		fmt.Fprintf(&b, "| generate | %d | %d | %.3f | %.0f |\n", g.Batch, g.Tokens, g.Seconds, g.TokS)
	}
	for _, s := range r.Score {
		fmt.Fprintf(&b, "| score | %d | %d | %.3f | %.0f |\n", s.Batch, s.Tokens, s.Seconds, s.TokS)
	}
	fmt.Fprintf(&b, "| embed | %d | %d | %.3f | %.0f |\n", r.Embed.Batch, r.Embed.Tokens, r.Embed.Seconds, r.Embed.TokS)
	if c := r.CompareCPU; c != nil {
		verdict := "ok"
		if !c.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(&b, "\nScores against the CPU, %d texts, %d tokens: max |difference| %.3g, mean %.3g per token (tolerance %g: %s).\n",
			c.Texts, c.Tokens, c.MaxAbsDiff, c.MeanAbsDiff, c.Tolerance, verdict)
	}
	return b.String()
}
