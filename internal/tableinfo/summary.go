package tableinfo

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mbd-dev/mbd/internal/schema"
)

// ColumnSummary describes one column.
type ColumnSummary struct {
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Nulls    int64          `json:"nulls,omitempty"`
	Min      *float64       `json:"min,omitempty"`
	Mean     *float64       `json:"mean,omitempty"`
	Max      *float64       `json:"max,omitempty"`
	MeanLen  *float64       `json:"mean_length,omitempty"` // strings: bytes; lists: elements
	Distinct int            `json:"distinct,omitempty"`    // strings and booleans, up to MaxDistinct+1
	Top      map[string]int `json:"values,omitempty"`      // strings with at most MaxDistinct values
}

// Summary describes a table.
type Summary struct {
	Path    string          `json:"path"`
	Table   string          `json:"table"`
	Rows    int64           `json:"rows"`
	Columns []ColumnSummary `json:"columns"`
}

// MaxDistinct is the most distinct values of a column whose counts a summary lists.
const MaxDistinct = 12

// Stats accumulates the summary of a table row by row, in memory bounded by the number of columns.
type Stats struct {
	t    *schema.Table
	accs []colAcc
	rows int64
}

type colAcc struct {
	n, nulls      int64
	sum, min, max float64
	lenSum        float64
	counts        map[string]int
}

// NewStats starts the summary of a table of kind t.
func NewStats(t *schema.Table) *Stats {
	s := &Stats{t: t, accs: make([]colAcc, len(t.Columns()))}
	for i := range s.accs {
		s.accs[i] = colAcc{min: math.Inf(1), max: math.Inf(-1), counts: map[string]int{}}
	}
	return s
}

// Add counts one row.
func (s *Stats) Add(row schema.Row) {
	s.rows++
	for i, v := range Values(s.t, row) {
		a := &s.accs[i]
		switch x := v.(type) {
		case nil:
			a.nulls++
		case string:
			a.n++
			a.lenSum += float64(len(x))
			if len(a.counts) <= MaxDistinct {
				a.counts[x]++
			}
		case bool:
			a.n++
			a.counts[strconv.FormatBool(x)]++
		case int32, int64, float32, float64:
			f := reflect.ValueOf(x).Convert(reflect.TypeFor[float64]()).Float()
			a.n++
			a.sum += f
			a.min, a.max = min(a.min, f), max(a.max, f)
		default: // lists
			a.n++
			a.lenSum += float64(reflect.ValueOf(x).Len())
		}
	}
}

// Summary returns the summary of the rows added so far; path is the file's ("-" is shown as
// <stdin>).
func (s *Stats) Summary(path string) Summary {
	if path == "-" {
		path = "<stdin>"
	}
	out := Summary{Path: path, Table: s.t.ID(), Rows: s.rows}
	for i, c := range s.t.Columns() {
		a := s.accs[i]
		cs := ColumnSummary{Name: c.Name, Type: c.Type.String(), Nulls: a.nulls}
		if a.n > 0 {
			switch {
			case c.Type.List || c.Type.Kind == schema.String:
				cs.MeanLen = ptr(a.lenSum / float64(a.n))
			case c.Type.Kind != schema.Bool:
				cs.Min, cs.Mean, cs.Max = ptr(a.min), ptr(a.sum/float64(a.n)), ptr(a.max)
			}
			if len(a.counts) > 0 {
				cs.Distinct = len(a.counts)
				if len(a.counts) <= MaxDistinct {
					cs.Top = a.counts
				}
			}
		}
		out.Columns = append(out.Columns, cs)
	}
	return out
}

// WriteText writes the summary as a heading line and a table of columns.
func (s Summary) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: %s, %d rows\n\n", s.Path, s.Table, s.Rows)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "column\ttype\tnulls\tstatistics")
	for _, c := range s.Columns {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Name, c.Type, c.Nulls, Describe(c))
	}
	return tw.Flush()
}

// Describe is a column's statistics in a line: its values by count (most frequent first), or
// ">12 distinct", the mean length, and min, mean and max.
func Describe(c ColumnSummary) string {
	var parts []string
	if c.Top != nil {
		keys := make([]string, 0, len(c.Top))
		for k := range c.Top {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return c.Top[keys[i]] > c.Top[keys[j]] || c.Top[keys[i]] == c.Top[keys[j]] && keys[i] < keys[j]
		})
		var vs []string
		for _, k := range keys {
			vs = append(vs, fmt.Sprintf("%s=%d", strconv.Quote(k), c.Top[k]))
		}
		parts = append(parts, strings.Join(vs, " "))
	} else if c.Distinct > MaxDistinct {
		parts = append(parts, fmt.Sprintf(">%d distinct", MaxDistinct))
	}
	if c.MeanLen != nil {
		unit := "bytes"
		if strings.HasPrefix(c.Type, "list") {
			unit = "elements"
		}
		parts = append(parts, fmt.Sprintf("mean length %.1f %s", *c.MeanLen, unit))
	}
	if c.Mean != nil {
		parts = append(parts, fmt.Sprintf("min %.4g mean %.4g max %.4g", *c.Min, *c.Mean, *c.Max))
	}
	return strings.Join(parts, ", ")
}

func ptr(f float64) *float64 { return &f }
