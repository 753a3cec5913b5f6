// Package report makes the report of a run folder of the pipeline: report.html, report.md and
// report.json (Write), plus a short summary for the terminal (PrintSummary). Its command line is
// mbd-report (internal/cmd/reportcmd).
//
// The report reads whatever the run folder holds (see the file list in load.go: prompts,
// generations, embeddings, clusters, centroids, matches, hypotheses, validations and their trials
// log, the validation answers and their token scores, ground truths and their recovery, a weight
// difference, the activation difference lens and steered texts, A/A calibration, run.json, and the
// clusters' and hypotheses' manifests for the texts they left out as unpaired) and says which files
// were absent and what that leaves out. Its content, in order: title and models; summary (hypotheses proposed and validated at the
// run's α, best q, recovery); validated hypotheses with their tests side by side, then the others;
// for each validated hypothesis a few judged pairs (prompt, both answers, the judge's verdicts)
// with token-level evidence — each token of an answer coloured by log p_B − log p_A when
// scores-a/b.parquet hold it; the regions table; plots drawn with gonum.org/v1/plot as inline SVG
// (the 2-D map, cluster shares with q-values, a forest plot of effect sizes per test, the A/A
// p-value histogram); the recovery table; the weight difference; the lens (per block, the tokens
// the mean difference B − A promotes and suppresses through B's head, with z and p, the significant
// ones marked; a plot of the difference's norm by block and position; a few steered texts); the
// inputs with their SHA-256.
//
// The HTML page is one self-contained file: no script, no external style sheet, font or image,
// and a Content-Security-Policy that forbids loading anything. All text goes through
// html/template. The Markdown carries the same content (plots as their data); report.json is the
// Report struct (model.go), whose layout is versioned by FormatID. Outputs are deterministic (no
// timestamps) and written atomically, all or none: input errors are found before anything is
// written.
package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mbd-dev/mbd/internal/atomicfile"
)

// Outputs name the files a report is written to: "" skips one, "-" is standard output.
type Outputs struct {
	HTML     string
	Markdown string
	JSON     string
	Dir      string // folder created, when missing, before anything is written ("" for none)
}

// In returns the outputs report.html, report.md and report.json in the folder dir.
func In(dir string) Outputs {
	return Outputs{HTML: filepath.Join(dir, "report.html"), Markdown: filepath.Join(dir, "report.md"),
		JSON: filepath.Join(dir, "report.json"), Dir: dir}
}

// Stdout reports whether one of the outputs is standard output.
func (o Outputs) Stdout() bool { return o.HTML == "-" || o.Markdown == "-" || o.JSON == "-" }

// Files returns the names of the files of a run folder that a report reads, in the order the
// report lists them.
func Files() []string {
	names := make([]string, len(purposes))
	for i, p := range purposes {
		names[i] = p.file
	}
	return names
}

// check refuses options that the report cannot honour.
func (opt Options) check() error {
	if opt.Examples < 0 || opt.TopTokens < 0 || opt.MaxPoints < 1 {
		return fmt.Errorf("report: options %+v: want Examples, TopTokens >= 0 and MaxPoints >= 1", opt)
	}
	return nil
}

// output is one file to write.
type output struct {
	path string // "-" for stdout
	data []byte
}

// Write reads the run folder dir, builds its report with opt and writes it to outs, all or none:
// everything is read and rendered before anything is written, and a file is committed only when
// every file is written. The output that is "-" goes to stdout last. It returns the report and the
// files written. Bad content in the run folder is a *table.InputError naming the file.
func Write(dir string, opt Options, outs Outputs, stdout io.Writer) (*Report, []string, error) {
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	d, err := load(dir)
	if err != nil {
		return nil, nil, err
	}
	r := build(d, opt)
	plots, err := makePlots(d, r, opt)
	if err != nil {
		return nil, nil, err
	}
	v := newView(r, plots)
	var list []output
	if outs.HTML != "" {
		b, err := renderHTML(v)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, output{outs.HTML, b})
	}
	if outs.Markdown != "" {
		list = append(list, output{outs.Markdown, renderMarkdown(v)})
	}
	if outs.JSON != "" {
		b, err := renderJSON(r)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, output{outs.JSON, b})
	}
	if outs.Dir != "" {
		if err := os.MkdirAll(outs.Dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("create %s: %w", outs.Dir, err)
		}
	}
	var toStdout []byte
	var written []string
	if err := writeAll(list, &toStdout, &written); err != nil {
		return nil, nil, err
	}
	if toStdout != nil {
		if _, err := stdout.Write(toStdout); err != nil {
			return nil, nil, err
		}
	}
	return r, written, nil
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
			if *stdout != nil {
				return errors.New("report: more than one output is stdout")
			}
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

// PrintSummary prints the compact terminal summary of r and the files written.
func PrintSummary(w io.Writer, r *Report, written []string) {
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
	if l := r.Lens; l != nil {
		for _, b := range l.Blocks {
			var top []string
			for _, t := range b.Promoted[:min(3, len(b.Promoted))] {
				mark := ""
				if t.Significant {
					mark = "*"
				}
				top = append(top, fmt.Sprintf("%q (z %s)%s", t.Token, fmtSigned(t.Z), mark))
			}
			fmt.Fprintf(w, "lens block %d promotes %s\n", b.Layer, strings.Join(top, ", "))
		}
	}
	for _, u := range r.Unpaired {
		fmt.Fprintln(w, unpairedLine(u, r.ModelA.Label, r.ModelB.Label))
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
