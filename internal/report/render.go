package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
)

//go:embed report.html.tmpl
var htmlTemplate string

// view is what the HTML and Markdown renderers work from.
type view struct {
	R          *Report
	Plots      Plots
	Methods    []string // test columns, in method order
	Validated  []Hypothesis
	Others     []Hypothesis
	Scale      float64 // |log p_B − log p_A| at which a piece gets the full colour
	Headline   string
	HasTokens  bool
	LegendStep []float64
}

func newView(r *Report, ps Plots) *view {
	v := &view{R: r, Plots: ps, Headline: headline(r.Summary)}
	for _, h := range r.Hypotheses {
		if h.Validated {
			v.Validated = append(v.Validated, h)
		} else {
			v.Others = append(v.Others, h)
		}
		for _, t := range h.Tests {
			if !slices.Contains(v.Methods, t.Method) {
				v.Methods = append(v.Methods, t.Method)
			}
		}
		for _, e := range h.Examples {
			for _, t := range []*Text{e.A, e.B} {
				if t == nil || t.Tokens == nil {
					continue
				}
				v.HasTokens = true
				for _, s := range t.Tokens.Segments {
					v.Scale = math.Max(v.Scale, math.Abs(s.Diff))
				}
			}
		}
	}
	if len(v.Methods) == 0 {
		v.Methods = slices.Clone(methodOrder)
	}
	slices.SortStableFunc(v.Methods, func(a, b string) int { return methodRank(a) - methodRank(b) })
	if v.Scale == 0 {
		v.Scale = 1
	}
	for _, f := range []float64{-1, -0.5, 0, 0.5, 1} {
		v.LegendStep = append(v.LegendStep, f*v.Scale)
	}
	return v
}

func isTop(ev *TokenEvidence, i int) bool {
	return slices.Contains(ev.TopA, i) || slices.Contains(ev.TopB, i)
}

var funcs = template.FuncMap{
	"num":     fmtNum,
	"ptr":     fmtPtr,
	"signed":  fmtSigned,
	"ci":      fmtCI,
	"pct":     fmtPct,
	"test":    testOf,
	"stat":    statCell,
	"effect":  effectCell,
	"outcome": outcomePhrase,
	"pick":    pickPhrase,
	"order":   orderPhrase,
	"isTop":   isTop,
	"fnum":    func(x float64) string { return fmtSigned(&x) },
	"bg": func(diff, scale float64) template.CSS {
		return template.CSS("background-color:" + tokenColour(diff, scale))
	},
	"swatch":      func(c [3]uint8) template.CSS { return template.CSS("background-color:" + hexColour(c)) },
	"svg":         func(s string) template.HTML { return template.HTML(s) }, // our own SVG from gonum/plot; its text is escaped
	"colourA":     func() [3]uint8 { return colourA },
	"colourB":     func() [3]uint8 { return colourB },
	"seg":         func(ev *TokenEvidence, i int) Segment { return ev.Segments[i] },
	"show":        showPiece,
	"regionLabel": regionLabel,
	"min15":       func(n int) int { return min(n, maxShareBars) },
	"dict": func(v *view, x any, label ...string) map[string]any {
		m := map[string]any{"V": v, "X": x, "L": ""}
		if len(label) > 0 {
			m["L"] = label[0]
		}
		return m
	},
	"verdictClass": func(v string) string {
		switch v {
		case schema.VerdictValidated, schema.VerdictRejected, schema.VerdictInvalid, schema.VerdictUnavailable:
			return "v-" + v
		}
		return "v-other"
	},
}

var tmpl = template.Must(template.New("report").Funcs(funcs).Parse(htmlTemplate))

// showPiece shows a piece of text as a label: line breaks and tabs made visible, whitespace-only
// pieces in guillemets.
func showPiece(s string) string {
	r := strings.NewReplacer("\n", "⏎", "\t", "⇥")
	if strings.TrimSpace(s) == "" {
		return "«" + r.Replace(s) + "»"
	}
	return r.Replace(s)
}

// pickPhrase explains one order's verdict: "order 1 (B first): picked B".
func pickPhrase(i int, bFirst bool, pick string) string {
	return fmt.Sprintf("order %d (%s): %s", i+1, orderPhrase(i, bFirst), map[string]string{
		"A": "picked A", "B": "picked B", "tie": "same", "invalid": "invalid answer"}[pick]+unknownPick(pick))
}

func unknownPick(p string) string {
	switch p {
	case "A", "B", "tie", "invalid":
		return ""
	}
	return p
}

func orderPhrase(i int, bFirst bool) string {
	if bFirst == (i%2 == 0) {
		return "B first"
	}
	return "A first"
}

// renderHTML renders the report as one self-contained HTML page.
func renderHTML(v *view) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	return b.Bytes(), nil
}

// renderJSON renders the report as report.json.
func renderJSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render json: %w", err)
	}
	return append(b, '\n'), nil
}
