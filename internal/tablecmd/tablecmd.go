// Package tablecmd is mbd-table: look into, check and convert any mbd table.
package tablecmd

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-table.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	tableFlag := &ucli.StringFlag{Name: "table", Usage: "table kind, for files without mbd.schema metadata (" + names() + ")"}
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-table",
		Usage: "inspect, check and convert mbd tables",
		Description: `Every FILE may be - (an Arrow IPC stream or a Parquet file on stdin).

Examples:
  mbd-table summary generations.parquet
  mbd-prompts -o - | mbd-table head -n 3 -
  mbd-table cat --format csv prompts.parquet > prompts.csv
  mbd-table convert generations.parquet -o - | mbd-table summary --json -
  mbd-table schema generations`,
		Commands: []*ucli.Command{
			{
				Name: "summary", Usage: "rows and per-column statistics", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{tableFlag, &ucli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: summary,
			},
			{
				Name: "head", Usage: "print the first rows as JSON lines", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{tableFlag, &ucli.IntFlag{Name: "n", Value: 10, Usage: "rows to print"}},
				Action: func(ctx context.Context, cmd *ucli.Command) error { return dump(ctx, cmd, int(cmd.Int("n")), "jsonl") },
			},
			{
				Name: "cat", Usage: "print every row", ArgsUsage: "FILE",
				Flags: []ucli.Flag{tableFlag, &ucli.StringFlag{Name: "format", Value: "jsonl", Usage: "jsonl or csv (lists as JSON)"}},
				Action: func(ctx context.Context, cmd *ucli.Command) error {
					return dump(ctx, cmd, -1, cmd.String("format"))
				},
			},
			{
				Name: "convert", Usage: "copy a table, checking it: Parquet to Arrow stream (-o -) or back", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{tableFlag, &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `PATH` or -"}},
				Action: convert,
			},
			{
				Name: "schema", Usage: "print the columns of a table kind or of a file's table", ArgsUsage: "TABLE|FILE",
				Action: printSchema,
			},
		},
	}, args, stdio)
}

func names() string {
	var s []string
	for _, t := range schema.All {
		s = append(s, t.Name)
	}
	return strings.Join(s, ", ")
}

func openArg(cmd *ucli.Command, env *cli.Env) (table.AnyReader, error) {
	if cmd.NArg() != 1 {
		return nil, cli.Usagef("want one FILE (or - for stdin), got %d arguments", cmd.NArg())
	}
	return table.OpenAny(cmd.Args().First(), env.Stdin, cmd.String("table"))
}

// fields returns the columns of a row in table order as name/value pairs for printing.
func fields(t *schema.Table, row schema.Row) []any {
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

func dump(ctx context.Context, cmd *ucli.Command, limit int, format string) error {
	env := cli.FromContext(ctx)
	if format != "jsonl" && format != "csv" {
		return cli.Usagef("--format %q: want jsonl or csv", format)
	}
	r, err := openArg(cmd, env)
	if err != nil {
		return err
	}
	defer r.Close()
	t := r.Table()
	cw := csv.NewWriter(env.Stdout)
	if format == "csv" {
		var header []string
		for _, c := range t.Columns() {
			header = append(header, c.Name)
		}
		cw.Write(header)
	}
	for n := 0; limit < 0 || n < limit; n++ {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		vals := fields(t, row)
		if format == "csv" {
			rec := make([]string, len(vals))
			for i, v := range vals {
				switch x := v.(type) {
				case nil:
				case string:
					rec[i] = x
				case float32, float64, int32, int64, bool:
					rec[i] = fmt.Sprint(x)
				default:
					b, _ := json.Marshal(x)
					rec[i] = string(b)
				}
			}
			cw.Write(rec)
			continue
		}
		var b strings.Builder
		b.WriteByte('{')
		for i, c := range t.Columns() {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(c.Name)
			v, err := json.Marshal(vals[i])
			if err != nil { // NaN or Inf
				v = []byte(strconv.Quote(fmt.Sprint(vals[i])))
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteString("}\n")
		if _, err := io.WriteString(env.Stdout, b.String()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func convert(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	if out == "" {
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	}
	r, err := openArg(cmd, env)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := table.CreateAny(r.Table(), out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	hash, err := r.Hash()
	if err != nil {
		return err
	}
	env.Manifest.Input(r.Path(), r.Table().ID(), w.Rows(), hash)
	return env.Manifest.WriteFor(out, r.Table().ID(), w.Rows())
}

func printSchema(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	if cmd.NArg() != 1 {
		return cli.Usagef("want one TABLE name (%s) or FILE", names())
	}
	t := schema.Lookup(cmd.Args().First())
	if t == nil {
		r, err := table.OpenAny(cmd.Args().First(), env.Stdin, "")
		if err != nil {
			var ie *table.InputError
			if errors.As(err, &ie) && ie.Msg == "no such file" {
				return cli.Usagef("%q is neither a table kind (%s) nor a file", cmd.Args().First(), names())
			}
			return err
		}
		t = r.Table()
		r.Close()
	}
	_, err := io.WriteString(env.Stdout, t.Markdown())
	return err
}

// ColumnSummary describes one column.
type ColumnSummary struct {
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Nulls    int64          `json:"nulls,omitempty"`
	Min      *float64       `json:"min,omitempty"`
	Mean     *float64       `json:"mean,omitempty"`
	Max      *float64       `json:"max,omitempty"`
	MeanLen  *float64       `json:"mean_length,omitempty"` // strings: bytes; lists: elements
	Distinct int            `json:"distinct,omitempty"`    // strings, up to maxDistinct+1
	Top      map[string]int `json:"values,omitempty"`      // strings with at most maxDistinct values
}

// Summary describes a table.
type Summary struct {
	Path    string          `json:"path"`
	Table   string          `json:"table"`
	Rows    int64           `json:"rows"`
	Columns []ColumnSummary `json:"columns"`
}

const maxDistinct = 12

type colAcc struct {
	n, nulls      int64
	sum, min, max float64
	lenSum        float64
	counts        map[string]int
}

func summary(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	r, err := openArg(cmd, env)
	if err != nil {
		return err
	}
	defer r.Close()
	t := r.Table()
	accs := make([]colAcc, len(t.Columns()))
	for i := range accs {
		accs[i] = colAcc{min: math.Inf(1), max: math.Inf(-1), counts: map[string]int{}}
	}
	var rows int64
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rows++
		for i, v := range fields(t, row) {
			a := &accs[i]
			switch x := v.(type) {
			case nil:
				a.nulls++
			case string:
				a.n++
				a.lenSum += float64(len(x))
				if len(a.counts) <= maxDistinct {
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
	s := Summary{Path: r.Path(), Table: t.ID(), Rows: rows}
	if s.Path == "-" {
		s.Path = "<stdin>"
	}
	for i, c := range t.Columns() {
		a := accs[i]
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
				if len(a.counts) <= maxDistinct {
					cs.Top = a.counts
				}
			}
		}
		s.Columns = append(s.Columns, cs)
	}
	if cmd.Bool("json") {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(env.Stdout, "%s: %s, %d rows\n\n", s.Path, s.Table, s.Rows)
	tw := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "column\ttype\tnulls\tstatistics")
	for _, c := range s.Columns {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Name, c.Type, c.Nulls, describe(c))
	}
	return tw.Flush()
}

func describe(c ColumnSummary) string {
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
	} else if c.Distinct > maxDistinct {
		parts = append(parts, fmt.Sprintf(">%d distinct", maxDistinct))
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
