package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/mbd-dev/mbd/internal/schema"
)

func init() {
	// Sans-serif text; the SVGs name the font family with fallbacks (see finishSVG), and embed no
	// font, so they load nothing.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
}

func rgb(c [3]uint8) color.RGBA { return color.RGBA{R: c[0], G: c[1], B: c[2], A: 255} }

var (
	grey  = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 255}
	green = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 255}
	black = color.RGBA{A: 255}
)

// Plots are the report's figures as inline SVG (empty when there is nothing to draw).
type Plots struct {
	Map         string
	Shares      string
	Forest      []ForestPlot
	Calibration string
	LensNorms   string
}

// ForestPlot is one method's forest plot.
type ForestPlot struct {
	Method string
	SVG    string
}

type mapPoint struct {
	id    string
	model string
	x, y  float64
}

type mapSel struct {
	clusterings []string
	points      []mapPoint
	texts       int
	centroids   []schema.Centroid
}

// selectMap picks what the map draws: the (first) pooled clustering, or every per-model one when
// none is pooled; each text once (by generation id), at most maxPoints of them, thinned evenly
// in id order.
func selectMap(cl []schema.Cluster, cents []schema.Centroid, maxPoints int) mapSel {
	var names []string
	for _, c := range cl {
		if !slices.Contains(names, c.Clustering) {
			names = append(names, c.Clustering)
		}
	}
	slices.Sort(names)
	var sel mapSel
	for _, n := range names {
		if strings.HasPrefix(n, "pooled") {
			sel.clusterings = []string{n}
			break
		}
	}
	if sel.clusterings == nil {
		sel.clusterings = names
	}
	seen := map[string]bool{}
	var pts []mapPoint
	for _, c := range cl {
		if !slices.Contains(sel.clusterings, c.Clustering) || seen[c.GenerationID] {
			continue
		}
		seen[c.GenerationID] = true
		pts = append(pts, mapPoint{id: c.GenerationID, model: c.Model, x: float64(c.X), y: float64(c.Y)})
	}
	slices.SortFunc(pts, func(a, b mapPoint) int { return strings.Compare(a.id, b.id) })
	sel.texts = len(pts)
	if maxPoints > 0 && len(pts) > maxPoints {
		thin := make([]mapPoint, maxPoints)
		for i := range thin {
			thin[i] = pts[i*len(pts)/maxPoints]
		}
		pts = thin
	}
	sel.points = pts
	for _, c := range cents {
		if slices.Contains(sel.clusterings, c.Clustering) {
			sel.centroids = append(sel.centroids, c)
		}
	}
	slices.SortStableFunc(sel.centroids, func(a, b schema.Centroid) int {
		return cmp.Or(strings.Compare(a.Clustering, b.Clustering), cmp.Compare(a.Cluster, b.Cluster))
	})
	return sel
}

// makePlots draws every figure the report's data allows.
func makePlots(d *runData, r *Report, opt Options) (Plots, error) {
	var ps Plots
	var err error
	if d.present[fileClusters] {
		if ps.Map, err = plotMap(selectMap(d.clusters, d.centroids, opt.MaxPoints), r.ModelA.Label, r.ModelB.Label); err != nil {
			return ps, fmt.Errorf("map plot: %w", err)
		}
	}
	if len(r.Regions) > 0 {
		if ps.Shares, err = plotShares(r.Regions, r.ModelA.Label, r.ModelB.Label); err != nil {
			return ps, fmt.Errorf("cluster-share plot: %w", err)
		}
	}
	var methods []string
	for _, h := range r.Hypotheses {
		for _, t := range h.Tests {
			if !slices.Contains(methods, t.Method) {
				methods = append(methods, t.Method)
			}
		}
	}
	slices.SortFunc(methods, func(a, b string) int { return cmp.Or(cmp.Compare(methodRank(a), methodRank(b)), strings.Compare(a, b)) })
	for _, m := range methods {
		svg, err := plotForest(r.Hypotheses, m)
		if err != nil {
			return ps, fmt.Errorf("forest plot of %s: %w", m, err)
		}
		if svg != "" {
			ps.Forest = append(ps.Forest, ForestPlot{Method: m, SVG: svg})
		}
	}
	if r.Lens != nil {
		if ps.LensNorms, err = plotLensNorms(r.Lens); err != nil {
			return ps, fmt.Errorf("lens plot: %w", err)
		}
	}
	if r.Calibration != nil && r.Calibration.PValues > 0 {
		if ps.Calibration, err = plotCalibration(r.Calibration); err != nil {
			return ps, fmt.Errorf("calibration plot: %w", err)
		}
	}
	return ps, nil
}

