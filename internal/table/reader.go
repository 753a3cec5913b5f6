package table

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"iter"
	"os"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/schema"
)

type fileFormat int

const (
	formatParquet fileFormat = iota + 1
	formatArrowStream
)

var (
	parquetMagic     = []byte("PAR1")
	arrowFileMagic   = []byte("ARROW1")
	arrowStreamMagic = []byte{0xff, 0xff, 0xff, 0xff}
)

// MaxArrowMessage bounds one Arrow IPC message (a record batch), so that a corrupt length cannot make
// a reader allocate without limit. mbd's writers cut batches at ArrowBatchBytes, far below it.
const MaxArrowMessage = 256 << 20

// source is an opened input whose format has been detected and whose schema has been read.
type source struct {
	path     string
	format   fileFormat
	file     *os.File // Parquet or Arrow file (possibly stdin spooled to a temporary file)
	spooled  bool     // file is a temporary copy of stdin, removed on close
	hasher   hash.Hash
	pq       *parquet.File
	stream   *ipc.Reader
	schemaID string // value of mbd.schema, "" when absent
}

// openSource opens path ("-" for stdin) and detects its format by its first bytes.
func openSource(path string, stdin io.Reader) (_ *source, err error) {
	src := &source{path: path}
	defer func() {
		if err != nil {
			src.close()
		}
	}()
	if path == "-" {
		if stdin == nil {
			return nil, inputErr(path, "", "no standard input")
		}
		src.hasher = sha256.New()
		br := bufio.NewReaderSize(io.TeeReader(stdin, src.hasher), 2*maxSchemaMessage)
		magic, err := br.Peek(4)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, inputErr(path, "", "empty input (want an Arrow IPC stream or a Parquet file)")
			}
			return nil, &InputError{Path: path, Msg: "read", Err: err}
		}
		switch {
		case bytes.Equal(magic, parquetMagic):
			// Parquet needs random access: spool it.
			f, err := os.CreateTemp("", "mbd-stdin-*.parquet")
			if err != nil {
				return nil, fmt.Errorf("spool stdin: %w", err)
			}
			src.file, src.spooled = f, true
			if _, err := io.Copy(f, br); err != nil {
				return nil, fmt.Errorf("spool stdin: %w", err)
			}
			return src, src.openParquet()
		case bytes.Equal(magic, arrowStreamMagic):
			return src, src.openArrowStream(br)
		}
		return nil, inputErr(path, "", "not an Arrow IPC stream or a Parquet file (starts with %q)", magic)
	}

	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, inputErr(path, "", "no such file")
		}
		return nil, &InputError{Path: path, Msg: "cannot open", Err: err}
	}
	src.file = f
	st, err := f.Stat()
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot stat", Err: err}
	}
	if st.IsDir() {
		return nil, inputErr(path, "", "is a folder, not a table file")
	}
	if st.Size() == 0 {
		return nil, inputErr(path, "", "empty file (want a Parquet file)")
	}
	magic := make([]byte, 6)
	n, _ := io.ReadFull(f, magic)
	magic = magic[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, &InputError{Path: path, Msg: "cannot seek", Err: err}
	}
	switch {
	case bytes.HasPrefix(magic, parquetMagic):
		return src, src.openParquet()
	case bytes.HasPrefix(magic, arrowFileMagic):
		return nil, inputErr(path, "", "is an Arrow IPC file; mbd reads Parquet files and Arrow IPC streams")
	case bytes.HasPrefix(magic, arrowStreamMagic):
		return src, src.openArrowStream(bufio.NewReaderSize(f, 2*maxSchemaMessage))
	}
	return nil, inputErr(path, "", "not a Parquet file (starts with %q, want \"PAR1\")", magic)
}

func (s *source) openParquet() (err error) {
	s.format = formatParquet
	defer recoverAs(s.path, "not a valid Parquet file", &err)
	st, err := s.file.Stat()
	if err != nil {
		return &InputError{Path: s.path, Msg: "cannot stat", Err: err}
	}
	if err := checkParquetFooter(s.file, st.Size()); err != nil {
		return &InputError{Path: s.path, Msg: "not a valid Parquet file", Err: err}
	}
	s.pq, err = parquet.OpenFile(s.file, st.Size())
	if err != nil {
		return &InputError{Path: s.path, Msg: "not a valid Parquet file", Err: err}
	}
	if err := checkParquetPages(s.file, st.Size(), s.pq.Metadata()); err != nil {
		return &InputError{Path: s.path, Msg: "corrupt Parquet file", Err: err}
	}
	s.schemaID, _ = s.pq.Lookup(schema.MetadataKey)
	return nil
}

