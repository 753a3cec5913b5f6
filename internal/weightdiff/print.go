package weightdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/mbd-dev/mbd/internal/schema"
)

func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// WriteJSON prints the rows as a JSON array of objects keyed by the table's column names, in column
// order; nulls for null columns.
func WriteJSON(w io.Writer, rows []schema.WeightDiff) error {
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

// WriteSummary prints the summary of a comparison of a and b: counts, the overall relative
// difference, the tensors with the largest relative difference (at most limit of them, 0: all)
// and those not compared. sketch is Options.Sketch, the bound shown for an unknown rank90.
func WriteSummary(w io.Writer, a, b Model, rows []schema.WeightDiff, limit, sketch int) error {
	var sa, sd float64
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
		if r.Status == StatusCompared {
			sa += *r.NormA * *r.NormA
			sd += *r.NormDelta * *r.NormDelta
		}
	}
	fmt.Fprintf(w, "A %s (%d tensors)\nB %s (%d tensors)\n", a.Path, len(a.File.Tensors), b.Path, len(b.File.Tensors))
	fmt.Fprintf(w, "%d compared, %d only in A, %d only in B, %d not comparable", counts[StatusCompared], counts[StatusOnlyA],
		counts[StatusOnlyB], len(rows)-counts[StatusCompared]-counts[StatusOnlyA]-counts[StatusOnlyB])
	if counts[StatusCompared] > 0 {
		fmt.Fprintf(w, "; all compared weights: ||B-A||/||A|| = %s", relString(sa, sd))
	}
	fmt.Fprintln(w)
	if counts[StatusCompared] > 0 {
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "tensor\ttype\tshape\trel_delta\tmax|d|\ts1\ts2/s1\trank90\trank1_err")
		shown := 0
		for _, r := range rows {
			if r.Status != StatusCompared {
				continue
			}
			if limit > 0 && shown == limit {
				fmt.Fprintf(tw, "... %d more\n", counts[StatusCompared]-shown)
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
				rank = fmt.Sprintf(">%d", sketch)
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
		if r.Status == StatusCompared {
			continue
		}
		if shown == 0 {
			fmt.Fprintln(w, "not compared:")
		}
		if limit > 0 && shown == limit {
			fmt.Fprintf(w, "  ... %d more\n", len(rows)-counts[StatusCompared]-shown)
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
