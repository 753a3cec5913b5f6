// Package report is mbd-report: a run folder of the pipeline → report.html, report.md and
// report.json, plus a short summary on the terminal.
//
// The report reads whatever the run folder holds (see the file list in load.go: prompts,
// generations, embeddings, clusters, centroids, matches, hypotheses, validations and their trials
// log, the validation answers and their token scores, ground truths and their recovery, a weight
// difference, A/A calibration, run.json) and says which files were absent and what that leaves
// out. Its content, in order: title and models; summary (hypotheses proposed and validated at the
// run's α, best q, recovery); validated hypotheses with their tests side by side, then the others;
// for each validated hypothesis a few judged pairs (prompt, both answers, the judge's verdicts)
// with token-level evidence — each token of an answer coloured by log p_B − log p_A when
// scores-a/b.parquet hold it; the regions table; plots drawn with gonum.org/v1/plot as inline SVG
// (the 2-D map, cluster shares with q-values, a forest plot of effect sizes per test, the A/A
// p-value histogram); the recovery table; the weight difference; the inputs with their SHA-256.
//
// The HTML page is one self-contained file: no script, no external style sheet, font or image,
// and a Content-Security-Policy that forbids loading anything. All text goes through
// html/template. The Markdown carries the same content (plots as their data); report.json is the
// Report struct (model.go), whose layout is versioned by FormatID. Outputs are deterministic (no
// timestamps) and written atomically, all or none: input errors are found before anything is
// written.
package report

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
)

// Main is mbd-report.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
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
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "folder for report.html, report.md and report.json (default: the run folder)"},
			&ucli.StringFlag{Name: "html", Usage: "write only the named outputs: the HTML page to `PATH` (- for stdout)"},
			&ucli.StringFlag{Name: "md", Usage: "the Markdown report to `PATH` (- for stdout)"},
			&ucli.StringFlag{Name: "json", Usage: "the JSON report to `PATH` (- for stdout, instead of the summary)"},
			&ucli.StringFlag{Name: "title", Usage: "title (default: run.json's, else the two model references)"},
			&ucli.IntFlag{Name: "examples", Value: DefaultOptions.Examples, Usage: "judged pairs shown per validated hypothesis"},
			&ucli.IntFlag{Name: "top-tokens", Value: DefaultOptions.TopTokens, Usage: "tokens listed each way per answer in the token-level evidence"},
			&ucli.IntFlag{Name: "max-points", Value: DefaultOptions.MaxPoints, Usage: "most texts drawn on the map (thinned evenly beyond)"},
		},
		Action: run,
	}, args, stdio)
}

// output is one file to write.
type output struct {
	path string // "-" for stdout
	data []byte
}

func run(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	if cmd.NArg() != 1 {
		return cli.Usagef("want one run folder DIR, got %d arguments", cmd.NArg())
	}
	dir := cmd.Args().First()
	opt := Options{Title: cmd.String("title"), Examples: int(cmd.Int("examples")), TopTokens: int(cmd.Int("top-tokens")),
		MaxPoints: int(cmd.Int("max-points"))}
	switch {
	case opt.Examples < 0 || opt.TopTokens < 0:
		return cli.Usagef("--examples and --top-tokens must be >= 0")
	case opt.MaxPoints < 1:
		return cli.Usagef("--max-points must be >= 1")
	}
	htmlPath, mdPath, jsonPath := cmd.String("html"), cmd.String("md"), cmd.String("json")
	explicit := htmlPath != "" || mdPath != "" || jsonPath != ""
	outDir := cmd.String("output")
	if explicit && outDir != "" {
		return cli.Usagef("give either -o DIR or --html/--md/--json paths, not both")
	}
	stdouts := 0
	for _, p := range []string{htmlPath, mdPath, jsonPath} {
		if p == "-" {
			stdouts++
		}
	}
	if stdouts > 1 {
		return cli.Usagef("only one of --html, --md and --json can be - (stdout)")
	}
	if !explicit {
		if outDir == "" {
			outDir = dir
		}
		htmlPath, mdPath, jsonPath = filepath.Join(outDir, "report.html"), filepath.Join(outDir, "report.md"), filepath.Join(outDir, "report.json")
	}

	// Everything is read and rendered before anything is written.
	d, err := load(dir)
	if err != nil {
		return err
	}
	r := build(d, opt)
	plots, err := makePlots(d, r, opt)
	if err != nil {
		return err
	}
	v := newView(r, plots)
	var outs []output
	if htmlPath != "" {
		b, err := renderHTML(v)
		if err != nil {
			return err
		}
		outs = append(outs, output{htmlPath, b})
	}
	if mdPath != "" {
		outs = append(outs, output{mdPath, renderMarkdown(v)})
	}
	if jsonPath != "" {
		b, err := renderJSON(r)
		if err != nil {
			return err
		}
		outs = append(outs, output{jsonPath, b})
	}
	if !explicit {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", outDir, err)
		}
	}
	var toStdout []byte
	var written []string
	if err := writeAll(outs, &toStdout, &written); err != nil {
		return err
	}
	env.Log.Info("reported", "run", dir, "hypotheses", r.Summary.Hypotheses, "validated", r.Summary.Validated, "outputs", strings.Join(written, ","))
	if toStdout != nil {
		_, err := env.Stdout.Write(toStdout)
		return err
	}
	printSummary(env.Stdout, r, written)
	return nil
}

// writeAll writes every file output atomically and commits them only when all are written, so an
// error leaves none of them (the stdout one is returned, to print last).
func writeAll(outs []output, stdout *[]byte, written *[]string) error {
	var files []*atomicfile.File
	defer func() {
		for _, f := range files {
			f.Abort()
		}
	}()
	for _, o := range outs {
		if o.path == "-" {
			*stdout = o.data
			continue
		}
		f, err := atomicfile.Create(o.path)
		if err != nil {
			return err
		}
		files = append(files, f)
		if _, err := f.Write(o.data); err != nil {
			return fmt.Errorf("write %s: %w", o.path, err)
		}
	}
	for _, f := range files {
		if err := f.Commit(); err != nil {
			return err
		}
		*written = append(*written, f.Name())
	}
	return nil
}

// printSummary prints the compact terminal summary.
func printSummary(w io.Writer, r *Report, written []string) {
	fmt.Fprintln(w, r.Title)
	for _, m := range []Model{r.ModelA, r.ModelB} {
		ref := m.Ref
		if ref == "" {
			ref = "(reference unknown)"
		}
		fmt.Fprintf(w, "  %s: %s\n", m.Label, ref)
	}
	fmt.Fprintln(w, headline(r.Summary))
	for _, h := range r.Hypotheses {
		mark := "  "
		if h.Validated {
			mark = "✓ "
		}
		fmt.Fprintf(w, "%s%s  %s\n", mark, h.ID, h.Text)
		var parts []string
		for _, t := range h.Tests {
			parts = append(parts, t.Method+" "+shortTest(&t))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "     %s\n", strings.Join(parts, "; "))
		}
	}
	if r.Summary.Regions > 0 {
		fmt.Fprintf(w, "%d regions, %d where the models differ\n", r.Summary.Regions, r.Summary.Differing)
	}
	var absent []string
	for _, in := range r.Inputs {
		if !in.Present {
			absent = append(absent, in.File)
		}
	}
	if len(absent) > 0 {
		fmt.Fprintf(w, "absent: %s\n", strings.Join(absent, ", "))
	}
	for _, p := range written {
		fmt.Fprintf(w, "wrote %s\n", p)
	}
}
