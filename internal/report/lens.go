package report

import (
	"cmp"
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mbd-dev/mbd/internal/schema"
)

// The lens section: lens.parquet (mbd-model lens) per block, read through B's head, and a few
// texts of steered.parquet.
const (
	lensTop      = 8   // tokens listed per block and side
	steeredShown = 3   // steered texts shown
	steeredChars = 800 // a steered text is cut to about this many bytes
)

// buildLens summarises the lens table: per block, the mean difference averaged over the positions
// read through B's head (A's when the table has no B head), its top promoted and suppressed tokens
// by rank; the norm of the mean difference per block and position; the first steered texts.
func buildLens(rows []schema.LensRow, steered []schema.Generation, hasLens bool) *Lens {
	if !hasLens && steered == nil {
		return nil
	}
	l := &Lens{Blocks: []LensBlock{}, Norms: []LensNorm{}, Steered: []SteeredText{}}
	head := "A"
	for _, r := range rows {
		if r.Head == "B" {
			head = "B"
			break
		}
	}
	l.Head = head
	type key struct{ layer, pos int32 }
	seenNorm := map[key]bool{}
	blocks := map[int32]*LensBlock{}
	for _, r := range rows {
		if r.Direction != schema.LensMean {
			continue
		}
		l.Texts, l.Flips = max(l.Texts, int(r.Texts)), max(l.Flips, int(r.Flips))
		if k := (key{r.Layer, r.Position}); !seenNorm[k] {
			seenNorm[k] = true
			l.Norms = append(l.Norms, LensNorm{Layer: r.Layer, Position: r.Position, Norm: r.Norm, RelNorm: r.RelNorm})
		}
		if r.Significant {
			l.Significant++
		}
		if r.Position != -1 || r.Head != head || r.Rank > lensTop {
			continue
		}
		b := blocks[r.Layer]
		if b == nil {
			b = &LensBlock{Layer: r.Layer, Norm: r.Norm, RelNorm: r.RelNorm, Promoted: []LensToken{}, Suppressed: []LensToken{}}
			blocks[r.Layer] = b
		}
		t := LensToken{Rank: r.Rank, Token: r.Token, Logit: r.Logit, Z: ptrNum(r.Z), P: ptrNum(r.P), Significant: r.Significant}
		if r.Side == schema.LensSuppressed {
			b.Suppressed = append(b.Suppressed, t)
		} else {
			b.Promoted = append(b.Promoted, t)
		}
	}
	for _, b := range blocks {
		for _, ts := range [][]LensToken{b.Promoted, b.Suppressed} {
			slices.SortFunc(ts, func(x, y LensToken) int { return cmp.Compare(x.Rank, y.Rank) })
		}
		l.Blocks = append(l.Blocks, *b)
	}
	slices.SortFunc(l.Blocks, func(x, y LensBlock) int { return cmp.Compare(x.Layer, y.Layer) })
	slices.SortFunc(l.Norms, func(x, y LensNorm) int {
		return cmp.Or(cmp.Compare(x.Layer, y.Layer), cmp.Compare(x.Position, y.Position))
	})
	l.SteeredTotal = len(steered)
	for _, g := range steered[:min(steeredShown, len(steered))] {
		l.Steered = append(l.Steered, SteeredText{ID: g.ID, Model: g.Model, Prompt: g.Prompt, Completion: cut(g.Completion, steeredChars)})
	}
	return l
}

// cut shortens s to at most n bytes at a rune boundary, marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// plotLensNorms draws |mean B − A| per token position, one line per block.
func plotLensNorms(l *Lens) (string, error) {
	var layers []int32
	for _, n := range l.Norms {
		if n.Position >= 0 && !slices.Contains(layers, n.Layer) {
			layers = append(layers, n.Layer)
		}
	}
	if len(layers) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Mean activation difference by block and position"
	p.X.Label.Text, p.Y.Label.Text = "token position", "|mean B − A|"
	palette := []color.RGBA{rgb(colourA), rgb(colourB), green, grey, black}
	for i, layer := range layers {
		var xys plotter.XYs
		for _, n := range l.Norms {
			if n.Layer == layer && n.Position >= 0 {
				xys = append(xys, plotter.XY{X: float64(n.Position), Y: n.Norm})
			}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return "", err
		}
		c := palette[i%len(palette)]
		line.LineStyle.Color, points.Color = c, c
		if i >= len(palette) {
			line.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("block %d", layer), line, points)
	}
	p.Legend.Top = true
	p.Y.Min = 0
	return render(p, 16*vg.Centimeter, 9*vg.Centimeter, "norm of the mean activation difference by block and position")
}
