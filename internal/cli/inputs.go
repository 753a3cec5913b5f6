package cli

import (
	"errors"
	"os"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// ReadTable reads a whole input table (path "-" is standard input) and records it in the run's
// manifest: path, schema, rows and the SHA-256 of its bytes.
func ReadTable[T schema.Row](env *Env, path string) ([]T, error) {
	var rows []T
	_, err := EachRow(env, path, func(row T) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// EachRow streams an input table's rows to fn, then records the table in the manifest as ReadTable
// does and returns the SHA-256 it recorded. Use it where a tool keeps a few columns of a large
// table, or needs the table's hash (a run's identity).
func EachRow[T schema.Row](env *Env, path string, fn func(T) error) (hash string, err error) {
	r, err := table.Open[T](path, env.Stdin)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var n int64
	for row, err := range r.All() {
		if err != nil {
			return "", err
		}
		if err := fn(row); err != nil {
			return "", err
		}
		n++
	}
	if hash, err = r.Hash(); err != nil {
		return "", err
	}
	env.Manifest.Input(path, r.Table().ID(), n, hash)
	return hash, nil
}

// InvalidUTF8Flag is the --invalid-utf8 flag of the tools that import text made elsewhere (CSV,
// JSON Lines, plain text); records.ParseInvalidUTF8 checks its value.
func InvalidUTF8Flag(dest *string) ucli.Flag {
	return &ucli.StringFlag{Name: "invalid-utf8", Value: "refuse", Destination: dest,
		Usage: "text that is not valid UTF-8: refuse (an error naming file:line) or replace (with U+FFFD, counted in the log)"}
}

// RecordFile records a non-table input (a model, a text file) in the run's manifest with the
// SHA-256 of its content, and returns that hash. Standard input ("-") and paths that are not
// regular files (a FIFO, a device) are recorded without a hash (""); a missing file is bad input
// (a *table.InputError naming it).
func RecordFile(env *Env, path string, rows int64) (hash string, err error) {
	if path != "-" {
		st, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return "", &table.InputError{Path: path, Msg: "no such file"}
		case err != nil:
			return "", err
		case st.Mode().IsRegular():
			if hash, err = table.HashFile(path); err != nil {
				return "", err
			}
		}
	}
	env.Manifest.Input(path, "", rows, hash)
	return hash, nil
}

// WriteTable writes rows as a whole table to path ("-": an Arrow stream on standard output) and
// the run's manifest beside it. Record the run's parameters before calling it.
func WriteTable[T schema.Row](env *Env, path string, rows []T) error {
	w, err := table.Create[T](path, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Write(rows...); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	return env.Manifest.WriteFor(path, w.Table().ID(), w.Rows())
}
