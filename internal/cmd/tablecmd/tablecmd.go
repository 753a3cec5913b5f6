// Package tablecmd is the command line of mbd-table: look into, check and convert any mbd table.
// Each subcommand has its options, their checks and its run; the summaries and row renderings
// are package tableinfo's.
package tablecmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tableinfo"
)

// SummaryOptions are the options of mbd-table summary.
type SummaryOptions struct {
	Table string   // --table
	JSON  bool     // --json
	Files []string // FILE argument (exactly one)
}

// HeadOptions are the options of mbd-table head.
type HeadOptions struct {
	Table string   // --table
	N     int      // -n
	Files []string // FILE argument (exactly one)
}

// CatOptions are the options of mbd-table cat.
type CatOptions struct {
	Table  string   // --table
	Format string   // --format
	Files  []string // FILE argument (exactly one)
}

// ConvertOptions are the options of mbd-table convert.
type ConvertOptions struct {
	Table  string   // --table
	Output string   // -o
	Files  []string // FILE argument (exactly one)
}

// SchemaOptions are the options of mbd-table schema.
type SchemaOptions struct {
	Args []string // TABLE or FILE argument (exactly one)
}

// Main is mbd-table.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	so, ho, co, vo, sc := &SummaryOptions{}, &HeadOptions{}, &CatOptions{}, &ConvertOptions{}, &SchemaOptions{}
	tableFlag := func(dst *string) ucli.Flag {
		return &ucli.StringFlag{Name: "table", Destination: dst, Usage: "table kind, for files without mbd.schema metadata (" + table.Names() + ")"}
	}
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
				Flags:  []ucli.Flag{tableFlag(&so.Table), &ucli.BoolFlag{Name: "json", Destination: &so.JSON, Usage: "print JSON"}},
				Action: cli.Action(so, &so.Files, RunSummary),
			},
			{
				Name: "head", Usage: "print the first rows as JSON lines", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{tableFlag(&ho.Table), &ucli.IntFlag{Name: "n", Value: 10, Destination: &ho.N, Usage: "rows to print"}},
				Action: cli.Action(ho, &ho.Files, RunHead),
			},
			{
				Name: "cat", Usage: "print every row", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{tableFlag(&co.Table), &ucli.StringFlag{Name: "format", Value: "jsonl", Destination: &co.Format, Usage: "jsonl or csv (lists as JSON)"}},
				Action: cli.Action(co, &co.Files, RunCat),
			},
			{
				Name: "convert", Usage: "copy a table, checking it: Parquet to Arrow stream (-o -) or back", ArgsUsage: "FILE",
				Flags:  []ucli.Flag{tableFlag(&vo.Table), &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &vo.Output, Usage: "output `PATH` or -"}},
				Action: cli.Action(vo, &vo.Files, RunConvert),
			},
			{
				Name: "schema", Usage: "print the columns of a table kind or of a file's table", ArgsUsage: "TABLE|FILE",
				Action: cli.Action(sc, &sc.Args, RunSchema),
			},
		},
	}, args, stdio)
}

// checkInput checks the FILE argument and the --table flag that every reading subcommand has.
func checkInput(c *cli.Check, files []string, tableName string) {
	c.Must(len(files) == 1, "want one FILE (or - for stdin), got %d arguments", len(files))
	c.Must(tableName == "" || schema.Lookup(tableName) != nil, "--table %q: want one of %s", tableName, table.Names())
}

func open(env *cli.Env, files []string, tableName string) (table.AnyReader, error) {
	return table.OpenAny(files[0], env.Stdin, tableName)
}

// Validate checks the options of mbd-table summary.
func (o SummaryOptions) Validate() error {
	var c cli.Check
	checkInput(&c, o.Files, o.Table)
	return c.Err()
}

// RunSummary prints the rows and per-column statistics of a table.
func RunSummary(ctx context.Context, env *cli.Env, o SummaryOptions) error {
	r, err := open(env, o.Files, o.Table)
	if err != nil {
		return err
	}
	defer r.Close()
	stats := tableinfo.NewStats(r.Table())
	for n := 0; ; n++ {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		stats.Add(row)
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
	checkInput(&c, o.Files, o.Table)
	c.Count("-n", o.N, 0)
	return c.Err()
}

// RunHead prints the first rows as JSON lines.
func RunHead(ctx context.Context, env *cli.Env, o HeadOptions) error {
	return dump(ctx, env, o.Files, o.Table, o.N, tableinfo.JSONL)
}

// Validate checks the options of mbd-table cat.
func (o CatOptions) Validate() error {
	var c cli.Check
	checkInput(&c, o.Files, o.Table)
	c.OneOf("--format", o.Format, tableinfo.JSONL, tableinfo.CSV)
	return c.Err()
}

// RunCat prints every row.
func RunCat(ctx context.Context, env *cli.Env, o CatOptions) error {
	return dump(ctx, env, o.Files, o.Table, -1, o.Format)
}

// dump prints up to limit rows (all when limit < 0) in format.
func dump(ctx context.Context, env *cli.Env, files []string, tableName string, limit int, format string) error {
	r, err := open(env, files, tableName)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := tableinfo.NewRowWriter(env.Stdout, r.Table(), format)
	if err != nil {
		return err
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
		if err := w.Write(row); err != nil {
			return err
		}
	}
	return w.Flush()
}

// Validate checks the options of mbd-table convert.
func (o ConvertOptions) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	checkInput(&c, o.Files, o.Table)
	var p cli.Paths
	p.In("FILE", o.Files...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunConvert copies a table, checking every row, and records the input in the output's manifest.
func RunConvert(ctx context.Context, env *cli.Env, o ConvertOptions) error {
	r, err := open(env, o.Files, o.Table)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := table.CreateAny(r.Table(), o.Output, env.Stdout)
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
