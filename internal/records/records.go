// Package records reads foreign tabular files — CSV, JSON Lines, plain text and Parquet files not
// written by mbd — as records of named string fields, for the tools that import data made elsewhere.
// Every error names the file and the line (or row) and, where it applies, the field.
package records

import (
	"bufio"
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

	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/table"
)

// Record is one input record. Fields holds the requested fields that are present; absent optional
// fields are missing from the map.
type Record struct {
	Line   int64 // 1-based line (CSV: data row, header excluded, so line+1 in the file) or Parquet row
	Fields map[string]string
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
// first required field.
func Read(path string, format Format, required, optional []string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		var err error
		switch format {
		case "csv":
			err = readCSV(path, required, optional, yield)
		case "jsonl":
			err = readJSONL(path, required, optional, yield)
		case "txt":
			err = readTxt(path, required, yield)
		case "parquet":
			err = readParquet(path, required, optional, yield)
		default:
			err = fmt.Errorf("records: unknown format %q", format)
		}
		if err != nil && !errors.Is(err, errStop) {
			yield(Record{}, err)
		}
	}
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

func readTxt(path string, required []string, yield func(Record, error) bool) error {
	f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var line int64
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if !yield(Record{Line: line, Fields: map[string]string{required[0]: text}}, nil) {
			return errStop
		}
	}
	if err := sc.Err(); err != nil {
		return &table.InputError{Path: path, Msg: "read", Err: err}
	}
	return nil
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
	var line int64 = 1
	for {
		rec, err := r.Read()
		line++
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &table.InputError{Path: path, Msg: "not valid CSV", Err: err}
		}
		fields := map[string]string{}
		for _, name := range slices.Concat(required, optional) {
			if i, ok := index[name]; ok && i < len(rec) {
				fields[name] = rec[i]
			}
		}
		if !yield(Record{Line: line, Fields: fields}, nil) {
			return errStop
		}
	}
}

func readJSONL(path string, required, optional []string, yield func(Record, error) bool) error {
	f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var line int64
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
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
		if !yield(Record{Line: line, Fields: fields}, nil) {
			return errStop
		}
	}
	if err := sc.Err(); err != nil {
		return &table.InputError{Path: path, Msg: "read", Err: err}
	}
	return nil
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
