// Package gencmd is the command line of mbd-gen: the flags of run, import, batch-export and
// batch-import, their checks, and the runs that read the inputs, call package gen and write the
// generations table (or the batch requests file) with its manifest.
package gencmd

import (
	"context"
	"math"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Upper bounds of the counts: far above any real run, low enough that no count overflows an
// index or asks for memory no machine has.
const (
	maxSamples = 1 << 20
	maxChunk   = 1 << 20
)

// Main is mbd-gen.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-gen",
		Usage: "make a generations table",
		Description: `Examples:
  mbd-gen run --model gguf:base.gguf --label A --samples 4 prompts.parquet -o gens-a.parquet
  mbd-gen import --model-col system answers.csv -o generations.parquet
  mbd-gen batch-export --model gpt-4o-mini --label B --chat prompts.parquet -o requests.jsonl`,
		Commands: []*ucli.Command{runCommand(), importCommand(), batchExportCommand(), batchImportCommand()},
	}, args, stdio)
}

// GenOptions are the options run and batch-export share: which completions to make and how to
// sample them.
type GenOptions struct {
	Samples           int      // --samples
	Seed              uint64   // --seed
	Temperature       float64  // --temperature
	TopK              int      // --top-k
	TopP              float64  // --top-p
	MinP              float64  // --min-p
	MaxTokens         int      // --max-tokens
	Stop              []string // --stop
	RepetitionPenalty float64  // --repetition-penalty
	Split             string   // --split
	Label             string   // --label
}

// flags binds the sampling flags to g.
func (g *GenOptions) flags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.IntFlag{Name: "samples", Value: 1, Destination: &g.Samples, Usage: "completions per prompt"},
		&ucli.Uint64Flag{Name: "seed", Destination: &g.Seed, Usage: "base seed; each completion's seed is a hash of it, the prompt id and the sample index"},
		&ucli.Float64Flag{Name: "temperature", Value: 1, Destination: &g.Temperature, Usage: "sampling temperature (0: greedy)"},
		&ucli.IntFlag{Name: "top-k", Destination: &g.TopK, Usage: "keep the k most likely tokens (0: off)"},
		&ucli.Float64Flag{Name: "top-p", Destination: &g.TopP, Usage: "nucleus sampling mass (0 or 1: off)"},
		&ucli.Float64Flag{Name: "min-p", Destination: &g.MinP, Usage: "drop tokens below this fraction of the top probability (0: off)"},
		&ucli.IntFlag{Name: "max-tokens", Value: 256, Destination: &g.MaxTokens, Usage: "most tokens per completion"},
		&ucli.StringSliceFlag{Name: "stop", Destination: &g.Stop, Usage: "stop string (repeatable)"},
		&ucli.Float64Flag{Name: "repetition-penalty", Destination: &g.RepetitionPenalty, Usage: "repetition penalty (0 or 1: off)"},
		&ucli.StringFlag{Name: "split", Value: "all", Destination: &g.Split, Usage: "prompts to use: all, discovery or validation"},
		&ucli.StringFlag{Name: "label", Destination: &g.Label, Usage: "model `LABEL` written in the table (e.g. A or B)"},
	}
}

// check adds the problems of the sampling flags to c.
func (g GenOptions) check(c *cli.Check) {
	c.Must(strings.TrimSpace(g.Label) != "", "no model label: give --label (e.g. A or B)")
	c.CountIn("--samples", g.Samples, 1, maxSamples)
	c.Sampling(g.Temperature, g.MaxTokens)
	c.CountIn("--top-k", g.TopK, 0, math.MaxInt32)
	c.Between("--top-p", g.TopP, 0, 1)
	c.Between("--min-p", g.MinP, 0, 1)
	c.AtLeast("--repetition-penalty", g.RepetitionPenalty, 0)
	c.Must(g.Split == gen.SplitAll || g.Split == schema.SplitDiscovery || g.Split == schema.SplitValidation,
		"--split %q: want all, discovery or validation", g.Split)
}

func (g GenOptions) sampling() llm.Sampling {
	return llm.Sampling{
		Temperature: g.Temperature, TopK: g.TopK, TopP: g.TopP, MinP: g.MinP, MaxTokens: g.MaxTokens,
		Stop: g.Stop, RepetitionPenalty: g.RepetitionPenalty,
	}
}

// jobs selects the prompts of --split and --shard and lists their completions.
func (g GenOptions) jobs(ps []schema.Prompt, shard cli.Shard) []gen.Job {
	return gen.Jobs(gen.Select(ps, g.Split, shard.Has), g.Label, g.Samples, g.Seed)
}
