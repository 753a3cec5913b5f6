// Package weightdiff compares two GGUF models weight by weight (mbd-model diff).
//
// For every tensor in both files it computes the Frobenius norms of A, B and of the difference
// D = B - A, the relative difference ||D||/||A|| and the largest |D|; for matrices (2-D tensors)
// also the leading singular values of D, the fewest singular directions holding 90% of its energy
// (rank90: 1 for a rank-1 update, a large share of the full rank for noise such as quantization's)
// and the relative error of its best rank-1 approximation. Quantized tensors are dequantized with
// ggml's own code first (llamacpp.Dequantize), so a model can be compared with its quantized copy.
// Tensors in one file only, of different shapes or of types that are not numbers are listed with
// a status, not skipped.
//
// Singular values are exact (eigenvalues of the smaller Gram matrix) for matrices whose smaller
// side is at most Options.ExactMax and estimated by a randomized range finder (Halko, Martinsson &
// Tropp, "Finding structure with randomness", SIAM Review 2011, algorithm 4.4) for larger ones.
// One tensor is processed at a time, streamed from both files in blocks of rows.
package weightdiff

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Statuses of a weightdiff row.
const (
	StatusCompared    = "compared"
	StatusOnlyA       = "only-in-A"
	StatusOnlyB       = "only-in-B"
	StatusShape       = "shape-mismatch"
	StatusUnsupported = "unsupported-type"
	StatusNonFinite   = "non-finite"
)

// Options configure Compare.
type Options struct {
	Tensors    *regexp.Regexp // compare only the tensors whose names match (nil: all)
	Top        int            // singular values reported per matrix
	ExactMax   int            // largest min(rows, cols) that gets the exact spectrum
	Sketch     int            // directions of the randomized range finder
	PowerIters int            // its subspace iterations
	Seed       uint64         // of its random test matrix
}

// Model is one side of a comparison: an open GGUF file and the path it is named by in messages.
type Model struct {
	Path string
	File *gguf.File
}

// ErrNoTensors is returned by Compare when no tensor matches Options.Tensors.
var ErrNoTensors = errors.New("no tensor matches")

// BadModelError is a model file whose tensor data cannot be read as its header describes. Tools
// treat it as bad input (exit status 2).
type BadModelError struct{ Err error }

func (e *BadModelError) Error() string { return e.Err.Error() }
func (e *BadModelError) Unwrap() error { return e.Err }

// ExitCode makes a bad model end a tool with status 2.
func (e *BadModelError) ExitCode() int { return 2 }

func badModel(err error) error { return &BadModelError{Err: err} }

// Compare compares every tensor of a and b (those matching o.Tensors) and returns one row per
// tensor, sorted by relative difference, largest first (see Sort). progress, when not nil, is
// called after each tensor.
func Compare(ctx context.Context, a, b Model, o Options, progress func()) ([]schema.WeightDiff, error) {
	names := TensorNames(a.File, b.File, o.Tensors)
	if len(names) == 0 {
		return nil, ErrNoTensors
	}
	rows := make([]schema.WeightDiff, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := diffTensor(ctx, a.File, b.File, a.Path, b.Path, name, o)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
		if progress != nil {
			progress()
		}
	}
	Sort(rows)
	return rows, nil
}

// Counts returns the number of rows of each status.
func Counts(rows []schema.WeightDiff) map[string]int {
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
	}
	return counts
}

// TensorNames lists the tensors Compare reports: those of fa in file order, then those only in fb,
// in its order; only names that filter matches, when it is not nil.
func TensorNames(fa, fb *gguf.File, filter *regexp.Regexp) []string {
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

func diffTensor(ctx context.Context, fa, fb *gguf.File, pa, pb, name string, o Options) (schema.WeightDiff, error) {
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
		row.Status, row.Detail = StatusOnlyA, "not in "+pb
		return row, nil
	case !okA:
		row.Status, row.Detail = StatusOnlyB, "not in "+pa
		return row, nil
	case !slices.Equal(ta.Shape, tb.Shape):
		row.Status, row.Detail = StatusShape, fmt.Sprintf("shape %s in A, %s in B", shapeString(row.ShapeA), shapeString(row.ShapeB))
		return row, nil
	}
	for _, x := range []struct {
		t    *gguf.TensorInfo
		path string
	}{{ta, pa}, {tb, pb}} {
		if decoderFor(x.t.Type) == nil {
			row.Status, row.Detail = StatusUnsupported, fmt.Sprintf("type %s in %s cannot be converted to floats", x.t.Type, x.path)
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
		row.Status, row.Detail = StatusNonFinite, "NaN or infinite weights"
		return row, nil
	}
	row.Status = StatusCompared
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
	case r.Status != StatusCompared:
		return math.Inf(-1)
	case r.RelDelta == nil:
		return math.Inf(1)
	}
	return *r.RelDelta
}

// Sort orders rows by relKey, then by status and tensor name.
func Sort(rows []schema.WeightDiff) {
	slices.SortStableFunc(rows, func(x, y schema.WeightDiff) int {
		if c := cmp.Compare(relKey(y), relKey(x)); c != 0 {
			return c
		}
		if x.Status != y.Status {
			return strings.Compare(x.Status, y.Status)
		}
		return strings.Compare(x.Tensor, y.Tensor)
	})
}
