package report

import (
	"fmt"
	"strings"
)

// renderMarkdown renders the report as Markdown (CommonMark with GitHub tables): the same content
// as the HTML page, the plots replaced by the data they draw.
func renderMarkdown(v *view) []byte {
	r := v.R
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# %s\n\n", mdText(r.Title))
	p("## Models\n\n| model | label | reference |\n|---|---|---|\n")
	for _, m := range []struct {
		name string
		m    Model
	}{{"A", r.ModelA}, {"B", r.ModelB}} {
		ref := "(unknown)"
		if m.m.Ref != "" {
			ref = mdCode(m.m.Ref)
		}
		p("| %s | %s | %s |\n", m.name, mdCode(m.m.Label), ref)
	}
	if r.Truth != "" {
		p("\n**Inserted in B (ground truth):** %s\n", mdText(r.Truth))
	}

	s := r.Summary
	p("\n## Summary\n\n**%s**\n\n| | |\n|---|---:|\n", mdText(v.Headline))
	p("| hypotheses proposed | %d |\n", s.Hypotheses)
	corr := ""
	if s.Correction != "" {
		corr = ", " + s.Correction
	}
	p("| hypotheses validated (q ≤ %s%s) | %d |\n", fmtNum(s.Alpha), corr, s.Validated)
	p("| tests run (of all tests) | %d of %d |\n", s.TestsRun, s.Tests)
	best := fmtPtr(s.BestQ)
	if s.BestQTest != "" {
		best += " " + mdCode(s.BestQTest)
	}
	p("| best q | %s |\n", best)
	p("| regions where the models differ | %d of %d |\n", s.Differing, s.Regions)
	if s.Truths != nil {
		p("| inserted behaviours recovered | %d of %d |\n", *s.Recovered, *s.Truths)
	}

	p("\n## Validated hypotheses\n\n")
	if len(v.Validated) == 0 {
		p("No hypothesis was validated.\n\n")
	}
	for _, h := range v.Validated {
		mdHypothesis(&b, v, h)
	}
	p("## Other hypotheses\n\n")
	if len(v.Others) == 0 {
		p("None.\n\n")
	}
	for _, h := range v.Others {
		mdHypothesis(&b, v, h)
	}

	p("## Examples and token-level evidence\n\n")
	if !v.HasTokens {
		p("No token-level evidence: it needs scores-a.parquet and scores-b.parquet (mbd-model score of answers.parquet under each model).\n\n")
	} else {
		p("Per text: log p_A and log p_B of the whole answer, and the tokens where log p_B − log p_A is largest each way (report.html colours every token).\n\n")
	}
	if len(v.Validated) == 0 {
		p("No validated hypothesis to illustrate.\n\n")
	}
	for _, h := range v.Validated {
		p("### %s %s\n\n", mdCode(h.ID), mdText(h.Text))
		if len(h.Examples) == 0 {
			p("No judged pairs in the trials log.\n\n")
		}
		for _, e := range h.Examples {
			base := ""
			if e.Baseline != "" {
				base = " (baseline judge: " + mdText(e.Baseline) + ")"
			}
			p("#### Pair %d — %s%s\n\n", e.Trial, mdText(outcomePhrase(e.Outcome)), base)
			if e.Prompt != "" {
				p("%s\n\n", mdQuote(e.Prompt))
			} else {
				p("Prompt %s not found.\n\n", mdCode(e.PromptID))
			}
			for _, side := range []struct {
				l string
				t *Text
			}{{"A", e.A}, {"B", e.B}} {
				mdAnswer(&b, side.l, side.t)
			}
			var ps []string
			for i, pk := range e.Picks {
				ps = append(ps, pickPhrase(i, e.BFirst, pk))
			}
			p("Judge: %s → %s.\n\n", mdText(strings.Join(ps, "; ")), mdText(outcomePhrase(e.Outcome)))
		}
		if t := h.Transcript; t != nil {
			p("#### Interactive trial %d: the judge questioned model %s — %s\n\n", t.Trial, mdText(t.Hidden), mdText(t.Outcome))
			for _, tu := range t.Turns {
				p("- **Q:** %s\n  **A:** %s\n", mdText(tu.Question), mdText(tu.Answer))
			}
			p("\n")
		}
	}

	p("## Regions\n\n")
	if len(r.Regions) == 0 {
		p("No matches.parquet in the run folder.\n\n")
	} else {
		la, lb := mdText(r.ModelA.Label), mdText(r.ModelB.Label)
		p("| rank | region | clusters | category | %s count | %s count | share %s | share %s | Cohen's h | q |\n", la, lb, la, lb)
		p("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, g := range r.Regions {
			p("| %d | %d | %s | %s | %d/%d | %d/%d | %s | %s | %s | %s |\n", g.Rank, g.Region, mdText(regionLabel(g)), mdText(g.Category),
				g.CountA, g.TotalA, g.CountB, g.TotalB, fmtPct(g.ShareA), fmtPct(g.ShareB), fmtSigned(g.CohensH), fmtPtr(g.Q))
		}
		p("\n")
	}

	p("## Plots\n\nThe plots are drawn in report.html; here is what they show.\n\n")
	if m := r.Map; m != nil {
		p("- Map: %d of %d texts on the 2-D map (clustering %s), %d centroids.\n", m.Points, m.Texts, mdText(strings.Join(m.Clustering, ", ")), m.Centroids)
	} else {
		p("- Map: no clusters.parquet in the run folder.\n")
	}
	p("- Cluster shares: the share columns of the regions table (the first %d regions by rank).\n", min(len(r.Regions), maxShareBars))
	p("- Effect sizes: the effect [95%% CI] rows of the test tables, one panel per test.\n")
	if c := r.Calibration; c != nil {
		rate := "n/a"
		if c.Rate != nil {
			rate = fmtNum(*c.Rate)
		}
		p("- A/A calibration: %d of %d runs validated anything (rate %s, α = %s); %d p-values:\n\n", c.Positives, c.Runs, rate, fmtNum(c.Alpha), c.PValues)
		p("| p-value | tests |\n|---|---:|\n")
		for i, n := range c.Bins {
			p("| %.1f–%.1f | %d |\n", float64(i)/10, float64(i+1)/10, n)
		}
		p("\n")
	} else {
		p("- A/A calibration: no calibration.json in the run folder.\n\n")
	}

	p("## Recovery of the inserted behaviours\n\n")
	if r.Recovery == nil {
		p("No recovery.parquet in the run folder (ground truth unknown or not scored).\n\n")
	} else {
		p("| truth | behaviour | hypothesis | score | method | recovered |\n|---|---|---|---:|---|---|\n")
		for _, rc := range r.Recovery {
			hyp := "none"
			if rc.HypothesisID != "" {
				hyp = mdCode(rc.HypothesisID) + " " + mdText(rc.HypothesisText)
			}
			rec := "no"
			if rc.Recovered {
				rec = "yes"
			}
			p("| %s | %s | %s | %s | %s | %s |\n", mdCode(rc.TruthID), mdText(rc.Behavior), hyp, fmtPtr(rc.Score), mdText(rc.Method), rec)
		}
		p("\n")
	}

	p("## Weight difference\n\n")
	if w := r.WeightDiff; w == nil {
		p("No weightdiff.parquet in the run folder.\n\n")
	} else {
		tbl := ""
		if w.Table != "" {
			tbl = " (" + w.Table + ")"
		}
		p("%s%s, %d rows.\n\n", mdText(w.File), mdText(tbl), len(w.Rows))
		if len(w.Columns) > 0 {
			p("|")
			for _, c := range w.Columns {
				p(" %s |", mdText(c))
			}
			p("\n|%s\n", strings.Repeat("---|", len(w.Columns)))
			for _, row := range w.Rows {
				p("|")
				for _, c := range row {
					p(" %s |", mdText(c))
				}
				p("\n")
			}
			p("\n")
		}
	}

	p("## Activation difference lens\n\n")
	if l := r.Lens; l == nil {
		p("No lens.parquet or steered.parquet in the run folder.\n\n")
	} else {
		if len(l.Norms) > 0 {
			p("lens.parquet: the mean difference B − A of the residual stream on %d neutral texts, decoded through %s's final norm and unembedding; z and p (adjusted over the vocabulary) from %d sign flips; ★ marks a significant token (%d significant rows in all). The lens proposes; validation decides.\n\n",
				l.Texts, mdText(l.Head), l.Flips, l.Significant)
		} else {
			p("No lens.parquet in the run folder.\n\n")
		}
		for _, blk := range l.Blocks {
			p("### Block %d, mean over positions: |B − A| = %s (%s of |A|)\n\n", blk.Layer, fmtNum(blk.Norm), fmtNum(blk.RelNorm))
			p("| side | rank | token | logit | z | p |\n|---|---:|---|---:|---:|---:|\n")
			for _, side := range []struct {
				name string
				ts   []LensToken
			}{{"promoted", blk.Promoted}, {"suppressed", blk.Suppressed}} {
				for _, t := range side.ts {
					mark := ""
					if t.Significant {
						mark = " ★"
					}
					p("| %s | %d | %s%s | %s | %s | %s |\n", side.name, t.Rank, mdCode(showPiece(t.Token)), mark, fmtSigned(&t.Logit), fmtSigned(t.Z), fmtPtr(t.P))
				}
			}
			p("\n")
		}
		if len(l.Norms) > 0 {
			p("Norm of the mean difference (plot data):\n\n| block | position | norm | of \\|A\\| |\n|---:|---:|---:|---:|\n")
			for _, n := range l.Norms {
				pos := fmt.Sprint(n.Position)
				if n.Position < 0 {
					pos = "mean"
				}
				p("| %d | %s | %s | %s |\n", n.Layer, pos, fmtNum(n.Norm), fmtNum(n.RelNorm))
			}
			p("\n")
		}
		if len(l.Steered) == 0 {
			p("No steered.parquet in the run folder.\n\n")
		} else {
			p("Steered texts (%d of %d, steered.parquet):\n\n", len(l.Steered), l.SteeredTotal)
			for _, s := range l.Steered {
				p("- Prompt: %s\n  %s (%s): %s\n", mdText(s.Prompt), mdText(s.Model), mdCode(s.ID), mdText(s.Completion))
			}
			p("\n")
		}
	}

	p("## Inputs\n\n| file | table | rows | SHA-256 | used for |\n|---|---|---:|---|---|\n")
	for _, in := range r.Inputs {
		if in.Present {
			p("| %s | %s | %d | %s | %s |\n", mdCode(in.File), mdText(in.Table), in.Rows, mdCode(in.SHA256[:min(16, len(in.SHA256))]), mdText(in.Purpose))
		} else {
			p("| %s | absent | | | %s |\n", mdCode(in.File), mdText(in.Purpose))
		}
	}
	if len(r.Notes) > 0 {
		p("\n")
		for _, n := range r.Notes {
			p("- %s\n", mdText(n))
		}
	}
	return []byte(b.String())
}

