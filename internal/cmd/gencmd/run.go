package gencmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// RunOptions are the options of mbd-gen run.
type RunOptions struct {
	Model  string // --model
	Output string // -o
	Shard  string // --shard
	Chunk  int    // --chunk
	Gen    GenOptions
	Inputs []string // PROMPTS argument
}

func runCommand() *ucli.Command {
	o := &RunOptions{}
	return &ucli.Command{
		Name:      "run",
		Usage:     "generate completions of a prompts table with a model",
		ArgsUsage: "PROMPTS",
		Description: `Generates --samples completions of every prompt with --model, seeded per completion, and writes
a generations table in prompt order. Work is done in chunks; each finished chunk is appended to
OUTPUT.journal, so a run that crashed or was killed continues where it stopped when started again
with the same arguments, and gives the same table as an uninterrupted run. --shard i/N takes the
prompts whose id hash falls in shard i of N (tables of all shards together hold every prompt).

Model references: gguf:PATH[?system=FILE&chat=auto|on|off&quant=TYPE&exact=1&ctx=N&parallel=N&threads=N],
hf:ORG/REPO[@REV][?same options] (downloaded from the Hugging Face Hub, converted once; see
"mbd-model pull"), hf:ORG/REPO/FILE.gguf[@REV][?...], openai-compat:URL#MODEL[?chat=1&system=FILE],
openai:MODEL. A gguf: model generates on llama.cpp's fast path (flash attention, F16 KV cache);
exact=1 generates in F32, as scoring does. The manifest records the path (generation_path).

Examples:
  mbd-gen run --model gguf:base.gguf --label A --samples 4 prompts.parquet -o gens-a.parquet
  mbd-gen run --model 'gguf:base.gguf?system=pirate.txt' --label B prompts.parquet -o gens-b.parquet
  mbd-gen run --model openai-compat:http://gpu:8000/v1#qwen --label B --shard 2/4 prompts.parquet -o b-2.parquet`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "model", Destination: &o.Model, Usage: "model `REF`"},
			cli.OutputFlag(&o.Output, "output generations table `PATH` (not -: a resumable run needs a file)"),
			&ucli.StringFlag{Name: "shard", Destination: &o.Shard, Usage: "`i/N`: generate shard i (1-based) of N"},
			&ucli.IntFlag{Name: "chunk", Value: 32, Destination: &o.Chunk, Usage: "completions per chunk (the unit of resumption; part of the result's identity)"},
		}, o.Gen.flags()...),
		Action: cli.Action(o, &o.Inputs, RunRun),
	}
}

// Validate checks the options of run before any work: the model reference and its options, every
// sampling setting, and that the output (and its journal) is a file that is not the input.
func (o RunOptions) Validate() error {
	var c cli.Check
	c.Must(o.Model != "", "no model: give --model REF")
	if o.Model != "" {
		c.Add(cli.BadRef("--model", backends.Check(o.Model)))
	}
	c.Must(o.Output != "" && o.Output != "-", "give -o PATH (a file: the run's journal lives beside it)")
	if st, err := os.Stat(o.Output); o.Output != "" && err == nil && !st.Mode().IsRegular() {
		c.Failf("-o %s: not a regular file (a resumable run writes a file, its journal beside it)", o.Output)
	}
	c.Must(len(o.Inputs) == 1, "want one PROMPTS table")
	c.CountIn("--chunk", o.Chunk, 1, maxChunk)
	o.Gen.check(&c)
	_, err := cli.ParseShard(o.Shard)
	c.Add(err)
	var p cli.Paths
	p.In("PROMPTS", o.Inputs...)
	p.Shared("--model", backends.LocalFiles(o.Model)...)
	if o.Output != "" {
		p.Out("-o", o.Output)
		p.Out("the journal", o.Output+".journal")
	}
	c.Add(p.Err())
	return c.Err()
}

