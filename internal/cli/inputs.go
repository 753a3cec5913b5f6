package cli

import (
	"os"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// ReadTable reads a whole input table (path "-" is standard input) and records it in the run's
// manifest: path, schema, rows and the SHA-256 of its bytes.
func ReadTable[T schema.Row](env *Env, path string) ([]T, error) {
	var rows []T
	err := EachRow(env, path, func(row T) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// EachRow streams an input table's rows to fn, then records the table in the manifest as ReadTable
// does. Use it where a tool keeps a few columns of a large table.
func EachRow[T schema.Row](env *Env, path string, fn func(T) error) error {
	r, err := table.Open[T](path, env.Stdin)
	if err != nil {
		return err
	}
	defer r.Close()
	var n int64
	for row, err := range r.All() {
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
		n++
	}
	hash, err := r.Hash()
	if err != nil {
		return err
	}
	env.Manifest.Input(path, r.Table().ID(), n, hash)
	return nil
}

// InvalidUTF8Flag is the --invalid-utf8 flag of the tools that import text made elsewhere (CSV,
// JSON Lines, plain text); records.ParseInvalidUTF8 checks its value.
func InvalidUTF8Flag(dest *string) ucli.Flag {
	return &ucli.StringFlag{Name: "invalid-utf8", Value: "refuse", Destination: dest,
		Usage: "text that is not valid UTF-8: refuse (an error naming file:line) or replace (with U+FFFD, counted in the log)"}
}

// RecordFile records a non-table input (a model, a text file) in the run's manifest with the
// SHA-256 of its content. Paths that are not regular files are recorded without a hash.
func RecordFile(env *Env, path string, rows int64) error {
	hash := ""
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		if hash, err = table.HashFile(path); err != nil {
			return err
		}
	}
	env.Manifest.Input(path, "", rows, hash)
	return nil
}
