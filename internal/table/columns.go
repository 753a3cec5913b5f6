package table

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/mbd-dev/mbd/internal/schema"
)

// foundType describes a column as found in a file, in the vocabulary of schema.Type. Unknown is set
// when the file's type has no schema.Type equivalent; it then holds the file's own name for it.
type foundType struct {
	schema.Type
	ElemOptional bool // a list whose elements may be null
	Unknown      string
}

func (f foundType) String() string {
	if f.Unknown != "" {
		return f.Unknown
	}
	return f.Type.String()
}

// compatible reports whether a column of type found can be read into a column of type want.
// Nullable storage of a required column is allowed (DuckDB and pandas write everything nullable);
// nulls in it are caught when reading.
func compatible(want schema.Type, found foundType) bool {
	return found.Unknown == "" && found.Kind == want.Kind && found.List == want.List
}

func checkColumn(path string, col schema.Column, found foundType, ok bool) error {
	if !ok {
		return inputErr(path, col.Name, "missing (want %s)", col.Type)
	}
	if !compatible(col.Type, found) {
		return inputErr(path, col.Name, "has type %s, want %s", found, col.Type)
	}
	return nil
}

// parquetType maps a Parquet schema node to a foundType.
func parquetType(n parquet.Node) foundType {
	var f foundType
	f.Optional = n.Optional()
	if !n.Leaf() {
		// 3-level LIST: group (LIST) { repeated group list { element } }; 2-level: group { repeated leaf }.
		fields := n.Fields()
		if len(fields) == 1 && fields[0].Repeated() {
			inner := fields[0]
			elem := parquet.Node(inner)
			if !inner.Leaf() {
				if len(inner.Fields()) != 1 {
					return foundType{Unknown: "group"}
				}
				elem = inner.Fields()[0]
			}
			if !elem.Leaf() {
				return foundType{Unknown: "nested list"}
			}
			e := leafType(elem)
			e.List, e.Optional, e.ElemOptional = true, f.Optional, elem.Optional()
			return e
		}
		return foundType{Unknown: "group"}
	}
	if n.Repeated() {
		e := leafType(n)
		e.List = true
		return e
	}
	e := leafType(n)
	e.Optional = f.Optional
	return e
}

func leafType(n parquet.Node) foundType {
	var f foundType
	t := n.Type()
	switch t.Kind() {
	case parquet.Boolean:
		f.Kind = schema.Bool
	case parquet.Int32:
		f.Kind = schema.Int32
		if it := intType(t); it != nil && (it.BitWidth != 32 || !it.IsSigned) {
			return foundType{Unknown: fmt.Sprintf("int%d (signed=%v)", it.BitWidth, it.IsSigned)}
		}
	case parquet.Int64:
		f.Kind = schema.Int64
		if it := intType(t); it != nil && !it.IsSigned {
			return foundType{Unknown: "uint64"}
		}
	case parquet.Float:
		f.Kind = schema.Float32
	case parquet.Double:
		f.Kind = schema.Float64
	case parquet.ByteArray:
		f.Kind = schema.String
	default:
		return foundType{Unknown: strings.ToLower(t.String())}
	}
	return f
}

func intType(t parquet.Type) *format.IntType {
	if lt := t.LogicalType(); lt != nil {
		it, _ := lt.Value.(*format.IntType)
		return it
	}
	return nil
}

// arrowType maps an Arrow field to a foundType.
func arrowType(field arrow.Field) foundType {
	var f foundType
	f.Optional = field.Nullable
	dt := field.Type
	if l, ok := dt.(*arrow.ListType); ok {
		f.List = true
		f.ElemOptional = l.ElemField().Nullable
		dt = l.Elem()
	}
	switch dt.ID() {
	case arrow.STRING:
		f.Kind = schema.String
	case arrow.BOOL:
		f.Kind = schema.Bool
	case arrow.INT32:
		f.Kind = schema.Int32
	case arrow.INT64:
		f.Kind = schema.Int64
	case arrow.FLOAT32:
		f.Kind = schema.Float32
	case arrow.FLOAT64:
		f.Kind = schema.Float64
	default:
		return foundType{Unknown: field.Type.String()}
	}
	return f
}

// arrowDataType is the Arrow type mbd writes for a column type.
func arrowDataType(t schema.Type) arrow.DataType {
	var dt arrow.DataType
	switch t.Kind {
	case schema.String:
		dt = arrow.BinaryTypes.String
	case schema.Bool:
		dt = arrow.FixedWidthTypes.Boolean
	case schema.Int32:
		dt = arrow.PrimitiveTypes.Int32
	case schema.Int64:
		dt = arrow.PrimitiveTypes.Int64
	case schema.Float32:
		dt = arrow.PrimitiveTypes.Float32
	case schema.Float64:
		dt = arrow.PrimitiveTypes.Float64
	}
	if t.List {
		return arrow.ListOfNonNullable(dt)
	}
	return dt
}

// arrowSchema is the Arrow schema mbd writes for a table.
func arrowSchema(t *schema.Table) *arrow.Schema {
	var fields []arrow.Field
	for _, c := range t.Columns() {
		fields = append(fields, arrow.Field{Name: c.Name, Type: arrowDataType(c.Type), Nullable: c.Optional})
	}
	md := arrow.NewMetadata([]string{schema.MetadataKey}, []string{t.ID()})
	return arrow.NewSchema(fields, &md)
}

// checkSchemaID checks the table id a file declares (empty when it declares none).
func checkSchemaID(path string, want *schema.Table, id string) error {
	if id == "" {
		return nil
	}
	name, version, err := schema.ParseTable(id)
	if err != nil {
		return inputErr(path, "", "metadata %s: %v", schema.MetadataKey, err)
	}
	if name != want.Name {
		return inputErr(path, "", "holds a %s table, want a %s table", id, want.ID())
	}
	if version > want.Version {
		return inputErr(path, "", "holds %s, newer than this mbd reads (%s); upgrade mbd", id, want.ID())
	}
	return nil
}