func plotMap(sel mapSel, labA, labB string) (string, error) {
	if len(sel.points) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Texts on the 2-D map"
	p.X.Label.Text, p.Y.Label.Text = "PC 1", "PC 2"
	p.Legend.Top = true
	byModel := map[string]plotter.XYs{}
	var models []string
	for _, pt := range sel.points {
		if _, ok := byModel[pt.model]; !ok {
			models = append(models, pt.model)
		}
		byModel[pt.model] = append(byModel[pt.model], plotter.XY{X: pt.x, Y: pt.y})
	}
	slices.Sort(models)
	for _, m := range models {
		s, err := plotter.NewScatter(byModel[m])
		if err != nil {
			return "", err
		}
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Radius = vg.Points(1.6)
		switch m {
		case labA:
			s.GlyphStyle.Color = rgb(colourA)
		case labB:
			s.GlyphStyle.Color = rgb(colourB)
		default:
			s.GlyphStyle.Color = grey
		}
		p.Add(s)
		p.Legend.Add("model "+m, s)
	}
	if len(sel.centroids) > 0 {
		var xys plotter.XYs
		var labels []string
		var maxSize int64 = 1
		for _, c := range sel.centroids {
			maxSize = max(maxSize, c.Size)
		}
		for _, c := range sel.centroids {
			xys = append(xys, plotter.XY{X: float64(c.X), Y: float64(c.Y)})
			labels = append(labels, centroidLabel(c))
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return "", err
		}
		s.GlyphStyleFunc = func(i int) draw.GlyphStyle {
			r := 3 + 5*math.Sqrt(float64(sel.centroids[i].Size)/float64(maxSize))
			return draw.GlyphStyle{Color: black, Radius: vg.Points(r), Shape: draw.RingGlyph{}}
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return "", err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Font.Size = vg.Points(8)
		}
		l.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(s, l)
		p.Legend.Add("centroids", s)
	}
	return render(p, 16*vg.Centimeter, 12*vg.Centimeter, "map of texts by model with centroids")
}

func centroidLabel(c schema.Centroid) string {
	if m, ok := strings.CutPrefix(c.Clustering, "per-model:"); ok {
		m, _, _ = strings.Cut(m, ":")
		return fmt.Sprintf("%s%d", m, c.Cluster)
	}
	return fmt.Sprintf("c%d", c.Cluster)
}

// regionLabel names a region by its clusters: c3 (pooled), A3/B5, A3/– or –/B5.
func regionLabel(r Region) string {
	switch {
	case r.ClusterA != nil && r.ClusterB != nil && r.Similarity == nil && *r.ClusterA == *r.ClusterB:
		return fmt.Sprintf("c%d", *r.ClusterA)
	}
	a, b := "–", "–"
	if r.ClusterA != nil {
		a = fmt.Sprintf("A%d", *r.ClusterA)
	}
	if r.ClusterB != nil {
		b = fmt.Sprintf("B%d", *r.ClusterB)
	}
	return a + "/" + b
}

const maxShareBars = 15

func plotShares(regions []Region, labA, labB string) (string, error) {
	rs := regions[:min(maxShareBars, len(regions))]
	va, vb := make(plotter.Values, len(rs)), make(plotter.Values, len(rs))
	var names []string
	var lxy plotter.XYs
	var labels []string
	top := 0.0
	for i, r := range rs {
		if r.ShareA != nil {
			va[i] = *r.ShareA
		}
		if r.ShareB != nil {
			vb[i] = *r.ShareB
		}
		top = max(top, va[i], vb[i])
		names = append(names, fmt.Sprintf("#%d %s", r.Rank, regionLabel(r)))
	}
	for i, r := range rs {
		lxy = append(lxy, plotter.XY{X: float64(i), Y: max(va[i], vb[i]) + 0.02*max(top, 0.01)})
		labels = append(labels, "q="+fmtQ(r.Q))
	}
	p := plot.New()
	p.Title.Text = "Cluster shares by region, with q"
	p.Y.Label.Text = "share of the model's texts"
	p.Y.Min = 0
	p.Y.Max = top * 1.3 // room for the q labels and the legend
	w := vg.Points(math.Max(4, math.Min(14, 180/float64(len(rs)))))
	ba, err := plotter.NewBarChart(va, w)
	if err != nil {
		return "", err
	}
	ba.Color, ba.LineStyle.Width, ba.Offset = rgb(colourA), 0, -w/2
	bb, err := plotter.NewBarChart(vb, w)
	if err != nil {
		return "", err
	}
	bb.Color, bb.LineStyle.Width, bb.Offset = rgb(colourB), 0, w/2
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: lxy, Labels: labels})
	if err != nil {
		return "", err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Size = vg.Points(7)
		l.TextStyle[i].XAlign = draw.XCenter
	}
	p.Add(ba, bb, l)
	p.Legend.Add("model "+labA, ba)
	p.Legend.Add("model "+labB, bb)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(rs))-0.4
	p.X.Tick.Label.Rotation = math.Pi / 5
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	return render(p, 16*vg.Centimeter, 10*vg.Centimeter, "cluster shares of the two models by region")
}