func mdHypothesis(b *strings.Builder, v *view, h Hypothesis) {
	mark := ""
	if h.Validated {
		mark = "✓ "
	}
	fmt.Fprintf(b, "### %s%s %s\n\n", mark, mdCode(h.ID), mdText(h.Text))
	if h.Property != "" {
		line := fmt.Sprintf("property “%s”, %s; %s by %s", h.Property, h.Direction, h.Kind, h.Proposer)
		if h.Origin != "" {
			line += " from " + h.Origin
		}
		if h.ShareA != nil || h.ShareB != nil {
			line += fmt.Sprintf("; in discovery texts A %s, B %s", fmtPct(h.ShareA), fmtPct(h.ShareB))
		}
		fmt.Fprintf(b, "%s\n\n", mdText(line))
	}
	if len(h.Tests) == 0 {
		b.WriteString("Not tested (no rows in validations.parquet).\n\n")
		return
	}
	b.WriteString("| |")
	for _, m := range v.Methods {
		fmt.Fprintf(b, " %s |", mdText(m))
	}
	fmt.Fprintf(b, "\n|---|%s\n", strings.Repeat("---|", len(v.Methods)))
	rows := []struct {
		name string
		f    func(*Test) string
	}{
		{"verdict", func(t *Test) string { return t.Verdict }},
		{"statistic", func(t *Test) string { return statCell(t) }},
		{"effect [95% CI]", func(t *Test) string { return effectCell(t) }},
		{"baseline / lift", func(t *Test) string {
			if t.Baseline == nil {
				return "–"
			}
			return fmtPtr(t.Baseline) + " / " + fmtSigned(t.Lift)
		}},
		{"n (invalid)", func(t *Test) string { return fmt.Sprintf("%d (%d)", t.N, t.NInvalid) }},
		{"p", func(t *Test) string { return fmtPtr(t.P) }},
		{"q", func(t *Test) string { return fmtPtr(t.Q) }},
		{"judge", func(t *Test) string { return mdCode(t.Judge) }},
	}
	for _, row := range rows {
		fmt.Fprintf(b, "| %s |", row.name)
		for _, m := range v.Methods {
			cell := ""
			if t := testOf(h, m); t != nil {
				cell = row.f(t)
				if row.name != "judge" {
					cell = mdText(cell)
				}
			} else if row.name == "verdict" {
				cell = "not run"
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func mdAnswer(b *strings.Builder, label string, t *Text) {
	if t == nil {
		fmt.Fprintf(b, "**%s's answer:** not in answers.parquet.\n\n", label)
		return
	}
	head := fmt.Sprintf("**%s's answer**", label)
	if ev := t.Tokens; ev != nil {
		head += fmt.Sprintf(" (log p_A %s, log p_B %s)", fmtNum(ev.LogprobA), fmtNum(ev.LogprobB))
	}
	fmt.Fprintf(b, "%s\n\n%s\n\n", head, mdFence(t.Completion))
	if ev := t.Tokens; ev != nil {
		for _, dir := range []struct {
			name string
			idx  []int
		}{{"B ≫ A", ev.TopB}, {"A ≫ B", ev.TopA}} {
			if len(dir.idx) == 0 {
				continue
			}
			var parts []string
			for _, i := range dir.idx {
				d := ev.Segments[i].Diff
				parts = append(parts, mdCode(showPiece(ev.Segments[i].Text))+" "+fmtSigned(&d))
			}
			fmt.Fprintf(b, "%s: %s\n\n", dir.name, strings.Join(parts, ", "))
		}
	}
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "|", `\|`, "#", `\#`, "\r\n", " ", "\n", " ", "\r", " ")

// mdText escapes text for inline use (table cells included): Markdown syntax and HTML are
// neutralised, line breaks become spaces.
func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCode renders s as an inline code span, whatever backticks it holds.
func mdCode(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", "¦").Replace(s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.TrimSpace(s) == "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdFence renders s as a fenced code block longer than any run of backticks in it.
func mdFence(s string) string {
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	return fence + "text\n" + strings.TrimRight(s, "\n") + "\n" + fence
}

// mdQuote renders s as a block quote of escaped text, line breaks kept.
func mdQuote(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "> " + mdText(l)
	}
	return strings.Join(lines, "\n")
}

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
