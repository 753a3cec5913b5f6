// Package tablecmd is the command line of mbd-table: look into, check and convert any mbd table.
// Each subcommand has its options, their checks and its run; the summaries and row renderings
// are package tableinfo's.
package tablecmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tableinfo"
)

// Input is the table that summary, head, cat and convert read.
type Input struct {
	Table string   // --table
	Files []string // FILE argument (exactly one)
}

// SummaryOptions are the options of mbd-table summary.
type SummaryOptions struct {
	Input
	JSON bool // --json
}

// HeadOptions are the options of mbd-table head.
type HeadOptions struct {
	Input
	N int // -n
}

// CatOptions are the options of mbd-table cat.
type CatOptions struct {
	Input
	Format  string // --format
	Columns string // --columns, comma-separated
}

// ConvertOptions are the options of mbd-table convert.
type ConvertOptions struct {
	Input
	Output string // -o
}

// SchemaOptions are the options of mbd-table schema.
type SchemaOptions struct {
	Args []string // TABLE or FILE argument (exactly one)
}

// Main is mbd-table.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	so, ho, co, vo, sc := &SummaryOptions{}, &HeadOptions{}, &CatOptions{}, &ConvertOptions{}, &SchemaOptions{}
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-table",
		Usage: "inspect, check and convert mbd tables",
		Description: `Every FILE may be - (an Arrow IPC stream or a Parquet file on stdin).

Examples:
  mbd-table summary generations.parquet
  mbd-prompts -o - | mbd-table head -n 3 -
  mbd-table cat --format csv prompts.parquet > prompts.csv
  mbd-table cat --format csv --columns prompt,completion gens-a.parquet > answers-a.csv
  mbd-table convert generations.parquet -o - | mbd-table summary --json -
  mbd-table schema generations`,
		Commands: []*ucli.Command{
			{
				Name: "summary", Usage: "rows and per-column statistics", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{so.tableFlag(), &ucli.BoolFlag{Name: "json", Destination: &so.JSON, Usage: "print JSON"}},
				Action: cli.Action(so, &so.Files, RunSummary),
			},
			{
				Name: "head", Usage: "print the first rows as JSON lines", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{ho.tableFlag(), &ucli.IntFlag{Name: "n", Value: 10, Destination: &ho.N, Usage: "rows to print"}},
				Action: cli.Action(ho, &ho.Files, RunHead),
			},
			{
				Name: "cat", Usage: "print every row", ArgsUsage: "FILE",
				Flags: []ucli.Flag{co.tableFlag(),
					&ucli.StringFlag{Name: "format", Value: "jsonl", Destination: &co.Format, Usage: "jsonl or csv (lists as JSON)"},
					&ucli.StringFlag{Name: "columns", Destination: &co.Columns, Usage: "print only these `COLUMNS`, comma-separated, in that order (default: all)"}},
				Action: cli.Action(co, &co.Files, RunCat),
			},
			{
				Name: "convert", Usage: "copy a table, checking it: Parquet to Arrow stream (-o -) or back", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{vo.tableFlag(), cli.OutputFlag(&vo.Output, "output `PATH` or -")},
				Action: cli.Action(vo, &vo.Files, RunConvert),
			},
			{
				Name: "schema", Usage: "print the columns of a table kind or of a file's table", ArgsUsage: "TABLE|FILE",
				Action: cli.Action(sc, &sc.Args, RunSchema),
			},
		},
	}, args, stdio)
}

// tableFlag binds --table to in.
func (in *Input) tableFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "table", Destination: &in.Table, Usage: "table kind, for files without mbd.schema metadata (" + table.Names() + ")"}
}

// check adds the problems of the FILE argument and --table to c.
func (in Input) check(c *cli.Check) {
	c.Must(len(in.Files) == 1, "want one FILE (or - for stdin), got %d arguments", len(in.Files))
	c.Must(in.Table == "" || schema.Lookup(in.Table) != nil, "--table %q: want one of %s", in.Table, table.Names())
}

func (in Input) open(env *cli.Env) (table.AnyReader, error) {
	return table.OpenAny(in.Files[0], env.Stdin, in.Table)
}

