package modeltool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Statuses of a weightdiff row.
const (
	statusCompared    = "compared"
	statusOnlyA       = "only-in-A"
	statusOnlyB       = "only-in-B"
	statusShape       = "shape-mismatch"
	statusUnsupported = "unsupported-type"
	statusNonFinite   = "non-finite"
)

func diffCommand() *ucli.Command {
	return &ucli.Command{
		Name: "diff", Usage: "compare two GGUF models weight by weight", ArgsUsage: "A.gguf B.gguf",
		Description: `For every tensor in both files: the Frobenius norms of A, B and of the difference D = B - A, the
relative difference ||D||/||A||, the largest |D|; for matrices (2-D tensors) also the --top largest
singular values of D, the fewest singular directions holding 90% of its energy (rank90: 1 for a
rank-1 update, a large share of the full rank for noise such as quantization's) and the relative
error of its best rank-1 approximation. Quantized tensors (Q8_0, Q4_0, Q4_K, Q6_K ...) are
dequantized with ggml's own code first, so a model can be compared with its quantized copy. Tensors
in one file only, of different shapes or of types that are not numbers (I32) are listed, not
skipped. Shapes are in ggml order: the row length (a matrix's input features) first.

Singular values are exact (eigenvalues of the smaller Gram matrix: max·min² multiply-adds, min²
doubles of memory) for matrices whose smaller side is at most --exact-max, and estimated by a
randomized range finder (--sketch directions, --power-iters rounds: 2·iters+2 passes of
rows·cols·sketch multiply-adds) for larger ones, such as the 4096×4096 matrices of 7B models (about
2 s each on 2 cores). One tensor is processed at a time, streamed from both files in blocks of rows;
memory is a few MB of blocks plus the Gram matrix (8·min² bytes, and 8·rows·cols for the whole
difference when it has fewer rows than columns) or the sketch (8·(rows+cols)·sketch bytes).

Writes a weightdiff table with -o, and prints the tensors with the largest relative difference
first (--json: every row as JSON instead).

Examples:
  mbd-model diff base.gguf tuned.gguf
  mbd-model diff --tensors 'blk\.(0|1)\.' --json base.gguf base-q8.gguf
  mbd-model diff -o weightdiff.parquet base.gguf tuned.gguf`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "also write a weightdiff table (`PATH` or -)"},
			&ucli.BoolFlag{Name: "json", Usage: "print every row as JSON instead of the summary"},
			&ucli.StringFlag{Name: "tensors", Usage: "compare only tensors whose names match `REGEX`"},
			&ucli.IntFlag{Name: "top", Value: 8, Usage: "singular values reported per matrix"},
			&ucli.IntFlag{Name: "limit", Value: 30, Usage: "tensors shown in the summary (0: all)"},
			&ucli.IntFlag{Name: "exact-max", Value: 1024, Usage: "exact spectrum when a matrix's smaller side is at most this"},
			&ucli.IntFlag{Name: "sketch", Value: 64, Usage: "directions of the randomized range finder for larger matrices"},
			&ucli.IntFlag{Name: "power-iters", Value: 2, Usage: "subspace iterations of the randomized range finder"},
			&ucli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the randomized range finder"},
		},
		Action: runDiff,
	}
}