func (s *source) openArrowStream(r *bufio.Reader) (err error) {
	s.format = formatArrowStream
	defer recoverAs(s.path, "not a valid Arrow IPC stream", &err)
	if err := checkArrowSchema(r); err != nil {
		return &InputError{Path: s.path, Msg: "not a valid Arrow IPC stream", Err: err}
	}
	// ipc.NewReader ignores the size limits; a message reader built with them honours them.
	limits := []ipc.Option{ipc.WithMetadataSizeLimit(MaxArrowMessage), ipc.WithBodySizeLimit(MaxArrowMessage)}
	s.stream, err = ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, limits...))
	if err != nil {
		return &InputError{Path: s.path, Msg: "not a valid Arrow IPC stream", Err: err}
	}
	s.schemaID, _ = s.stream.Schema().Metadata().GetValue(schema.MetadataKey)
	return nil
}

func (s *source) close() error {
	if s.stream != nil {
		s.stream.Release()
	}
	var err error
	if s.file != nil {
		err = s.file.Close()
		if s.spooled {
			os.Remove(s.file.Name())
		}
	}
	return err
}

// recoverAs turns a panic of a decoding library on malformed input into an InputError.
func recoverAs(path, msg string, err *error) {
	if p := recover(); p != nil {
		*err = &InputError{Path: path, Msg: msg, Err: fmt.Errorf("%v", p)}
	}
}

// Reader reads the rows of one table from a Parquet file or an Arrow IPC stream.
type Reader[T schema.Row] struct {
	src   *source
	table *schema.Table
	read  func([]T) (int, error)
	close func() error
}

// Open opens path ("-" for stdin) as a table of row type T, checking its declared table, its version
// and its columns. Errors are *InputError.
func Open[T schema.Row](path string, stdin io.Reader) (*Reader[T], error) {
	src, err := openSource(path, stdin)
	if err != nil {
		return nil, err
	}
	r, err := newReader[T](src)
	if err != nil {
		src.close()
		return nil, err
	}
	return r, nil
}

func newReader[T schema.Row](src *source) (*Reader[T], error) {
	var zero T
	t := zero.Table()
	if err := checkSchemaID(src.path, t, src.schemaID); err != nil {
		return nil, err
	}
	r := &Reader[T]{src: src, table: t}
	var err error
	switch src.format {
	case formatParquet:
		err = r.initParquet()
	default:
		err = r.initArrow()
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader[T]) initParquet() error {
	path, f := r.src.path, r.src.pq
	fields := map[string]parquet.Field{}
	for _, fl := range f.Schema().Fields() {
		fields[fl.Name()] = fl
	}
	for _, col := range r.table.Columns() {
		fl, ok := fields[col.Name]
		if !ok && col.MayBeAbsent {
			continue // parquet-go reads a column the file lacks as null
		}
		var found foundType
		if ok {
			found = parquetType(fl)
		}
		if err := checkColumn(path, col, found, ok); err != nil {
			return err
		}
		if (found.Optional && !col.Optional) || found.ElemOptional {
			if err := checkParquetNulls(path, f, col, found); err != nil {
				return err
			}
		}
	}
	var gr *parquet.GenericReader[T]
	err := func() (err error) {
		defer recoverAs(path, "cannot read rows", &err)
		gr = parquet.NewGenericReader[T](f)
		return nil
	}()
	if err != nil {
		return err
	}
	r.read = func(buf []T) (n int, err error) {
		defer recoverAs(path, "corrupt Parquet data", &err)
		n, err = gr.Read(buf)
		if err == io.EOF && n > 0 {
			err = nil // report the end on the next call, as documented
		}
		if err != nil && err != io.EOF {
			err = &InputError{Path: path, Msg: "corrupt Parquet data", Err: err}
		}
		return n, err
	}
	r.close = gr.Close
	return nil
}

// checkParquetNulls reads the definition levels of a column stored as nullable (as DuckDB and pandas
// store everything) to make sure it holds no null where the table wants a value: a null scalar or
// list, or a null list element. Statistics are not trusted: writers may omit them.
func checkParquetNulls(path string, f *parquet.File, col schema.Column, found foundType) (err error) {
	defer recoverAs(path, "corrupt Parquet data", &err)
	leaf, ok := f.Schema().Lookup(col.Name)
	if !ok { // a list: the leaf is the element
		for _, p := range [][]string{{col.Name, "list", "element"}, {col.Name, "list", "item"}, {col.Name, "array"}, {col.Name, "bag", "array_element"}} {
			if leaf, ok = f.Schema().Lookup(p...); ok {
				break
			}
		}
	}
	if !ok {
		return inputErr(path, col.Name, "unsupported list layout")
	}
	// Levels: the column itself (1 if optional), the repeated group of a list (1), the element (1 if
	// optional). A value's definition level says how far down the path it is defined.
	var listDef, nullElemDef = -1, -1
	if found.Optional {
		listDef = 0 // defined only up to the root: a null value or list
	}
	if found.ElemOptional {
		nullElemDef = leaf.MaxDefinitionLevel - 1
	}
	var nulls, nullElems int64
	values := make([]parquet.Value, 1024)
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			page, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				pages.Close()
				return &InputError{Path: path, Column: col.Name, Msg: "corrupt Parquet data", Err: err}
			}
			vr := page.Values()
			for {
				n, err := vr.ReadValues(values)
				for _, v := range values[:n] {
					switch d := v.DefinitionLevel(); {
					case d == listDef && !col.Optional:
						nulls++
					case d == nullElemDef && col.Type.List:
						nullElems++
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					parquet.Release(page)
					pages.Close()
					return &InputError{Path: path, Column: col.Name, Msg: "corrupt Parquet data", Err: err}
				}
			}
			parquet.Release(page)
		}
		pages.Close()
	}
	switch {
	case nulls > 0:
		return inputErr(path, col.Name, "holds %d nulls, want a value in every row (%s)", nulls, col.Type)
	case nullElems > 0:
		return inputErr(path, col.Name, "holds %d null list elements, want %s", nullElems, col.Type)
	}
	return nil
}

