// Package reportcmd is the command line of mbd-report: its flags, their checks, and the run that
// writes the report of a run folder (package report) and prints its summary.
package reportcmd

import (
	"context"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/report"
)

// Options are the options of mbd-report.
type Options struct {
	Output    string   // -o: folder for the three files (default: the run folder)
	HTML      string   // --html
	Markdown  string   // --md
	JSON      string   // --json
	Title     string   // --title
	Examples  int      // --examples
	TopTokens int      // --top-tokens
	MaxPoints int      // --max-points
	Dirs      []string // DIR argument (exactly one)
}

// Main is mbd-report.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	o := &Options{}
	return cli.Run(ctx, &ucli.Command{
		Name:      "mbd-report",
		Usage:     "write the HTML, Markdown and JSON report of a run folder",
		ArgsUsage: "DIR",
		Description: `Reads the tables a pipeline run left in DIR (prompts, gens-a/-b, clusters, centroids, matches,
hypotheses, validations and validations.parquet.trials.jsonl, answers, scores-a/-b, truths,
recovery, weightdiff, calibration.json, run.json; absent ones are skipped and listed) and writes
report.html (one self-contained page with inline SVG plots, no network), report.md and report.json
into -o DIR (default: the run folder), then prints a short summary. --html, --md and --json write
only the named files instead; "-" writes that one to stdout in place of the summary.

run.json (optional): {"title": "...", "model_a": "REF", "model_b": "REF", "truth": "what was inserted"}
calibration.json (optional): {"runs": N, "positives": K, "alpha": 0.05, "p_values": [...]} from A/A runs

Examples:
  mbd-report out/demo
  mbd-report -o site/ out/demo
  mbd-report --json - out/demo | jq .summary`,
		Flags: []ucli.Flag{
			cli.OutputFlag(&o.Output, "folder for report.html, report.md and report.json (default: the run folder)"),
			&ucli.StringFlag{Name: "html", Destination: &o.HTML, Usage: "write only the named outputs: the HTML page to `PATH` (- for stdout)"},
			&ucli.StringFlag{Name: "md", Destination: &o.Markdown, Usage: "the Markdown report to `PATH` (- for stdout)"},
			&ucli.StringFlag{Name: "json", Destination: &o.JSON, Usage: "the JSON report to `PATH` (- for stdout, instead of the summary)"},
			&ucli.StringFlag{Name: "title", Destination: &o.Title, Usage: "title (default: run.json's, else the two model references)"},
			&ucli.IntFlag{Name: "examples", Value: report.DefaultOptions.Examples, Destination: &o.Examples, Usage: "judged pairs shown per validated hypothesis"},
			&ucli.IntFlag{Name: "top-tokens", Value: report.DefaultOptions.TopTokens, Destination: &o.TopTokens, Usage: "tokens listed each way per answer in the token-level evidence"},
			&ucli.IntFlag{Name: "max-points", Value: report.DefaultOptions.MaxPoints, Destination: &o.MaxPoints, Usage: "most texts drawn on the map (thinned evenly beyond)"},
		},
		Action: cli.Action(o, &o.Dirs, Run),
	}, args, stdio)
}

// explicit reports whether --html, --md or --json name the outputs.
func (o Options) explicit() bool { return o.HTML != "" || o.Markdown != "" || o.JSON != "" }

// outputs are the files the run writes.
func (o Options) outputs() report.Outputs {
	if o.explicit() {
		return report.Outputs{HTML: o.HTML, Markdown: o.Markdown, JSON: o.JSON}
	}
	dir := o.Output
	if dir == "" {
		dir = o.Dirs[0]
	}
	return report.In(dir)
}

// Validate checks the options before any work: the counts, the choice of outputs, and that no
// output is a file of the run folder or another output.
func (o Options) Validate() error {
	var c cli.Check
	c.Must(len(o.Dirs) == 1, "want one run folder DIR, got %d arguments", len(o.Dirs))
	c.Count("--examples", o.Examples, 0)
	c.Count("--top-tokens", o.TopTokens, 0)
	c.Count("--max-points", o.MaxPoints, 1)
	c.Must(!o.explicit() || o.Output == "", "give either -o DIR or --html/--md/--json paths, not both")
	stdouts := 0
	for _, p := range []string{o.HTML, o.Markdown, o.JSON} {
		if p == "-" {
			stdouts++
		}
	}
	c.Must(stdouts <= 1, "only one of --html, --md and --json can be - (stdout)")
	if err := c.Err(); err != nil {
		return err
	}
	var p cli.Paths
	for _, f := range report.Files() {
		p.Shared(f, filepath.Join(o.Dirs[0], f)) // two of them may link to one file
	}
	outs := o.outputs()
	for _, out := range []struct{ flag, path string }{{"--html", outs.HTML}, {"--md", outs.Markdown}, {"--json", outs.JSON}} {
		if !o.explicit() {
			out.flag = "-o"
		}
		p.Out(out.flag, out.path)
	}
	c.Add(p.Err())
	return c.Err()
}

// Run writes the report and prints its summary (unless an output is stdout).
func Run(_ context.Context, env *cli.Env, o Options) error {
	dir := o.Dirs[0]
	opt := report.Options{Title: o.Title, Examples: o.Examples, TopTokens: o.TopTokens, MaxPoints: o.MaxPoints}
	outs := o.outputs()
	r, written, err := report.Write(dir, opt, outs, env.Stdout)
	if err != nil {
		return err
	}
	env.Log.Info("reported", "run", dir, "hypotheses", r.Summary.Hypotheses, "validated", r.Summary.Validated, "outputs", strings.Join(written, ","))
	if !outs.Stdout() {
		report.PrintSummary(env.Stdout, r, written)
	}
	return nil
}