// Validate checks the options of mbd-table summary.
func (o SummaryOptions) Validate() error {
	var c cli.Check
	o.check(&c)
	return c.Err()
}

// RunSummary prints the rows and per-column statistics of a table.
func RunSummary(ctx context.Context, env *cli.Env, o SummaryOptions) error {
	r, err := o.open(env)
	if err != nil {
		return err
	}
	defer r.Close()
	stats := tableinfo.NewStats(r.Table())
	err = each(ctx, r, -1, func(row schema.Row) error {
		stats.Add(row)
		return nil
	})
	if err != nil {
		return err
	}
	s := stats.Summary(r.Path())
	if o.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return s.WriteText(env.Stdout)
}

// Validate checks the options of mbd-table head.
func (o HeadOptions) Validate() error {
	var c cli.Check
	o.check(&c)
	c.Count("-n", o.N, 0)
	return c.Err()
}

// RunHead prints the first rows as JSON lines.
func RunHead(ctx context.Context, env *cli.Env, o HeadOptions) error {
	return dump(ctx, env, o.Input, o.N, tableinfo.JSONL)
}

// Validate checks the options of mbd-table cat.
func (o CatOptions) Validate() error {
	var c cli.Check
	o.check(&c)
	c.OneOf("--format", o.Format, tableinfo.JSONL, tableinfo.CSV)
	for _, col := range o.columns() {
		c.Must(col != "", "--columns %q: a column name is empty", o.Columns)
	}
	return c.Err()
}

func (o CatOptions) columns() []string {
	if o.Columns == "" {
		return nil
	}
	cols := strings.Split(o.Columns, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}

// RunCat prints every row.
func RunCat(ctx context.Context, env *cli.Env, o CatOptions) error {
	return dump(ctx, env, o.Input, -1, o.Format, o.columns()...)
}

// dump prints up to limit rows (all when limit < 0) in format: the named columns, or all.
func dump(ctx context.Context, env *cli.Env, in Input, limit int, format string, columns ...string) error {
	r, err := in.open(env)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := tableinfo.NewRowWriter(env.Stdout, r.Table(), format, columns...)
	if err != nil {
		return &table.InputError{Path: in.Files[0], Msg: err.Error()}
	}
	if err := each(ctx, r, limit, w.Write); err != nil {
		return err
	}
	return w.Flush()
}

// each calls fn with each row of r, up to limit rows (all when limit < 0); it stops at the first
// error, or when ctx is done.
func each(ctx context.Context, r table.AnyReader, limit int, fn func(schema.Row) error) error {
	for n := 0; limit < 0 || n < limit; n++ {
		row, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the options of mbd-table convert.
func (o ConvertOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	o.check(&c)
	var p cli.Paths
	p.In("FILE", o.Files...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunConvert copies a table, checking every row, and records the input in the output's manifest.
func RunConvert(ctx context.Context, env *cli.Env, o ConvertOptions) error {
	r, err := o.open(env)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := table.CreateAny(r.Table(), o.Output, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := each(ctx, r, -1, w.Write); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	hash, err := r.Hash()
	if err != nil {
		return err
	}
	env.Manifest.Input(r.Path(), r.Table().ID(), w.Rows(), hash)
	return env.Manifest.WriteFor(o.Output, r.Table().ID(), w.Rows())
}

// Validate checks the options of mbd-table schema.
func (o SchemaOptions) Validate() error {
	var c cli.Check
	c.Must(len(o.Args) == 1, "want one TABLE name (%s) or FILE", table.Names())
	return c.Err()
}

// RunSchema prints the columns of a table kind, or of the table in a file.
func RunSchema(_ context.Context, env *cli.Env, o SchemaOptions) error {
	arg := o.Args[0]
	t := schema.Lookup(arg)
	if t == nil {
		r, err := table.OpenAny(arg, env.Stdin, "")
		if err != nil {
			var ie *table.InputError
			if errors.As(err, &ie) && ie.Msg == "no such file" {
				return cli.Usagef("%q is neither a table kind (%s) nor a file", arg, table.Names())
			}
			return err
		}
		t = r.Table()
		r.Close()
	}
	_, err := io.WriteString(env.Stdout, t.Markdown())
	return err
}