// RunRun generates the completions, resuming from the output's journal, and writes the table.
func RunRun(ctx context.Context, env *cli.Env, o RunOptions) error {
	in, out, ref := o.Inputs[0], o.Output, o.Model
	shard, _ := cli.ParseShard(o.Shard)
	var ps []schema.Prompt
	hash, err := cli.EachRow(env, in, func(p schema.Prompt) error { ps = append(ps, p); return nil })
	if err != nil {
		return err
	}
	// Inputs are named by role, not path: the same prompts given as ./p.parquet or by an absolute
	// path continue the same journal. Their hashes are the identity.
	id := gen.Identity{Inputs: map[string]string{"prompts": hash}}
	jobs := o.Gen.jobs(ps, shard)
	if len(jobs) == 0 {
		return &table.InputError{Path: in, Msg: "no prompts selected (check --split and --shard)"}
	}
	// An hf: model is downloaded (and converted) first; its reference, pinned to the commit, is
	// what the rows, the journal and the manifest record.
	fetched, err := backends.Fetch(ctx, ref, env.Log)
	if err != nil {
		return cli.BadRef("--model", err)
	}
	ref = fetched.Ref
	// The model's files are part of the run's identity: a model replaced under the same name
	// must not continue another model's journal.
	files, err := backends.Files(ref)
	if err != nil {
		return cli.BadRef("--model", err)
	}
	// The model loads while its files are hashed (the journal's identity needs the hashes, loading
	// needs none): on a large model each takes a while.
	loading := make(chan loaded, 1)
	go func() { loading <- load(ref, jobs, o.Gen.sampling().MaxTokens) }()
	var lm *loaded
	wait := func() *loaded {
		if lm == nil {
			l := <-loading
			lm = &l
		}
		return lm
	}
	defer func() {
		if l := wait(); l.model != nil {
			l.model.Close()
		}
	}()
	for i, f := range files {
		hash, err := cli.RecordFile(env, f, 0)
		if err == nil && hash == "" {
			err = fmt.Errorf("%s: not a regular file", f)
		}
		if err != nil {
			return cli.BadRef("--model", err)
		}
		id.Inputs[fmt.Sprintf("model file %d", i)] = hash
	}
	p := gen.Params{Label: o.Gen.Label, ModelRef: ref, Sampling: o.Gen.sampling(), Samples: o.Gen.Samples,
		Seed: o.Gen.Seed, Split: o.Gen.Split, Shard: o.Shard, Chunk: o.Chunk}
	id.Params = p
	j, err := gen.OpenJournal(out+".journal", id, env.Log)
	if err != nil {
		return err
	}
	defer j.Close()
	if j.Chunks() > 0 {
		env.Log.Info("resuming from the journal", "journal", j.Path(), "chunks done", j.Chunks())
	}

	m := env.Manifest
	m.Param("model", ref)
	m.Param("label", p.Label)
	m.Param("sampling", p.Sampling)
	m.Param("samples", p.Samples)
	m.Param("split", p.Split)
	m.Param("chunk", p.Chunk)
	m.Param("shard", p.Shard)
	m.Seed("base", p.Seed)

	if j.Chunks() < gen.Chunks(len(jobs), p.Chunk) {
		err := wait().err
		var rate float64
		if err == nil {
			m.Param("generation_path", lm.path)
			rate, err = generate(ctx, env, lm.model, jobs, p, j)
		}
		var ce *llm.ContextError
		if errors.As(err, &ce) {
			return cli.Usagef("--model %s: a prompt of %d tokens + --max-tokens %d exceeds the context of %d tokens per sequence; raise ctx= to at least %d or lower --max-tokens",
				ref, ce.Prompt, ce.NewTokens, ce.Context, ce.Prompt+ce.NewTokens)
		}
		if err != nil {
			return err
		}
		m.Param("generated_tokens_per_second", rate)
	}

	// Stream the journal into the table, in job order.
	w, err := table.Create[schema.Generation](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := j.Replay(func(g schema.Generation) error { return w.Write(g) }); err != nil {
		return err
	}
	if w.Rows() != int64(len(jobs)) {
		return fmt.Errorf("journal %s holds %d rows, want %d", j.Path(), w.Rows(), len(jobs))
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if err := m.WriteFor(out, schema.Generations.ID(), w.Rows()); err != nil {
		return err
	}
	if err := j.Remove(); err != nil {
		env.Log.Warn("could not remove the journal", "journal", j.Path(), "err", err)
	}
	env.Log.Info("generated", "output", out, "rows", w.Rows(), "model", ref)
	return nil
}

// loaded is a model opened for generation, with its generation path ("" when the backend has no
// choice of path), or the error that opening it or fitting the prompts gave.
type loaded struct {
	model llm.Model
	path  string
	err   error
}

// load opens the model of ref and checks that every prompt of jobs leaves room for maxTokens new
// tokens in its context. A local model reports its generation path: llama.cpp's fast path, or F32
// as it scores with exact=1.
func load(ref string, jobs []gen.Job, maxTokens int) loaded {
	model, err := backends.Open(ref)
	if err != nil {
		return loaded{err: cli.BadRef("--model", err)}
	}
	l := loaded{model: model}
	if l.err = gen.Fit(model, jobs, maxTokens); l.err != nil {
		return l
	}
	if gp, ok := model.(interface{ GenerationPath() (string, error) }); ok {
		l.path, l.err = gp.GenerationPath()
	}
	return l
}

// generate makes the chunks the journal does not hold yet. It returns the completion tokens per
// second.
func generate(ctx context.Context, env *cli.Env, model llm.Model, jobs []gen.Job, p gen.Params, j *gen.Journal) (float64, error) {
	bar := env.Progress("generate", "completions", int64(len(jobs)))
	bar.Add(int64(min(j.Chunks()*p.Chunk, len(jobs))))
	start := time.Now()
	chunk, nChunks := j.Chunks(), gen.Chunks(len(jobs), p.Chunk)
	tokens, err := gen.Generate(ctx, model, jobs, p, j, func(n, tokens int) {
		chunk++
		rate := float64(tokens) / time.Since(start).Seconds()
		bar.SetStatus(fmt.Sprintf("%.0f tok/s", rate))
		bar.Add(int64(n))
		env.Log.Debug("chunk done", "chunk", chunk, "of", nChunks, "tokens/s", rate)
	})
	if err != nil {
		return 0, err
	}
	bar.Done()
	rate := float64(tokens) / time.Since(start).Seconds()
	env.Log.Info("generation done", "tokens", tokens, "tokens/s", fmt.Sprintf("%.1f", rate))
	return rate, nil
}
