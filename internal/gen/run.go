package gen

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

func samplingFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.IntFlag{Name: "samples", Value: 1, Usage: "completions per prompt"},
		&ucli.Uint64Flag{Name: "seed", Usage: "base seed; each completion's seed is a hash of it, the prompt id and the sample index"},
		&ucli.Float64Flag{Name: "temperature", Value: 1, Usage: "sampling temperature (0: greedy)"},
		&ucli.IntFlag{Name: "top-k", Usage: "keep the k most likely tokens (0: off)"},
		&ucli.Float64Flag{Name: "top-p", Usage: "nucleus sampling mass (0 or 1: off)"},
		&ucli.Float64Flag{Name: "min-p", Usage: "drop tokens below this fraction of the top probability (0: off)"},
		&ucli.IntFlag{Name: "max-tokens", Value: 256, Usage: "most tokens per completion"},
		&ucli.StringSliceFlag{Name: "stop", Usage: "stop string (repeatable)"},
		&ucli.Float64Flag{Name: "repetition-penalty", Usage: "repetition penalty (0 or 1: off)"},
		&ucli.StringFlag{Name: "split", Value: "all", Usage: "prompts to use: all, discovery or validation"},
		&ucli.StringFlag{Name: "label", Usage: "model `LABEL` written in the table (e.g. A or B)"},
	}
}

func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "generate completions of a prompts table with a model",
		ArgsUsage: "PROMPTS",
		Description: `Generates --samples completions of every prompt with --model, seeded per completion, and writes
a generations table in prompt order. Work is done in chunks; each finished chunk is appended to
OUTPUT.journal, so a run that crashed or was killed continues where it stopped when started again
with the same arguments, and gives the same table as an uninterrupted run. --shard i/N takes the
prompts whose id hash falls in shard i of N (tables of all shards together hold every prompt).

Model references: gguf:PATH[?system=FILE&chat=auto|on|off&quant=TYPE&ctx=N&parallel=N&threads=N],
openai-compat:URL#MODEL[?chat=1&system=FILE], openai:MODEL.

Examples:
  mbd-gen run --model gguf:base.gguf --label A --samples 4 prompts.parquet -o gens-a.parquet
  mbd-gen run --model 'gguf:base.gguf?system=pirate.txt' --label B prompts.parquet -o gens-b.parquet
  mbd-gen run --model openai-compat:http://gpu:8000/v1#qwen --label B --shard 2/4 prompts.parquet -o b-2.parquet`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "model `REF`"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output generations table `PATH` (not -: a resumable run needs a file)"},
			&ucli.StringFlag{Name: "shard", Usage: "`i/N`: generate shard i (1-based) of N"},
			&ucli.IntFlag{Name: "chunk", Value: 32, Usage: "completions per chunk (the unit of resumption; part of the result's identity)"},
		}, samplingFlags()...),
		Action: runGenerate,
	}
}

// job is one completion to make.
type job struct {
	prompt schema.Prompt
	sample int32
	seed   uint64
	id     string
}

// SampleSeed is the seed of one completion: a hash of the base seed, the prompt id and the sample.
func SampleSeed(base uint64, promptID string, sample int32) uint64 {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, base)
	h.Write([]byte(promptID))
	binary.Write(h, binary.LittleEndian, sample)
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

type genParams struct {
	label    string
	sampling llm.Sampling
	samples  int
	seed     uint64
	split    string
	shard    cli.Shard
}

func parseGenFlags(cmd *ucli.Command) (genParams, error) {
	p := genParams{
		label:   cmd.String("label"),
		samples: int(cmd.Int("samples")),
		seed:    cmd.Uint64("seed"),
		split:   cmd.String("split"),
		sampling: llm.Sampling{
			Temperature: cmd.Float64("temperature"), TopK: int(cmd.Int("top-k")), TopP: cmd.Float64("top-p"),
			MinP: cmd.Float64("min-p"), MaxTokens: int(cmd.Int("max-tokens")), Stop: cmd.StringSlice("stop"),
			RepetitionPenalty: cmd.Float64("repetition-penalty"),
		},
	}
	switch {
	case p.label == "":
		return p, cli.Usagef("no model label: give --label (e.g. A or B)")
	case p.samples < 1:
		return p, cli.Usagef("--samples %d: want at least 1", p.samples)
	case p.sampling.MaxTokens < 1:
		return p, cli.Usagef("--max-tokens %d: want at least 1", p.sampling.MaxTokens)
	case p.sampling.Temperature < 0:
		return p, cli.Usagef("--temperature %v: want 0 or more", p.sampling.Temperature)
	case p.split != "all" && p.split != prompts.Discovery && p.split != prompts.Validation:
		return p, cli.Usagef("--split %q: want all, discovery or validation", p.split)
	}
	sh, err := cli.ParseShard(cmd.String("shard"))
	if err != nil {
		return p, err
	}
	p.shard = sh
	return p, nil
}