func runDiff(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	o := spectrumOptions{Top: int(cmd.Int("top")), ExactMax: int(cmd.Int("exact-max")), Sketch: int(cmd.Int("sketch")),
		PowerIters: int(cmd.Int("power-iters")), Seed: cmd.Uint64("seed")}
	switch {
	case cmd.NArg() != 2:
		return cli.Usagef("want A.gguf B.gguf")
	case o.Top < 1:
		return cli.Usagef("--top must be at least 1")
	case o.Sketch < o.Top:
		return cli.Usagef("--sketch (%d) must be at least --top (%d)", o.Sketch, o.Top)
	case o.ExactMax < 0 || o.PowerIters < 0 || cmd.Int("limit") < 0:
		return cli.Usagef("--exact-max, --power-iters and --limit must not be negative")
	case out == "-" && cmd.Bool("json"):
		return cli.Usagef("-o - and --json both want stdout: give -o a file")
	}
	var filter *regexp.Regexp
	if s := cmd.String("tensors"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return cli.Usagef("--tensors: %v", err)
		}
		filter = re
	}
	pa, pb := cmd.Args().Get(0), cmd.Args().Get(1)
	fa, err := openGGUF(pa)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := openGGUF(pb)
	if err != nil {
		return err
	}
	defer fb.Close()

	names := tensorNames(fa, fb, filter)
	if len(names) == 0 {
		return cli.Usagef("no tensor matches --tensors %q", cmd.String("tensors"))
	}
	bar := env.Progress("diff", "tensors", int64(len(names)))
	rows := make([]schema.WeightDiff, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := diffTensor(ctx, fa, fb, pa, pb, name, o)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		bar.Add(1)
	}
	bar.Done()
	sortWeightDiffs(rows)

	if out != "" {
		w, err := table.Create[schema.WeightDiff](out, env.Stdout)
		if err != nil {
			return err
		}
		defer w.Abort()
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		if err := w.Commit(); err != nil {
			return err
		}
		m := env.Manifest
		m.Input(pa, "", 0, "")
		m.Input(pb, "", 0, "")
		m.Param("tensors", cmd.String("tensors"))
		m.Param("top", o.Top)
		m.Param("exact_max", o.ExactMax)
		m.Param("sketch", o.Sketch)
		m.Param("power_iters", o.PowerIters)
		m.Seed("sketch", o.Seed)
		if err := m.WriteFor(out, schema.WeightDiffs.ID(), w.Rows()); err != nil {
			return err
		}
	}
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
	}
	env.Log.Info("compared weights", "tensors", len(rows), "compared", counts[statusCompared], "only_in_a", counts[statusOnlyA],
		"only_in_b", counts[statusOnlyB], "not_comparable", len(rows)-counts[statusCompared]-counts[statusOnlyA]-counts[statusOnlyB])
	switch {
	case cmd.Bool("json"):
		return writeDiffJSON(env.Stdout, rows)
	case out != "-":
		return printDiff(env.Stdout, pa, pb, fa, fb, rows, int(cmd.Int("limit")), o)
	}
	return nil
}

// openGGUF opens a GGUF file; failures are bad input naming the file.
func openGGUF(path string) (*gguf.File, error) {
	f, err := gguf.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, badModel(fmt.Errorf("%s: no such file", path))
	case errors.Is(err, gguf.ErrBadMagic):
		return nil, badModel(fmt.Errorf("%s: not a GGUF file", path))
	case err != nil:
		return nil, badModel(err) // gguf.Open names the file
	}
	return f, nil
}

// tensorNames lists the tensors to report: A's in file order, then those only in B, in B's order.
func tensorNames(fa, fb *gguf.File, filter *regexp.Regexp) []string {
	var names []string
	seen := map[string]bool{}
	for _, f := range []*gguf.File{fa, fb} {
		for _, t := range f.Tensors {
			if !seen[t.Name] && (filter == nil || filter.MatchString(t.Name)) {
				seen[t.Name] = true
				names = append(names, t.Name)
			}
		}
	}
	return names
}

func shapeOf(t *gguf.TensorInfo) []int64 {
	s := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		s[i] = int64(d)
	}
	return s
}

// matrixDims returns the rows and columns of a tensor seen as a matrix (rows of Shape[0] elements)
// and whether it is one: two dimensions, trailing ones ignored, more than one row.
func matrixDims(shape []uint64) (rows, cols int, isMatrix bool) {
	nd := len(shape)
	for nd > 0 && shape[nd-1] == 1 {
		nd--
	}
	if len(shape) == 0 {
		return 1, 1, false
	}
	cols = int(shape[0])
	rows = 1
	for _, d := range shape[1:] {
		rows *= int(d)
	}
	return rows, cols, nd == 2
}

