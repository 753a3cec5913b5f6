// Package schema is the data contract of mbd: one Go struct per table that flows between the tools,
// each tied to a Table that names it and gives its major version.
//
// The structs are the single source of truth. Their `parquet` tags give the column names, their Go
// types the column types, and their `doc` tags the meaning of each column. The Markdown files in
// schemas/ are generated from them (go test ./internal/schema -update) and a test fails when the two
// drift apart.
//
// Column types form a small closed set: string, bool, int32, int64, float32, float64, lists of those
// (stored as 3-level Parquet LISTs / Arrow lists), and optional (nullable) scalars written as pointers.
// Readers in internal/table check a file's columns against this set and name the file, the column and
// the expected type when they disagree.
package schema

import (
	"fmt"
	"reflect"
	"strings"
)

// MetadataKey is the Parquet key/value metadata key (and Arrow schema metadata key) that records which
// table a file holds, as "name/vN".
const MetadataKey = "mbd.schema"

// Row is implemented by every table's row struct; it ties the Go type to its Table.
type Row interface {
	Table() *Table
}

// Table describes one kind of table.
type Table struct {
	Name    string // e.g. "generations"
	Version int    // major version: readers refuse files with a newer one
	Doc     string // what one row is, for schemas/NAME.md
	row     reflect.Type
	columns []Column
}

// ID is the value stored under MetadataKey, e.g. "generations/v1".
func (t *Table) ID() string { return fmt.Sprintf("%s/v%d", t.Name, t.Version) }

// Columns lists the table's columns in struct order.
func (t *Table) Columns() []Column { return t.columns }

// RowType is the Go struct type of one row.
func (t *Table) RowType() reflect.Type { return t.row }

// Column is one column of a table.
type Column struct {
	Name     string
	Type     Type
	Doc      string
	Index    int // field index in the row struct
	Optional bool
	// MayBeAbsent marks an optional column added to a table after files of its version were
	// written (struct tag absent:"null"): readers read it as null in a file that lacks it.
	MayBeAbsent bool
}

// Kind is the scalar kind of a column (or of a list's elements).
type Kind int

const (
	String Kind = iota + 1
	Bool
	Int32
	Int64
	Float32
	Float64
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Bool:
		return "bool"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return "invalid"
}

// Type is a column type: a scalar kind, a list of a scalar kind, optionally nullable.
type Type struct {
	Kind     Kind
	List     bool
	Optional bool
}

// String renders the type as the docs and error messages show it: "int32", "list<float32>",
// "optional float64".
func (t Type) String() string {
	s := t.Kind.String()
	if t.List {
		s = "list<" + s + ">"
	}
	if t.Optional {
		s = "optional " + s
	}
	return s
}

// ParseTable returns the table name and major version from a MetadataKey value such as "generations/v1".
func ParseTable(id string) (name string, version int, err error) {
	name, v, ok := strings.Cut(id, "/v")
	if !ok || name == "" {
		return "", 0, fmt.Errorf("malformed schema id %q (want NAME/vN)", id)
	}
	if _, err := fmt.Sscanf(v, "%d", &version); err != nil || fmt.Sprint(version) != v {
		return "", 0, fmt.Errorf("malformed schema version in %q (want NAME/vN)", id)
	}
	return name, version, nil
}

// Lookup returns the table with the given name, or nil.
func Lookup(name string) *Table {
	for _, t := range All {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func newTable[T Row](name string, version int, doc string) *Table {
	t := &Table{Name: name, Version: version, Doc: doc}
	t.row = reflect.TypeFor[T]()
	for i := range t.row.NumField() {
		f := t.row.Field(i)
		tag := f.Tag.Get("parquet")
		colName, _, _ := strings.Cut(tag, ",")
		if colName == "" || colName == "-" {
			panic(fmt.Sprintf("schema: %s.%s has no parquet column name", t.row.Name(), f.Name))
		}
		typ, err := typeOf(f.Type)
		if err != nil {
			panic(fmt.Sprintf("schema: %s.%s: %v", t.row.Name(), f.Name, err))
		}
		if typ.Optional != strings.Contains(tag, ",optional") {
			panic(fmt.Sprintf("schema: %s.%s: pointer fields and only they must be tagged optional", t.row.Name(), f.Name))
		}
		doc := f.Tag.Get("doc")
		if doc == "" {
			panic(fmt.Sprintf("schema: %s.%s has no doc tag", t.row.Name(), f.Name))
		}
		absent := false
		switch a := f.Tag.Get("absent"); a {
		case "":
		case "null":
			if !typ.Optional {
				panic(fmt.Sprintf("schema: %s.%s: only optional columns may be absent", t.row.Name(), f.Name))
			}
			absent = true
		default:
			panic(fmt.Sprintf("schema: %s.%s: absent tag %q, want null", t.row.Name(), f.Name, a))
		}
		t.columns = append(t.columns, Column{Name: colName, Type: typ, Doc: doc, Index: i, Optional: typ.Optional, MayBeAbsent: absent})
	}
	return t
}

func typeOf(rt reflect.Type) (Type, error) {
	var t Type
	if rt.Kind() == reflect.Pointer {
		t.Optional = true
		rt = rt.Elem()
	}
	if rt.Kind() == reflect.Slice {
		if t.Optional {
			return t, fmt.Errorf("optional lists are not supported")
		}
		t.List = true
		rt = rt.Elem()
	}
	switch rt.Kind() {
	case reflect.String:
		t.Kind = String
	case reflect.Bool:
		t.Kind = Bool
	case reflect.Int32:
		t.Kind = Int32
	case reflect.Int64:
		t.Kind = Int64
	case reflect.Float32:
		t.Kind = Float32
	case reflect.Float64:
		t.Kind = Float64
	default:
		return t, fmt.Errorf("unsupported Go type %s", rt)
	}
	return t, nil
}
