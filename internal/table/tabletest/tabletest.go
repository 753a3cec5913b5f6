// Package tabletest makes deterministic rows of any mbd table for tests, fuzz seeds and interop
// fixtures.
package tabletest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"

	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/schema"
)

// Rows returns n rows of type T filled from a seeded generator: strings of varying length (including
// empty and non-ASCII), lists of 0-5 elements, and nulls in about a quarter of the optional values.
func Rows[T schema.Row](n int, seed uint64) []T {
	rows := make([]T, n)
	r := rand.New(rand.NewPCG(seed, 0x6d6264))
	var zero T
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for _, c := range zero.Table().Columns() {
			fill(r, v.Field(c.Index), c.Type, c.Name, i)
		}
	}
	return rows
}

var words = []string{"the", "model", "answers", "politely", "café", "Ωmega", "naïve", "", "x", "pirate", "ship", "42"}

func fill(r *rand.Rand, v reflect.Value, t schema.Type, name string, row int) {
	if t.Optional {
		if r.IntN(4) == 0 {
			return // null
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem(), schema.Type{Kind: t.Kind}, name, row)
		v.Set(p)
		return
	}
	if t.List {
		n := r.IntN(6)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i), schema.Type{Kind: t.Kind}, name, row)
		}
		v.Set(s)
		return
	}
	switch t.Kind {
	case schema.String:
		s := fmt.Sprintf("%s-%d", name, row)
		for range r.IntN(8) {
			s += " " + words[r.IntN(len(words))]
		}
		v.SetString(s)
	case schema.Bool:
		v.SetBool(r.IntN(2) == 1)
	case schema.Int32:
		v.SetInt(int64(r.Int32N(1000)) - 100)
	case schema.Int64:
		v.SetInt(r.Int64() - 1<<62)
	case schema.Float32:
		v.SetFloat(float64(r.Float32()*2 - 1))
	case schema.Float64:
		v.SetFloat(r.NormFloat64())
	}
}

// WriteForeign writes rows of any struct type to a new Parquet file at path straight through
// parquet-go, as another tool would, with mbd.schema = schemaID in its metadata (none when "").
func WriteForeign[T any](path string, rows []T, schemaID string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var opts []parquet.WriterOption
	if schemaID != "" {
		opts = append(opts, parquet.KeyValueMetadata(schema.MetadataKey, schemaID))
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	if _, err := w.Write(rows); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}