// decoderFor returns the function converting data of type t to float32: the gguf package's for
// F32, F16 and BF16, ggml's for the quantized types.
func decoderFor(t gguf.TensorType) func(src []byte, dst []float32) error {
	switch t {
	case gguf.TensorF32, gguf.TensorF16, gguf.TensorBF16:
		return func(src []byte, dst []float32) error { return gguf.DecodeFloat32(t, src, dst) }
	}
	if llamacpp.CanDequantize(uint32(t)) {
		return func(src []byte, dst []float32) error { return llamacpp.Dequantize(uint32(t), src, dst) }
	}
	return nil
}

func diffTensor(ctx context.Context, fa, fb *gguf.File, pa, pb, name string, o spectrumOptions) (schema.WeightDiff, error) {
	row := schema.WeightDiff{Tensor: name}
	ta, okA := fa.Tensor(name)
	tb, okB := fb.Tensor(name)
	if okA {
		row.TypeA, row.ShapeA = ta.Type.String(), shapeOf(ta)
	}
	if okB {
		row.TypeB, row.ShapeB = tb.Type.String(), shapeOf(tb)
	}
	switch {
	case !okB:
		row.Status, row.Detail = statusOnlyA, "not in "+pb
		return row, nil
	case !okA:
		row.Status, row.Detail = statusOnlyB, "not in "+pa
		return row, nil
	case !slices.Equal(ta.Shape, tb.Shape):
		row.Status, row.Detail = statusShape, fmt.Sprintf("shape %s in A, %s in B", shapeString(row.ShapeA), shapeString(row.ShapeB))
		return row, nil
	}
	for _, x := range []struct {
		t    *gguf.TensorInfo
		path string
	}{{ta, pa}, {tb, pb}} {
		if decoderFor(x.t.Type) == nil {
			row.Status, row.Detail = statusUnsupported, fmt.Sprintf("type %s in %s cannot be converted to floats", x.t.Type, x.path)
			return row, nil
		}
	}
	d, err := newTensorDelta(ctx, fa, fb, pa, pb, ta, tb)
	if err != nil {
		return row, err
	}
	var sa, sb, sd, maxAbs float64
	nonFinite := false
	err = d.scan(func(_ int, a, b []float32) error {
		for i := range a {
			x, y := float64(a[i]), float64(b[i])
			dd := y - x
			sa += x * x
			sb += y * y
			sd += dd * dd
			if math.Abs(dd) > maxAbs {
				maxAbs = math.Abs(dd)
			}
		}
		if math.IsInf(sa, 0) || math.IsNaN(sa) || math.IsInf(sb, 0) || math.IsNaN(sb) {
			nonFinite = true
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return row, err
	}
	if nonFinite || math.IsInf(sd, 0) {
		row.Status, row.Detail = statusNonFinite, "NaN or infinite weights"
		return row, nil
	}
	row.Status = statusCompared
	na, nb, nd := math.Sqrt(sa), math.Sqrt(sb), math.Sqrt(sd)
	row.NormA, row.NormB, row.NormDelta, row.MaxAbsDelta = &na, &nb, &nd, &maxAbs
	switch {
	case sd == 0:
		row.RelDelta = new(float64)
	case sa > 0:
		rel := nd / na
		row.RelDelta = &rel
	}
	if !d.isMatrix {
		return row, nil
	}
	s, err := spectrumOf(d, sd, o)
	if err != nil {
		return row, fmt.Errorf("%s: %w", name, err)
	}
	row.Singular, row.TopEnergy, row.Rank1Error, row.SVDMethod = s.Singular, &s.TopEnergy, &s.Rank1Error, s.Method
	if s.Rank90 >= 0 {
		r := int32(s.Rank90)
		row.Rank90 = &r
	}
	return row, nil
}

var errStopScan = errors.New("stop")

// tensorDelta is the difference of one tensor of two files, read in blocks of rows.
type tensorDelta struct {
	ctx        context.Context
	name       string
	pa, pb     string
	ra, rb     *io.SectionReader
	rowA, rowB int // bytes per row
	decA, decB func([]byte, []float32) error
	rows, cols int
	isMatrix   bool
	blockRows  int
	bufA, bufB []byte
	fltA, fltB []float32
	delta      []float64
}

// blockElems is about the number of elements read per block.
const blockElems = 1 << 20

func newTensorDelta(ctx context.Context, fa, fb *gguf.File, pa, pb string, ta, tb *gguf.TensorInfo) (*tensorDelta, error) {
	d := &tensorDelta{ctx: ctx, name: ta.Name, pa: pa, pb: pb, decA: decoderFor(ta.Type), decB: decoderFor(tb.Type)}
	d.rows, d.cols, d.isMatrix = matrixDims(ta.Shape)
	var err error
	if d.ra, err = fa.TensorData(ta.Name); err != nil {
		return nil, badModel(fmt.Errorf("%s: %w", pa, err))
	}
	if d.rb, err = fb.TensorData(tb.Name); err != nil {
		return nil, badModel(fmt.Errorf("%s: %w", pb, err))
	}
	ra, err := ta.RowSize()
	if err != nil {
		return nil, badModel(fmt.Errorf("%s: tensor %s: %w", pa, ta.Name, err))
	}
	rb, err := tb.RowSize()
	if err != nil {
		return nil, badModel(fmt.Errorf("%s: tensor %s: %w", pb, tb.Name, err))
	}
	d.rowA, d.rowB = int(ra), int(rb)
	d.blockRows = max(1, blockElems/max(1, d.cols))
	return d, nil
}

func (d *tensorDelta) Dims() (int, int) { return d.rows, d.cols }

// scan calls fn with the float32 values of consecutive blocks of rows of A and B.
func (d *tensorDelta) scan(fn func(r0 int, a, b []float32) error) error {
	if d.cols == 0 {
		return nil
	}
	for r0 := 0; r0 < d.rows; r0 += d.blockRows {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		nr := min(d.blockRows, d.rows-r0)
		d.bufA = grow(d.bufA, nr*d.rowA)
		d.bufB = grow(d.bufB, nr*d.rowB)
		d.fltA = grow(d.fltA, nr*d.cols)
		d.fltB = grow(d.fltB, nr*d.cols)
		if _, err := d.ra.ReadAt(d.bufA, int64(r0)*int64(d.rowA)); err != nil {
			return fmt.Errorf("%s: reading tensor %s: %w", d.pa, d.name, err)
		}
		if _, err := d.rb.ReadAt(d.bufB, int64(r0)*int64(d.rowB)); err != nil {
			return fmt.Errorf("%s: reading tensor %s: %w", d.pb, d.name, err)
		}
		if err := d.decA(d.bufA, d.fltA); err != nil {
			return fmt.Errorf("%s: tensor %s: %w", d.pa, d.name, err)
		}
		if err := d.decB(d.bufB, d.fltB); err != nil {
			return fmt.Errorf("%s: tensor %s: %w", d.pb, d.name, err)
		}
		if err := fn(r0, d.fltA, d.fltB); err != nil {
			return err
		}
	}
	return nil
}

// Blocks implements matrixSource: blocks of rows of B - A.
func (d *tensorDelta) Blocks(fn func(r0 int, blk []float64) error) error {
	return d.scan(func(r0 int, a, b []float32) error {
		d.delta = grow(d.delta, len(a))
		for i := range a {
			d.delta[i] = float64(b[i]) - float64(a[i])
		}
		return fn(r0, d.delta)
	})
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// relKey orders rows: the compared ones by relative difference, largest first (an undefined one,
// a difference from an all-zero A, before all), then the others.
func relKey(r schema.WeightDiff) float64 {
	switch {
	case r.Status != statusCompared:
		return math.Inf(-1)
	case r.RelDelta == nil:
		return math.Inf(1)
	}
	return *r.RelDelta
}

func sortWeightDiffs(rows []schema.WeightDiff) {
	slices.SortStableFunc(rows, func(x, y schema.WeightDiff) int {
		if c := cmpFloat(relKey(y), relKey(x)); c != 0 {
			return c
		}
		if x.Status != y.Status {
			return strings.Compare(x.Status, y.Status)
		}
		return strings.Compare(x.Tensor, y.Tensor)
	})
}

func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// writeDiffJSON prints the rows as a JSON array of objects keyed by the table's column names, in
// column order; nulls for null columns.
func writeDiffJSON(w io.Writer, rows []schema.WeightDiff) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		v := reflect.ValueOf(r)
		for j, c := range schema.WeightDiffs.Columns() {
			f := v.Field(c.Index)
			var val any
			switch {
			case f.Kind() == reflect.Pointer && f.IsNil():
				val = nil
			case f.Kind() == reflect.Pointer:
				val = f.Elem().Interface()
			case f.Kind() == reflect.Slice && f.Len() == 0:
				val = []any{}
			default:
				val = f.Interface()
			}
			enc, err := json.Marshal(val)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", r.Tensor, c.Name, err)
			}
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %s", c.Name, enc)
		}
		b.WriteString("}")
	}
	b.WriteString("\n]\n")
	_, err := w.Write(b.Bytes())
	return err
}