type forestRow struct {
	label             string
	effect, low, high float64
	validated         bool
}

// plotForest draws one method's effects with their 95% CIs, one row per hypothesis with a finite
// effect and CI, in the report's order from the top; "" when there is none.
func plotForest(hyps []Hypothesis, method string) (string, error) {
	var rows []forestRow
	effectName := ""
	for _, h := range hyps {
		for _, t := range h.Tests {
			if t.Method != method || t.Effect == nil || t.CILow == nil || t.CIHigh == nil {
				continue
			}
			effectName = cmp.Or(effectName, t.EffectName)
			rows = append(rows, forestRow{label: fmt.Sprintf("%.8s q=%s", h.ID, fmtQ(t.Q)), effect: *t.Effect,
				low: *t.CILow, high: *t.CIHigh, validated: t.Verdict == schema.VerdictValidated})
		}
	}
	if len(rows) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s with 95%% CI", method, effectName)
	p.X.Label.Text = effectName
	n := len(rows)
	var ticks []plot.Tick
	for i, r := range rows {
		y := float64(n - 1 - i)
		ticks = append(ticks, plot.Tick{Value: y, Label: r.label})
		e := plotter.XErrors{{Low: math.Max(0, r.effect-r.low), High: math.Max(0, r.high-r.effect)}}
		xy := plotter.XYs{{X: r.effect, Y: y}}
		eb, err := plotter.NewXErrorBars(struct {
			plotter.XYs
			plotter.XErrors
		}{xy, e})
		if err != nil {
			return "", err
		}
		c := grey
		if r.validated {
			c = green
		}
		eb.LineStyle.Color, eb.LineStyle.Width, eb.CapWidth = c, vg.Points(1.5), vg.Points(5)
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return "", err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		p.Add(eb, s)
	}
	zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(n) - 0.5}})
	if err != nil {
		return "", err
	}
	zero.LineStyle.Color, zero.LineStyle.Dashes = black, []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(zero)
	lo, hi := 0.0, 0.0
	for _, r := range rows {
		lo, hi = math.Min(lo, math.Min(r.low, r.effect)), math.Max(hi, math.Max(r.high, r.effect))
	}
	pad := 0.06 * math.Max(hi-lo, 1e-9)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.Y.Tick.Label.Font.Variant = "Mono"
	h := 3*vg.Centimeter + vg.Length(n)*0.8*vg.Centimeter
	return render(p, 16*vg.Centimeter, h, method+" effect sizes with 95% confidence intervals")
}

func plotCalibration(c *Calibration) (string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("A/A calibration: %d of %d runs positive", c.Positives, c.Runs)
	p.X.Label.Text, p.Y.Label.Text = "p-value", "tests"
	h := &plotter.Histogram{Width: 0.1, FillColor: rgb(colourA), LineStyle: plotter.DefaultLineStyle}
	for i, n := range c.Bins {
		h.Bins = append(h.Bins, plotter.HistogramBin{Min: float64(i) / 10, Max: float64(i+1) / 10, Weight: float64(n)})
	}
	exp := float64(c.PValues) / float64(len(c.Bins))
	el, err := plotter.NewLine(plotter.XYs{{X: 0, Y: exp}, {X: 1, Y: exp}})
	if err != nil {
		return "", err
	}
	el.LineStyle.Color, el.LineStyle.Dashes = black, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(h, el)
	p.Legend.Add("A/A p-values", h)
	p.Legend.Add("uniform", el)
	p.Legend.Top = true
	top := exp
	for _, n := range c.Bins {
		top = max(top, float64(n))
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, math.Max(1, top*1.45) // room for the legend
	return render(p, 16*vg.Centimeter, 9*vg.Centimeter, "histogram of A/A p-values")
}

// render draws p as an SVG fragment for inline use in HTML.
func render(p *plot.Plot, w, h vg.Length, label string) (svg string, err error) {
	defer func() {
		if r := recover(); r != nil { // gonum/plot panics on some degenerate inputs
			svg, err = "", fmt.Errorf("%v", r)
		}
	}()
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	return finishSVG(b.String(), label), nil
}

// finishSVG drops the XML prologue (not wanted inside HTML), gives the root element a class and an
// accessible label, and adds generic fallbacks to the font family (no font is embedded or fetched).
func finishSVG(s, label string) string {
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.Replace(s, "<svg", `<svg class="plot" role="img" aria-label="`+html.EscapeString(label)+`"`, 1)
	s = strings.ReplaceAll(s, "font-family:Liberation Sans Mono;", "font-family:'Liberation Mono',Cousine,Menlo,Consolas,monospace;")
	s = strings.ReplaceAll(s, "font-family:Liberation Mono;", "font-family:'Liberation Mono',Cousine,Menlo,Consolas,monospace;")
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arimo,Arial,Helvetica,sans-serif;")
	return s
}
