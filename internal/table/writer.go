package table

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"runtime"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/version"
)

// Bounds on buffered data. A Parquet row group is cut at MaxRowGroupRows rows or when its raw data
// reaches MaxRowGroupBytes, whichever comes first; an Arrow record batch at ArrowBatchRows rows or
// ArrowBatchBytes. Together they keep a writer's memory bounded whatever the table's length.
const (
	MaxRowGroupRows  = 65536
	MaxRowGroupBytes = 64 << 20
	ArrowBatchRows   = 4096
	ArrowBatchBytes  = 8 << 20
)

// Writer writes the rows of one table: a Parquet file written atomically, or an Arrow IPC stream
// when the path is "-".
type Writer[T schema.Row] struct {
	path    string
	table   *schema.Table
	rows    int64
	pending int64 // raw bytes buffered since the last flush
	size    func(reflect.Value) int64

	// Parquet
	file  *atomicfile.File
	buf   *bufio.Writer
	pq    *parquet.GenericWriter[T]
	chunk []T // rows not yet handed to pq

	// Arrow
	aw        *ipc.Writer
	builder   *array.RecordBuilder
	appenders []appendFunc
	stdout    io.Writer

	done bool
}

// Create starts writing a table of row type T to path, or to stdout as an Arrow IPC stream when path
// is "-". Nothing appears under path until Commit; Abort (safe to defer) discards everything.
func Create[T schema.Row](path string, stdout io.Writer) (*Writer[T], error) {
	var zero T
	t := zero.Table()
	w := &Writer[T]{path: path, table: t, size: rowSizer(t)}
	if path == "-" {
		if stdout == nil {
			return nil, fmt.Errorf("write %s table to stdout: no standard output", t.Name)
		}
		s := arrowSchema(t)
		w.stdout = stdout
		w.aw = ipc.NewWriter(stdout, ipc.WithSchema(s))
		w.builder = array.NewRecordBuilder(memory.DefaultAllocator, s)
		for _, c := range t.Columns() {
			w.appenders = append(w.appenders, appenderFor(c.Type))
		}
		return w, nil
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	w.file = f
	w.buf = bufio.NewWriterSize(f, 1<<20)
	w.pq = parquet.NewGenericWriter[T](w.buf,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(MaxRowGroupRows),
		parquet.KeyValueMetadata(schema.MetadataKey, t.ID()),
		parquet.CreatedBy("mbd", version.String()+" ", runtime.Version()), // the library omits the space
	)
	return w, nil
}

// Path is the final path ("-" for stdout).
func (w *Writer[T]) Path() string { return w.path }

// Rows is the number of rows written so far.
func (w *Writer[T]) Rows() int64 { return w.rows + int64(len(w.chunk)) }

// Table is the table being written.
func (w *Writer[T]) Table() *schema.Table { return w.table }

// Write appends rows.
func (w *Writer[T]) Write(rows ...T) error {
	if w.done {
		return fmt.Errorf("write %s: writer already closed", w.path)
	}
	if w.aw != nil {
		return w.writeArrow(rows)
	}
	// Rows reach Parquet in chunks of parquetChunk whatever the caller's batching: parquet-go cuts
	// pages per call, so this keeps the file's bytes a function of the rows alone (determinism).
	for i := range rows {
		w.chunk = append(w.chunk, rows[i])
		w.pending += w.size(reflect.ValueOf(&rows[i]).Elem())
		if len(w.chunk) == parquetChunk {
			if err := w.flushChunk(); err != nil {
				return err
			}
		}
	}
	return nil
}

const parquetChunk = 1024

// flushChunk writes the buffered rows and cuts the row group when its data reached the bound.
func (w *Writer[T]) flushChunk() error {
	if _, err := w.pq.Write(w.chunk); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.rows += int64(len(w.chunk))
	clear(w.chunk) // drop references to the caller's strings
	w.chunk = w.chunk[:0]
	if w.pending >= MaxRowGroupBytes {
		if err := w.pq.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
		w.pending = 0
	}
	return nil
}

func (w *Writer[T]) writeArrow(rows []T) error {
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		w.pending += w.size(v)
		for j, c := range w.table.Columns() {
			w.appenders[j](w.builder.Field(j), v.Field(c.Index))
		}
		w.rows++
		if w.builder.Field(0).Len() >= ArrowBatchRows || w.pending >= ArrowBatchBytes {
			if err := w.flushArrow(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer[T]) flushArrow() error {
	rec := w.builder.NewRecordBatch()
	defer rec.Release()
	w.pending = 0
	if rec.NumRows() == 0 {
		return nil
	}
	if err := w.aw.Write(rec); err != nil {
		return fmt.Errorf("write %s table to stdout: %w", w.table.Name, err)
	}
	return nil
}

// Commit finishes the table: the Parquet footer is written and the file moved to its final name, or
// the Arrow stream's end marker is written.
func (w *Writer[T]) Commit() error {
	if w.done {
		return fmt.Errorf("commit %s: writer already closed", w.path)
	}
	w.done = true
	if w.aw != nil {
		defer w.builder.Release()
		if err := w.flushArrow(); err != nil {
			return err
		}
		if err := w.aw.Close(); err != nil {
			return fmt.Errorf("write %s table to stdout: %w", w.table.Name, err)
		}
		return nil
	}
	if err := w.flushChunk(); err != nil {
		w.file.Abort()
		return err
	}
	if err := w.pq.Close(); err != nil {
		w.file.Abort()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.buf.Flush(); err != nil {
		w.file.Abort()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return w.file.Commit()
}

// Abort discards the table. On a file nothing is left behind. On a stream, which cannot be taken
// back, it writes a deliberately malformed message so that the reader fails instead of taking the
// rows so far for a whole table. Abort does nothing after Commit.
func (w *Writer[T]) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.aw != nil {
		w.builder.Release()
		// Continuation marker, then a metadata length that is not a multiple of 8 and no body: every
		// IPC reader rejects it.
		w.stdout.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00, 0x00, 'a', 'b', 'o', 'r', 't', 'e', 'd'})
		return
	}
	w.file.Abort()
}

// rowSizer estimates the raw size of a row, to bound buffered data.
func rowSizer(t *schema.Table) func(reflect.Value) int64 {
	cols := t.Columns()
	return func(v reflect.Value) int64 {
		var n int64
		for _, c := range cols {
			f := v.Field(c.Index)
			switch {
			case c.Type.List && c.Type.Kind == schema.String:
				for i := range f.Len() {
					n += int64(f.Index(i).Len()) + 4
				}
			case c.Type.List:
				n += int64(f.Len()) * 8
			case c.Type.Kind == schema.String && !c.Optional:
				n += int64(f.Len())
			default:
				n += 8
			}
		}
		return n
	}
}
