package table

import (
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mbd-dev/mbd/internal/schema"
)

// appendFunc appends the value of one struct field to an Arrow builder.
type appendFunc func(b array.Builder, field reflect.Value)

// setFunc stores row i of an Arrow column into one struct field. It fails on a null in a required
// column.
type setFunc func(a arrow.Array, i int, field reflect.Value) error

func appenderFor(t schema.Type) appendFunc {
	if t.List {
		elem := scalarAppender(t.Kind)
		return func(b array.Builder, v reflect.Value) {
			lb := b.(*array.ListBuilder)
			lb.Append(true)
			vb := lb.ValueBuilder()
			for i := range v.Len() {
				elem(vb, v.Index(i))
			}
		}
	}
	scalar := scalarAppender(t.Kind)
	if t.Optional {
		return func(b array.Builder, v reflect.Value) {
			if v.IsNil() {
				b.AppendNull()
				return
			}
			scalar(b, v.Elem())
		}
	}
	return scalar
}

func scalarAppender(k schema.Kind) appendFunc {
	switch k {
	case schema.String:
		return func(b array.Builder, v reflect.Value) { b.(*array.StringBuilder).Append(v.String()) }
	case schema.Bool:
		return func(b array.Builder, v reflect.Value) { b.(*array.BooleanBuilder).Append(v.Bool()) }
	case schema.Int32:
		return func(b array.Builder, v reflect.Value) { b.(*array.Int32Builder).Append(int32(v.Int())) }
	case schema.Int64:
		return func(b array.Builder, v reflect.Value) { b.(*array.Int64Builder).Append(v.Int()) }
	case schema.Float32:
		return func(b array.Builder, v reflect.Value) { b.(*array.Float32Builder).Append(float32(v.Float())) }
	case schema.Float64:
		return func(b array.Builder, v reflect.Value) { b.(*array.Float64Builder).Append(v.Float()) }
	}
	panic(fmt.Sprintf("table: no Arrow appender for %v", k))
}

// setterFor returns the decoder of one column; the column's Arrow type has been checked by compatible.
func setterFor(t schema.Type) setFunc {
	scalar := scalarSetter(t.Kind)
	if t.List {
		return func(a arrow.Array, i int, v reflect.Value) error {
			if a.IsNull(i) {
				return fmt.Errorf("null list in a required column")
			}
			l := a.(*array.List)
			start, end := l.ValueOffsets(i)
			values := l.ListValues()
			s := reflect.MakeSlice(v.Type(), int(end-start), int(end-start))
			for j := start; j < end; j++ {
				if values.IsNull(int(j)) {
					return fmt.Errorf("null element in list")
				}
				scalar(values, int(j), s.Index(int(j-start)))
			}
			v.Set(s)
			return nil
		}
	}
	if t.Optional {
		return func(a arrow.Array, i int, v reflect.Value) error {
			if a.IsNull(i) {
				v.Set(reflect.Zero(v.Type()))
				return nil
			}
			p := reflect.New(v.Type().Elem())
			scalar(a, i, p.Elem())
			v.Set(p)
			return nil
		}
	}
	return func(a arrow.Array, i int, v reflect.Value) error {
		if a.IsNull(i) {
			return fmt.Errorf("null in a required column")
		}
		scalar(a, i, v)
		return nil
	}
}

func scalarSetter(k schema.Kind) func(a arrow.Array, i int, v reflect.Value) {
	switch k {
	case schema.String:
		return func(a arrow.Array, i int, v reflect.Value) { v.SetString(a.(*array.String).Value(i)) }
	case schema.Bool:
		return func(a arrow.Array, i int, v reflect.Value) { v.SetBool(a.(*array.Boolean).Value(i)) }
	case schema.Int32:
		return func(a arrow.Array, i int, v reflect.Value) { v.SetInt(int64(a.(*array.Int32).Value(i))) }
	case schema.Int64:
		return func(a arrow.Array, i int, v reflect.Value) { v.SetInt(a.(*array.Int64).Value(i)) }
	case schema.Float32:
		return func(a arrow.Array, i int, v reflect.Value) { v.SetFloat(float64(a.(*array.Float32).Value(i))) }
	case schema.Float64:
		return func(a arrow.Array, i int, v reflect.Value) { v.SetFloat(a.(*array.Float64).Value(i)) }
	}
	panic(fmt.Sprintf("table: no Arrow setter for %v", k))
}