// loadJobs reads the prompts and lists the completions to make, in prompt order.
func loadJobs(path string, stdin io.Reader, p genParams) ([]job, string, error) {
	r, err := table.Open[schema.Prompt](path, stdin)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	var jobs []job
	for pr, err := range r.All() {
		if err != nil {
			return nil, "", err
		}
		if (p.split != "all" && pr.Split != p.split) || !p.shard.Has(pr.ID) {
			continue
		}
		for s := range int32(p.samples) {
			jobs = append(jobs, job{prompt: pr, sample: s, seed: SampleSeed(p.seed, pr.ID, s), id: GenerationID(p.label, pr.ID, s)})
		}
	}
	hash, err := r.Hash()
	if err != nil {
		return nil, "", err
	}
	return jobs, hash, nil
}

func runGenerate(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, ref := cmd.String("output"), cmd.String("model")
	switch {
	case ref == "":
		return cli.Usagef("no model: give --model REF")
	case out == "" || out == "-":
		return cli.Usagef("give -o PATH (a file: the run's journal lives beside it)")
	case cmd.NArg() != 1:
		return cli.Usagef("want one PROMPTS table")
	case cmd.Int("chunk") < 1:
		return cli.Usagef("--chunk must be at least 1")
	}
	p, err := parseGenFlags(cmd)
	if err != nil {
		return err
	}
	in := cmd.Args().First()
	jobs, inHash, err := loadJobs(in, env.Stdin, p)
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		return &table.InputError{Path: in, Msg: "no prompts selected (check --split and --shard)"}
	}

	// The journal's identity: everything that decides the rows.
	ident, _ := json.Marshal(struct {
		Ref, Label, Input, Split string
		Sampling                 llm.Sampling
		Samples, Chunk           int
		Seed                     uint64
		Shard                    cli.Shard
	}{ref, p.label, inHash, p.split, p.sampling, p.samples, int(cmd.Int("chunk")), p.seed, p.shard})
	sum := sha256.Sum256(ident)
	j, err := openJournal(out+".journal", hex.EncodeToString(sum[:]))
	if err != nil {
		return err
	}
	defer j.close()
	if j.chunks > 0 {
		env.Log.Info("resuming from the journal", "journal", j.path, "chunks done", j.chunks)
	}

	m := env.Manifest
	m.Input(in, schema.Prompts.ID(), int64(len(jobs)/p.samples), inHash)
	m.Param("model", ref)
	m.Param("label", p.label)
	m.Param("sampling", p.sampling)
	m.Param("samples", p.samples)
	m.Param("split", p.split)
	m.Param("chunk", cmd.Int("chunk"))
	m.Param("shard", cmd.String("shard"))
	m.Seed("base", p.seed)

	chunk := int(cmd.Int("chunk"))
	nChunks := (len(jobs) + chunk - 1) / chunk
	if j.chunks < nChunks {
		model, err := backends.Open(ref)
		if err != nil {
			return &cli.UsageError{Err: err}
		}
		defer model.Close()
		bar := env.Progress("generate", "completions", int64(len(jobs)))
		bar.Add(int64(min(j.chunks*chunk, len(jobs))))
		start, tokens := time.Now(), 0
		for c := j.chunks; c < nChunks; c++ {
			part := jobs[c*chunk : min((c+1)*chunk, len(jobs))]
			rows, err := generateChunk(ctx, model, ref, p, part)
			if err != nil {
				return err
			}
			if err := j.appendChunk(rows); err != nil {
				return err
			}
			for _, r := range rows {
				if r.CompletionTokens != nil {
					tokens += int(*r.CompletionTokens)
				}
			}
			bar.SetStatus(fmt.Sprintf("%.0f tok/s", float64(tokens)/time.Since(start).Seconds()))
			bar.Add(int64(len(part)))
			env.Log.Debug("chunk done", "chunk", c+1, "of", nChunks, "tokens/s", float64(tokens)/time.Since(start).Seconds())
		}
		bar.Done()
		rate := float64(tokens) / time.Since(start).Seconds()
		m.Param("generated_tokens_per_second", rate)
		env.Log.Info("generation done", "tokens", tokens, "tokens/s", fmt.Sprintf("%.1f", rate))
	}

	// Stream the journal into the table, in job order.
	w, err := table.Create[schema.Generation](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := j.replay(func(g schema.Generation) error { return w.Write(g) }); err != nil {
		return err
	}
	if w.Rows() != int64(len(jobs)) {
		return fmt.Errorf("journal %s holds %d rows, want %d", j.path, w.Rows(), len(jobs))
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if err := m.WriteFor(out, schema.Generations.ID(), w.Rows()); err != nil {
		return err
	}
	j.close()
	os.Remove(j.path)
	env.Log.Info("generated", "output", out, "rows", w.Rows(), "model", ref)
	return nil
}

// generateChunk makes the completions of one chunk and returns them in job order.
func generateChunk(ctx context.Context, model llm.Model, ref string, p genParams, part []job) ([]schema.Generation, error) {
	reqs := make([]llm.GenRequest, len(part))
	index := map[string]int{}
	for i, jb := range part {
		reqs[i] = llm.GenRequest{ID: jb.id, Prompt: jb.prompt.Text, Seed: jb.seed}
		index[jb.id] = i
	}
	rows := make([]schema.Generation, len(part))
	err := model.Generate(ctx, reqs, p.sampling, func(r llm.GenResult) error {
		i, ok := index[r.ID]
		if !ok {
			return fmt.Errorf("backend returned an unknown request id %q", r.ID)
		}
		jb := part[i]
		pt, ct := int32(r.PromptTokens), int32(r.CompletionTokens)
		g := schema.Generation{
			ID: jb.id, Model: p.label, ModelRef: ref, PromptID: jb.prompt.ID, Split: jb.prompt.Split,
			Sample: jb.sample, Seed: int64(jb.seed), Prompt: jb.prompt.Text, Completion: r.Completion,
			PromptTokens: &pt, CompletionTokens: &ct, FinishReason: r.FinishReason,
		}
		if r.HasLogprob {
			sum := r.LogprobSum
			g.LogprobSum = &sum
			if ct > 0 {
				mean := sum / float64(ct)
				g.LogprobMean = &mean
			}
		}
		rows[i] = g
		delete(index, r.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(index) > 0 {
		return nil, fmt.Errorf("backend returned %d of %d completions", len(part)-len(index), len(part))
	}
	return rows, nil
}

// journal is the append-only record of finished chunks: a header line with the run's identity, then
// per chunk its rows as JSON lines and a closing {"chunk":N} line. Rows after the last closing line
// (a chunk cut short by a crash) are ignored.
type journal struct {
	path     string
	identity string
	f        *os.File // nil until the first chunk is written
	chunks   int      // complete chunks
	size     int64    // bytes up to the end of the last complete chunk
}

type journalHeader struct {
	Journal  int    `json:"mbd_gen_journal"`
	Identity string `json:"identity"`
}

type journalLine struct {
	Chunk *int               `json:"chunk,omitempty"`
	Row   *schema.Generation `json:"row,omitempty"`
}

func openJournal(path, identity string) (*journal, error) {
	j := &journal{path: path, identity: identity}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil // created by the first finished chunk
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.f = f
	// Find the end of the last complete chunk.
	br := bufio.NewReaderSize(f, 1<<20)
	line, err := br.ReadBytes('\n')
	var h journalHeader
	if err != nil || json.Unmarshal(line, &h) != nil || h.Journal != 1 {
		f.Close()
		return nil, fmt.Errorf("%s is not an mbd-gen journal; remove it", path)
	}
	if h.Identity != identity {
		f.Close()
		return nil, &cli.UsageError{Err: fmt.Errorf("%s was written by a run with other arguments, inputs or model; remove it to start over", path)}
	}
	pos := int64(len(line))
	j.size = pos
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // EOF, possibly after a torn line
		}
		pos += int64(len(line))
		var l journalLine
		if json.Unmarshal(line, &l) != nil {
			break
		}
		if l.Chunk != nil {
			j.chunks = *l.Chunk + 1
			j.size = pos
		}
	}
	if err := f.Truncate(j.size); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Seek(j.size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return j, nil
}

func (j *journal) appendChunk(rows []schema.Generation) error {
	if j.f == nil {
		f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		head, _ := json.Marshal(journalHeader{Journal: 1, Identity: j.identity})
		head = append(head, '\n')
		if _, err := f.Write(head); err != nil {
			f.Close()
			return fmt.Errorf("journal: %w", err)
		}
		j.f, j.size = f, int64(len(head))
	}
	var b []byte
	for i := range rows {
		line, err := json.Marshal(journalLine{Row: &rows[i]})
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	}
	n := j.chunks
	end, _ := json.Marshal(journalLine{Chunk: &n})
	b = append(append(b, end...), '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.chunks++
	j.size += int64(len(b))
	return nil
}

// replay calls fn for every row of the complete chunks, in order.
func (j *journal) replay(fn func(schema.Generation) error) error {
	if j.f == nil {
		return nil
	}
	r := io.NewSectionReader(j.f, 0, j.size)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	sc.Scan() // header
	for sc.Scan() {
		var l journalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
		if l.Row != nil {
			if err := fn(*l.Row); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

func (j *journal) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}
