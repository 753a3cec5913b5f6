// Package records reads foreign tabular files — CSV, JSON Lines, plain text and Parquet files not
// written by mbd — as records of named string fields, for the tools that import data made elsewhere.
// Every error names the file and the line (or row) and, where it applies, the field.
//
// Text fields must be valid UTF-8: a field that is not is refused (file:line: invalid UTF-8 in
// column X), unless the caller asks for each run of invalid bytes to be replaced by U+FFFD
// (ReadWith with Replace; Record.Replaced counts the fields repaired, for the caller to log).
// JSON decoders repair such bytes silently, so JSON Lines are checked before they are decoded.
package records

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/table"
)

// Record is one input record. Fields holds the requested fields that are present; absent optional
// fields are missing from the map.
type Record struct {
	Line     int64 // 1-based line in the file (CSV: of the record's first line) or Parquet row
	Fields   map[string]string
	Replaced int // fields whose invalid UTF-8 was replaced by U+FFFD (ReadWith with Replace)
}

// InvalidUTF8 is what ReadWith does with a field that is not valid UTF-8.
type InvalidUTF8 string

const (
	Refuse  InvalidUTF8 = "refuse"  // an input error naming the file, line and column
	Replace InvalidUTF8 = "replace" // each run of invalid bytes becomes U+FFFD
)

// ParseInvalidUTF8 parses the value of an --invalid-utf8 flag: refuse (also "") or replace.
func ParseInvalidUTF8(s string) (InvalidUTF8, error) {
	switch InvalidUTF8(s) {
	case "", Refuse:
		return Refuse, nil
	case Replace:
		return Replace, nil
	}
	return "", fmt.Errorf("--invalid-utf8 %q: want refuse or replace", s)
}

// Format is a file format by name: csv, jsonl, txt or parquet.
type Format string

// FormatOf returns the format implied by a file name's extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".jsonl", ".ndjson":
		return "jsonl", nil
	case ".txt":
		return "txt", nil
	case ".parquet":
		return "parquet", nil
	}
	return "", &table.InputError{Path: path, Msg: "unknown extension (want .csv, .jsonl, .ndjson, .txt or .parquet)"}
}

// Read yields the records of path. required fields must be present in every record; optional ones
// are read when present. For txt files each non-blank line is one record whose only field is the
// first required field. A field that is not valid UTF-8 is an error.
func Read(path string, format Format, required, optional []string) iter.Seq2[Record, error] {
	return ReadWith(path, format, required, optional, Refuse)
}

// ReadWith is Read with a choice of what to do with invalid UTF-8 ("" is Refuse).
func ReadWith(path string, format Format, required, optional []string, invalid InvalidUTF8) iter.Seq2[Record, error] {
	if invalid == "" {
		invalid = Refuse
	}
	return func(yield func(Record, error) bool) {
		if invalid != Refuse && invalid != Replace {
			yield(Record{}, fmt.Errorf("records: unknown invalid-UTF-8 policy %q", invalid))
			return
		}
		check := func(rec Record, err error) bool {
			if err == nil {
				err = fixUTF8(path, format, &rec, invalid)
			}
			if err != nil {
				yield(Record{}, err)
				return false
			}
			return yield(rec, nil)
		}
		var err error
		switch format {
		case "csv":
			err = readCSV(path, required, optional, check)
		case "jsonl":
			err = readJSONL(path, required, optional, invalid, check)
		case "txt":
			err = readTxt(path, required, check)
		case "parquet":
			err = readParquet(path, required, optional, check)
		default:
			err = fmt.Errorf("records: unknown format %q", format)
		}
		if err != nil && !errors.Is(err, errStop) {
			yield(Record{}, err)
		}
	}
}

// fixUTF8 refuses or repairs the fields of rec that are not valid UTF-8, in field-name order so
// that the error is the same from run to run.
func fixUTF8(path string, format Format, rec *Record, invalid InvalidUTF8) error {
	var bad []string
	for name, v := range rec.Fields {
		if !utf8.ValidString(v) {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	if invalid == Replace {
		for _, name := range bad {
			rec.Fields[name] = strings.ToValidUTF8(rec.Fields[name], string(utf8.RuneError))
		}
		rec.Replaced = len(bad)
		return nil
	}
	where := fmt.Sprintf("%s:%d", path, rec.Line)
	switch format {
	case "parquet":
		where = fmt.Sprintf("%s: row %d", path, rec.Line)
	case "txt":
		return &table.InputError{Path: where, Msg: "invalid UTF-8"}
	}
	return &table.InputError{Path: where, Msg: "invalid UTF-8 in column " + bad[0]}
}

var errStop = errors.New("stopped")

func open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &table.InputError{Path: path, Msg: "no such file"}
		}
		return nil, &table.InputError{Path: path, Msg: "cannot open", Err: err}
	}
	return f, nil
}

func lineErr(path string, line int64, field, format string, args ...any) error {
	return &table.InputError{Path: fmt.Sprintf("%s:%d", path, line), Column: field, Msg: fmt.Sprintf(format, args...)}
}

