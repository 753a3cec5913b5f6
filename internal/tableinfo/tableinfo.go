// Package tableinfo describes mbd tables for people: the values of a row in column order, rows
// rendered as JSON Lines or CSV, and a summary of a whole table (rows, and per column the nulls,
// the range and mean of numbers, the mean length of strings and lists, and the counts of the
// values of columns with few distinct ones).
package tableinfo

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
)

// Values returns the columns of a row in table order; a null optional column is nil.
func Values(t *schema.Table, row schema.Row) []any {
	v := reflect.ValueOf(row)
	out := make([]any, len(t.Columns()))
	for i, c := range t.Columns() {
		f := v.Field(c.Index)
		if c.Optional && f.IsNil() {
			out[i] = nil
			continue
		}
		if c.Optional {
			f = f.Elem()
		}
		out[i] = f.Interface()
	}
	return out
}

// Formats of a RowWriter.
const (
	JSONL = "jsonl" // one JSON object per row, keys in column order; NaN and infinities as strings
	CSV   = "csv"   // a header row, then one record per row; lists and structs as JSON
)

// RowWriter writes the rows of one table as JSON Lines or CSV.
type RowWriter struct {
	w      io.Writer
	t      *schema.Table
	format string
	cols   []int // indices of the columns written, in output order
	cw     *csv.Writer
}

// NewRowWriter returns a writer of rows of t in format (JSONL or CSV) to w: the named columns in
// that order, or every column when none is named. A CSV writer writes its header row first.
func NewRowWriter(w io.Writer, t *schema.Table, format string, columns ...string) (*RowWriter, error) {
	rw := &RowWriter{w: w, t: t, format: format}
	all := t.Columns()
	if len(columns) == 0 {
		for i := range all {
			rw.cols = append(rw.cols, i)
		}
	}
	for _, name := range columns {
		i := slices.IndexFunc(all, func(c schema.Column) bool { return c.Name == name })
		if i < 0 {
			names := make([]string, len(all))
			for j, c := range all {
				names[j] = c.Name
			}
			return nil, fmt.Errorf("%s has no column %q (columns: %s)", t.Name, name, strings.Join(names, ", "))
		}
		rw.cols = append(rw.cols, i)
	}
	switch format {
	case JSONL:
	case CSV:
		rw.cw = csv.NewWriter(w)
		header := make([]string, len(rw.cols))
		for i, c := range rw.cols {
			header[i] = all[c].Name
		}
		if err := rw.cw.Write(header); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tableinfo: format %q: want %s or %s", format, JSONL, CSV)
	}
	return rw, nil
}

// Write writes one row.
func (rw *RowWriter) Write(row schema.Row) error {
	vals := Values(rw.t, row)
	if rw.cw != nil {
		rec := make([]string, len(rw.cols))
		for i, c := range rw.cols {
			rec[i] = csvValue(vals[c])
		}
		return rw.cw.Write(rec)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range rw.cols {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(rw.t.Columns()[c].Name)
		v, err := json.Marshal(vals[c])
		if err != nil { // NaN or Inf
			v = []byte(strconv.Quote(fmt.Sprint(vals[c])))
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(rw.w, b.String())
	return err
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float32, float64, int32, int64, bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Flush writes out what is buffered and returns the first error of the writer.
func (rw *RowWriter) Flush() error {
	if rw.cw == nil {
		return nil
	}
	rw.cw.Flush()
	return rw.cw.Error()
}
