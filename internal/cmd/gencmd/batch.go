package gencmd

import (
	"context"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// BatchExportOptions are the options of mbd-gen batch-export.
type BatchExportOptions struct {
	Model  string // --model
	Output string // -o
	Chat   bool   // --chat
	System string // --system
	Shard  string // --shard
	Gen    GenOptions
	Inputs []string // PROMPTS argument
}

// BatchImportOptions are the options of mbd-gen batch-import.
type BatchImportOptions struct {
	Prompts    string   // --prompts
	Output     string   // -o
	SkipFailed bool     // --skip-failed
	Results    []string // RESULTS.jsonl arguments
}

func batchExportCommand() *ucli.Command {
	o := &BatchExportOptions{}
	return &ucli.Command{
		Name:      "batch-export",
		Usage:     "write the requests of a generation run as OpenAI batch JSONL (OpenAI Batch API, vllm run-batch)",
		ArgsUsage: "PROMPTS",
		Description: `Writes one request per completion to make (prompts x --samples), with the sampling settings and
the per-completion seed mbd-gen run would use. Send the file to the OpenAI Batch API or run it with
vllm run-batch, then turn the results into a generations table with mbd-gen batch-import.

Examples:
  mbd-gen batch-export --model gpt-4o-mini --label B --chat --samples 2 prompts.parquet -o requests.jsonl
  vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-7B-Instruct`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "model", Destination: &o.Model, Usage: "model `NAME` as the server knows it"},
			cli.OutputFlag(&o.Output, "output requests `FILE.jsonl`"),
			&ucli.BoolFlag{Name: "chat", Destination: &o.Chat, Usage: "use /v1/chat/completions (default /v1/completions)"},
			&ucli.StringFlag{Name: "system", Destination: &o.System, Usage: "hidden system prompt `FILE` (chat only)"},
			&ucli.StringFlag{Name: "shard", Destination: &o.Shard, Usage: "`i/N`: only shard i of N"},
		}, o.Gen.flags()...),
		Action: cli.Action(o, &o.Inputs, RunBatchExport),
	}
}

// Validate checks the options of batch-export before any work.
func (o BatchExportOptions) Validate() error {
	var c cli.Check
	c.Must(o.Model != "", "no model: give --model NAME")
	c.Add(cli.NeedOutput(o.Output, "FILE.jsonl"))
	c.Must(len(o.Inputs) == 1, "want one PROMPTS table")
	o.Gen.check(&c)
	c.Must(!strings.Contains(o.Gen.Label, "|"), "--label %q: must not contain | (it separates the fields of a request id)", o.Gen.Label)
	c.Must(o.System == "" || o.Chat, "--system needs --chat (a completions request has no system message)")
	_, err := cli.ParseShard(o.Shard)
	c.Add(err)
	var p cli.Paths
	p.In("PROMPTS", o.Inputs...)
	p.In("--system", o.System)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunBatchExport writes the requests file.
func RunBatchExport(ctx context.Context, env *cli.Env, o BatchExportOptions) error {
	b := gen.BatchRequests{Model: o.Model, Chat: o.Chat,
		Params: gen.Params{Label: o.Gen.Label, Sampling: o.Gen.sampling()}}
	if o.System != "" {
		data, err := os.ReadFile(o.System)
		if err != nil {
			return cli.Usagef("--system: %v", err)
		}
		b.System = strings.TrimSpace(string(data))
	}
	shard, _ := cli.ParseShard(o.Shard)
	ps, err := cli.ReadTable[schema.Prompt](env, o.Inputs[0])
	if err != nil {
		return err
	}
	jobs := o.Gen.jobs(ps, shard)
	f, err := atomicfile.Create(o.Output)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := gen.ExportRequests(f, jobs, b); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	env.Log.Info("wrote batch requests", "output", o.Output, "requests", len(jobs))
	return nil
}

func batchImportCommand() *ucli.Command {
	o := &BatchImportOptions{}
	return &ucli.Command{
		Name:      "batch-import",
		Usage:     "turn OpenAI batch results JSONL into a generations table",
		ArgsUsage: "RESULTS.jsonl ...",
		Description: `Reads batch results for requests written by mbd-gen batch-export. --prompts gives the prompt
texts and splits. A failed request (an error or a status other than 200) stops the import, unless
--skip-failed, which leaves it out and says how many were left out.

Example:
  mbd-gen batch-import --prompts prompts.parquet results.jsonl -o generations.parquet`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "prompts", Destination: &o.Prompts, Usage: "the prompts `TABLE` the requests were made from"},
			cli.OutputFlag(&o.Output, "output generations table (`PATH` or -)"),
			&ucli.BoolFlag{Name: "skip-failed", Destination: &o.SkipFailed, Usage: "leave failed requests out instead of stopping"},
		},
		Action: cli.Action(o, &o.Results, RunBatchImport),
	}
}

// Validate checks the options of batch-import before any work.
func (o BatchImportOptions) Validate() error {
	var c cli.Check
	c.Must(o.Prompts != "", "no prompts: give --prompts TABLE")
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Must(len(o.Results) > 0, "want one or more RESULTS.jsonl")
	var p cli.Paths
	p.In("--prompts", o.Prompts)
	p.In("RESULTS", o.Results...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunBatchImport reads the results and writes the generations table.
func RunBatchImport(ctx context.Context, env *cli.Env, o BatchImportOptions) error {
	ps, err := cli.ReadTable[schema.Prompt](env, o.Prompts)
	if err != nil {
		return err
	}
	res, err := gen.ImportResults(ps, o.Prompts, o.Results, o.SkipFailed)
	if err != nil {
		return err
	}
	for i, path := range o.Results {
		if _, err := cli.RecordFile(env, path, res.Lines[i]); err != nil {
			return err
		}
	}
	if len(res.Rows) == 0 {
		return &table.InputError{Path: strings.Join(o.Results, ", "), Msg: "no successful results"}
	}
	if res.Failed > 0 {
		env.Log.Warn("left out failed requests", "count", res.Failed)
	}
	env.Manifest.Param("failed", res.Failed)
	if err := cli.WriteTable(env, o.Output, res.Rows); err != nil {
		return err
	}
	env.Log.Info("imported batch results", "output", o.Output, "rows", len(res.Rows))
	return nil
}