// scanLines calls fn with each line of path that is not blank, and its number, for lines of up to
// maxLine bytes.
func scanLines(path string, maxLine int, fn func(line int64, b []byte) error) error {
	f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var line int64
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fn(line, sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &table.InputError{Path: path, Msg: "read", Err: err}
	}
	return nil
}

func readTxt(path string, required []string, yield func(Record, error) bool) error {
	return scanLines(path, 16<<20, func(line int64, b []byte) error {
		if !yield(Record{Line: line, Fields: map[string]string{required[0]: strings.TrimSpace(string(b))}}, nil) {
			return errStop
		}
		return nil
	})
}

func readCSV(path string, required, optional []string, yield func(Record, error) bool) error {
	f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return &table.InputError{Path: path, Msg: "empty file (want a header row)"}
	}
	if err != nil {
		return &table.InputError{Path: path, Msg: "not valid CSV", Err: err}
	}
	index := map[string]int{}
	for i, h := range header {
		index[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, name := range required {
		if _, ok := index[name]; !ok {
			return &table.InputError{Path: path, Column: name, Msg: fmt.Sprintf("missing from the header (have %s)", strings.Join(header, ", "))}
		}
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &table.InputError{Path: path, Msg: "not valid CSV", Err: err}
		}
		line, _ := r.FieldPos(0)
		fields := map[string]string{}
		for _, name := range slices.Concat(required, optional) {
			if i, ok := index[name]; ok && i < len(rec) {
				fields[name] = rec[i]
			}
		}
		if !yield(Record{Line: int64(line), Fields: fields}, nil) {
			return errStop
		}
	}
}

func readJSONL(path string, required, optional []string, invalid InvalidUTF8, yield func(Record, error) bool) error {
	return scanLines(path, 64<<20, func(line int64, b []byte) error {
		replaced := 0
		if !utf8.Valid(b) {
			// The decoder would replace invalid bytes silently: find the fields that hold them.
			bad, err := invalidFields(b, slices.Concat(required, optional))
			if err != nil {
				return lineErr(path, line, "", "not a JSON object: %v", err)
			}
			if len(bad) > 0 && invalid != Replace {
				return &table.InputError{Path: fmt.Sprintf("%s:%d", path, line), Msg: "invalid UTF-8 in column " + bad[0]}
			}
			b, replaced = bytes.ToValidUTF8(b, []byte(string(utf8.RuneError))), len(bad)
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return lineErr(path, line, "", "not a JSON object: %v", err)
		}
		fields := map[string]string{}
		for i, name := range slices.Concat(required, optional) {
			v, ok := obj[name]
			if !ok || v == nil {
				if i < len(required) {
					return lineErr(path, line, name, "missing")
				}
				continue
			}
			switch x := v.(type) {
			case string:
				fields[name] = x
			case float64, bool:
				fields[name] = fmt.Sprint(x)
			default:
				return lineErr(path, line, name, "is a %T, want a string or number", v)
			}
		}
		if !yield(Record{Line: line, Fields: fields, Replaced: replaced}, nil) {
			return errStop
		}
		return nil
	})
}

// invalidFields returns, sorted, those of names whose raw JSON value in the object b is not valid
// UTF-8.
func invalidFields(b []byte, names []string) ([]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	var bad []string
	for _, name := range names {
		if v, ok := raw[name]; ok && !utf8.Valid(v) {
			bad = append(bad, name)
		}
	}
	slices.Sort(bad)
	return bad, nil
}

func readParquet(path string, required, optional []string, yield func(Record, error) bool) (err error) {
	f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer func() {
		if p := recover(); p != nil {
			err = &table.InputError{Path: path, Msg: "corrupt Parquet file", Err: fmt.Errorf("%v", p)}
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return &table.InputError{Path: path, Msg: "cannot stat", Err: err}
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return &table.InputError{Path: path, Msg: "not a valid Parquet file", Err: err}
	}
	columns := map[int]string{}
	for i, name := range slices.Concat(required, optional) {
		leaf, ok := pf.Schema().Lookup(name)
		if !ok {
			if i < len(required) {
				return &table.InputError{Path: path, Column: name, Msg: "missing"}
			}
			continue
		}
		if leaf.Node.Repeated() || leaf.MaxRepetitionLevel > 0 {
			return &table.InputError{Path: path, Column: name, Msg: "is a list, want a scalar"}
		}
		columns[leaf.ColumnIndex] = name
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	rows := make([]parquet.Row, 256)
	var line int64
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			line++
			fields := map[string]string{}
			for _, v := range row {
				if name, ok := columns[v.Column()]; ok && !v.IsNull() {
					fields[name] = valueString(v)
				}
			}
			for _, name := range required {
				if _, ok := fields[name]; !ok {
					return &table.InputError{Path: fmt.Sprintf("%s: row %d", path, line), Column: name, Msg: "is null"}
				}
			}
			if !yield(Record{Line: line, Fields: fields}, nil) {
				return errStop
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &table.InputError{Path: path, Msg: "corrupt Parquet data", Err: err}
		}
	}
}

func valueString(v parquet.Value) string {
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	return v.String()
}