// printDiff prints the summary: counts, the overall relative difference, the tensors with the
// largest relative difference, and those not compared.
func printDiff(w io.Writer, pa, pb string, fa, fb *gguf.File, rows []schema.WeightDiff, limit int, o spectrumOptions) error {
	var sa, sd float64
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
		if r.Status == statusCompared {
			sa += *r.NormA * *r.NormA
			sd += *r.NormDelta * *r.NormDelta
		}
	}
	fmt.Fprintf(w, "A %s (%d tensors)\nB %s (%d tensors)\n", pa, len(fa.Tensors), pb, len(fb.Tensors))
	fmt.Fprintf(w, "%d compared, %d only in A, %d only in B, %d not comparable", counts[statusCompared], counts[statusOnlyA],
		counts[statusOnlyB], len(rows)-counts[statusCompared]-counts[statusOnlyA]-counts[statusOnlyB])
	if counts[statusCompared] > 0 {
		fmt.Fprintf(w, "; all compared weights: ||B-A||/||A|| = %s", relString(sa, sd))
	}
	fmt.Fprintln(w)
	if counts[statusCompared] > 0 {
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "tensor\ttype\tshape\trel_delta\tmax|d|\ts1\ts2/s1\trank90\trank1_err")
		shown := 0
		for _, r := range rows {
			if r.Status != statusCompared {
				continue
			}
			if limit > 0 && shown == limit {
				fmt.Fprintf(tw, "... %d more\n", counts[statusCompared]-shown)
				break
			}
			shown++
			typ := r.TypeA
			if r.TypeB != r.TypeA {
				typ += "->" + r.TypeB
			}
			rel := "inf"
			if r.RelDelta != nil {
				rel = fmt.Sprintf("%.4g", *r.RelDelta)
			}
			s1, ratio, rank, r1 := "-", "-", "-", "-"
			if len(r.Singular) > 0 {
				s1 = fmt.Sprintf("%.4g", r.Singular[0])
				if len(r.Singular) > 1 && r.Singular[0] > 0 {
					ratio = fmt.Sprintf("%.3f", r.Singular[1]/r.Singular[0])
				}
			}
			switch {
			case r.Rank90 != nil:
				rank = fmt.Sprint(*r.Rank90)
			case r.SVDMethod == "randomized":
				rank = fmt.Sprintf(">%d", o.Sketch)
			}
			if r.Rank1Error != nil {
				r1 = fmt.Sprintf("%.4f", *r.Rank1Error)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3g\t%s\t%s\t%s\t%s\n", r.Tensor, typ, shapeString(r.ShapeA), rel, *r.MaxAbsDelta, s1, ratio, rank, r1)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	shown := 0
	for _, r := range rows {
		if r.Status == statusCompared {
			continue
		}
		if shown == 0 {
			fmt.Fprintln(w, "not compared:")
		}
		if limit > 0 && shown == limit {
			fmt.Fprintf(w, "  ... %d more\n", len(rows)-counts[statusCompared]-shown)
			break
		}
		shown++
		fmt.Fprintf(w, "  %s  %s: %s\n", r.Tensor, r.Status, r.Detail)
	}
	return nil
}

func relString(sa, sd float64) string {
	switch {
	case sd == 0:
		return "0"
	case sa == 0:
		return "inf"
	}
	return fmt.Sprintf("%.4g", math.Sqrt(sd/sa))
}