func (r *Reader[T]) initArrow() error {
	path, s := r.src.path, r.src.stream.Schema()
	cols := r.table.Columns()
	index := make([]int, len(cols))
	setters := make([]setFunc, len(cols))
	for i, col := range cols {
		idx := s.FieldIndices(col.Name)
		if len(idx) == 0 && col.MayBeAbsent {
			index[i] = -1 // left null
			continue
		}
		var found foundType
		if len(idx) > 0 {
			found = arrowType(s.Field(idx[0]))
			index[i] = idx[0]
		}
		if err := checkColumn(path, col, found, len(idx) > 0); err != nil {
			return err
		}
		setters[i] = setterFor(col.Type)
	}

	var (
		rec     arrow.RecordBatch // owned by the stream reader until its next Next
		pos     int               // next row of rec
		rowBase int64             // rows before rec, for error messages
	)
	next := func() (bool, error) {
		if !r.src.stream.Next() {
			if err := r.src.stream.Err(); err != nil && err != io.EOF {
				return false, &InputError{Path: path, Msg: "corrupt Arrow IPC stream", Err: err}
			}
			return false, nil
		}
		rec = r.src.stream.RecordBatch()
		return true, nil
	}
	r.read = func(buf []T) (n int, err error) {
		defer recoverAs(path, "corrupt Arrow data", &err)
		for n < len(buf) {
			if rec == nil || pos >= int(rec.NumRows()) {
				if rec != nil {
					rowBase += rec.NumRows()
				}
				ok, err := next()
				if err != nil {
					return n, err
				}
				if !ok {
					if n == 0 {
						return 0, io.EOF
					}
					return n, nil
				}
				pos = 0
				continue
			}
			v := reflect.ValueOf(&buf[n]).Elem()
			for i, col := range cols {
				if index[i] < 0 {
					continue
				}
				if err := setters[i](rec.Column(index[i]), pos, v.Field(col.Index)); err != nil {
					return n, inputErr(path, col.Name, "row %d: %v", rowBase+int64(pos), err)
				}
			}
			pos++
			n++
		}
		return n, nil
	}
	r.close = func() error { return nil }
	return nil
}

// Table is the table the reader reads.
func (r *Reader[T]) Table() *schema.Table { return r.table }

// Path is the path the reader was opened with.
func (r *Reader[T]) Path() string { return r.src.path }

// NumRows is the number of rows, or -1 when unknown before reading (streams).
func (r *Reader[T]) NumRows() int64 {
	if r.src.format == formatParquet {
		return r.src.pq.NumRows()
	}
	return -1
}

// Read reads up to len(buf) rows. It returns io.EOF, with n == 0, at the end of the table.
func (r *Reader[T]) Read(buf []T) (int, error) { return r.read(buf) }

// All iterates over the remaining rows. On an error it yields the error once and stops.
func (r *Reader[T]) All() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		buf := make([]T, 1024)
		for {
			n, err := r.Read(buf)
			for i := range n {
				if !yield(buf[i], nil) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
		}
	}
}

// Hash returns the hex SHA-256 of the input's bytes. For stdin it covers what was read so far, so
// call it after reading to the end.
func (r *Reader[T]) Hash() (string, error) {
	if r.src.hasher != nil && !r.src.spooled {
		return hex.EncodeToString(r.src.hasher.Sum(nil)), nil
	}
	return HashFile(r.src.file.Name())
}

// Close releases the reader.
func (r *Reader[T]) Close() error {
	err := r.close()
	if cerr := r.src.close(); err == nil {
		err = cerr
	}
	return err
}

// ReadAll reads a whole table into memory.
func ReadAll[T schema.Row](path string, stdin io.Reader) ([]T, error) {
	r, err := Open[T](path, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows []T
	for row, err := range r.All() {
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// HashFile returns the hex SHA-256 of a file's content.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
