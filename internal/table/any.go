package table

import (
	"fmt"
	"io"

	"github.com/mbd-dev/mbd/internal/schema"
)

// AnyReader reads a table whose kind is known only at run time (from its metadata or a flag), for
// tools such as mbd-table that handle every table.
type AnyReader interface {
	Table() *schema.Table
	Path() string
	NumRows() int64
	// Next returns the next row, or io.EOF after the last.
	Next() (schema.Row, error)
	Hash() (string, error)
	Close() error
}

// AnyWriter writes rows of a table chosen at run time.
type AnyWriter interface {
	Table() *schema.Table
	Path() string
	Rows() int64
	Write(schema.Row) error
	Commit() error
	Abort()
}

type kind struct {
	open   func(*source) (AnyReader, error)
	create func(path string, stdout io.Writer) (AnyWriter, error)
}

var kinds = map[string]kind{}

func register[T schema.Row]() {
	var zero T
	kinds[zero.Table().Name] = kind{
		open: func(src *source) (AnyReader, error) {
			r, err := newReader[T](src)
			if err != nil {
				return nil, err
			}
			return &anyReader[T]{Reader: r, buf: make([]T, 256)}, nil
		},
		create: func(path string, stdout io.Writer) (AnyWriter, error) {
			w, err := Create[T](path, stdout)
			if err != nil {
				return nil, err
			}
			return anyWriter[T]{w}, nil
		},
	}
}

func init() {
	register[schema.Prompt]()
	register[schema.Generation]()
	register[schema.Score]()
	register[schema.Embedding]()
	register[schema.Cluster]()
	register[schema.Centroid]()
	register[schema.Match]()
	register[schema.Hypothesis]()
	register[schema.Validation]()
	register[schema.Truth]()
	register[schema.RecoveryRow]()
	register[schema.WeightDiff]()
	register[schema.LensRow]()
}

// OpenAny opens a table of any kind. The kind comes from the file's mbd.schema metadata, or from
// tableName when the file has none; when both are given they must agree.
func OpenAny(path string, stdin io.Reader, tableName string) (AnyReader, error) {
	src, err := openSource(path, stdin)
	if err != nil {
		return nil, err
	}
	name := tableName
	if src.schemaID != "" {
		n, _, err := schema.ParseTable(src.schemaID)
		if err != nil {
			src.close()
			return nil, inputErr(path, "", "metadata %s: %v", schema.MetadataKey, err)
		}
		if name == "" {
			name = n
		}
	}
	if name == "" {
		src.close()
		return nil, inputErr(path, "", "has no %s metadata: name the table it holds (one of %s)", schema.MetadataKey, Names())
	}
	k, ok := kinds[name]
	if !ok {
		src.close()
		return nil, inputErr(path, "", "unknown table %q (want one of %s)", name, Names())
	}
	r, err := k.open(src)
	if err != nil {
		src.close()
		return nil, err
	}
	return r, nil
}

// CreateAny starts writing a table of the given kind; see Create.
func CreateAny(t *schema.Table, path string, stdout io.Writer) (AnyWriter, error) {
	k, ok := kinds[t.Name]
	if !ok {
		return nil, fmt.Errorf("unknown table %q", t.Name)
	}
	return k.create(path, stdout)
}

// Names lists the table kinds, for messages: "prompts, generations, ...".
func Names() string {
	s := ""
	for i, t := range schema.All {
		if i > 0 {
			s += ", "
		}
		s += t.Name
	}
	return s
}

type anyReader[T schema.Row] struct {
	*Reader[T]
	buf    []T
	pos, n int
	err    error // returned once the buffered rows are used up
}

func (r *anyReader[T]) Next() (schema.Row, error) {
	if r.pos >= r.n {
		if r.err != nil {
			return nil, r.err
		}
		n, err := r.Read(r.buf)
		if err == nil && n == 0 {
			err = io.EOF
		}
		r.pos, r.n, r.err = 0, n, err
		if n == 0 {
			return nil, err
		}
	}
	row := r.buf[r.pos]
	r.pos++
	return row, nil
}

type anyWriter[T schema.Row] struct{ *Writer[T] }

func (w anyWriter[T]) Write(row schema.Row) error {
	t, ok := row.(T)
	if !ok {
		return fmt.Errorf("write %s: got a %s row, want %s", w.path, row.Table().Name, w.table.Name)
	}
	return w.Writer.Write(t)
}
