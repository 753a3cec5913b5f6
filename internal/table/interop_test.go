package table

import (
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// interopDir is set by scripts/interop.sh, which then checks the files with an independent reader
// (DuckDB): go test ./internal/table -run '^TestWriteInteropFixtures$' -args -interop-dir DIR
var interopDir = flag.String("interop-dir", "", "write Parquet interop fixtures and expected.json to this folder")

// interopRows is the number of rows of each fixture table.
const interopRows = 1000

// interopFixtures writes one fixture table per table; TestWriteInteropFixtures checks that none is missing.
var interopFixtures = map[string]func(t *testing.T, dir string) interopExpect{
	"prompts":     writeInteropFixture[schema.Prompt],
	"generations": writeInteropFixture[schema.Generation],
	"scores":      writeInteropFixture[schema.Score],
	"embeddings":  writeInteropFixture[schema.Embedding],
	"clusters":    writeInteropFixture[schema.Cluster],
	"centroids":   writeInteropFixture[schema.Centroid],
	"matches":     writeInteropFixture[schema.Match],
	"hypotheses":  writeInteropFixture[schema.Hypothesis],
	"validations": writeInteropFixture[schema.Validation],
	"truths":      writeInteropFixture[schema.Truth],
	"recovery":    writeInteropFixture[schema.RecoveryRow],
	"weightdiff":  writeInteropFixture[schema.WeightDiff],
	"lens":        writeInteropFixture[schema.LensRow],
}

// interopExpect is what another reader must find in one fixture file. Values are given as JSON the
// way DuckDB's Node API renders them (getRowObjectsJson): int64 as decimal strings, float32 widened
// exactly to float64, lists as arrays, nulls as null.
type interopExpect struct {
	Name        string          `json:"name"`
	File        string          `json:"file"`
	ID          string          `json:"id"` // value of the mbd.schema key/value metadata
	Rows        int             `json:"rows"`
	Columns     []interopColumn `json:"columns"`
	FirstColumn string          `json:"first_column"`
	FirstValue  any             `json:"first_value"`
	FirstRow    map[string]any  `json:"first_row"`
	Sums        []interopSum    `json:"sums"`         // every numeric scalar column
	Nulls       []interopCount  `json:"nulls"`        // every optional column
	ListLengths []interopCount  `json:"list_lengths"` // every list column: sum of the lengths
}

type interopColumn struct {
	Name string `json:"name"`
	Type string `json:"type"` // schema.Type.String(), e.g. "list<float32>", "optional int32"
}

type interopSum struct {
	Column string  `json:"column"`
	Sum    float64 `json:"sum"`             // sum of the non-null values, accumulated in float64
	Exact  string  `json:"exact,omitempty"` // exact decimal sum, for integer columns
}

type interopCount struct {
	Column string `json:"column"`
	Count  int64  `json:"count"`
}

func TestWriteInteropFixtures(t *testing.T) {
	if *interopDir == "" {
		t.Skip("no -interop-dir given (scripts/interop.sh sets it)")
	}
	dir := *interopDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Tables []interopExpect `json:"tables"`
	}
	for _, tab := range schema.All {
		f, ok := interopFixtures[tab.Name]
		if !ok {
			t.Errorf("no interop fixture for table %s", tab.Name)
			continue
		}
		out.Tables = append(out.Tables, f(t, dir))
	}
	if t.Failed() {
		return
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "expected.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeInteropFixture[T schema.Row](t *testing.T, dir string) interopExpect {
	t.Helper()
	var zero T
	tab := zero.Table()
	rows := tabletest.Rows[T](interopRows, 42)
	file := tab.Name + ".parquet"
	writeRows(t, filepath.Join(dir, file), nil, rows)

	cols := tab.Columns()
	e := interopExpect{
		Name:        tab.Name,
		File:        file,
		ID:          tab.ID(),
		Rows:        len(rows),
		FirstColumn: cols[0].Name,
		FirstRow:    map[string]any{},
		Sums:        []interopSum{},
		Nulls:       []interopCount{},
		ListLengths: []interopCount{},
	}
	first := reflect.ValueOf(&rows[0]).Elem()
	e.FirstValue = interopJSON(first.Field(cols[0].Index))
	for _, c := range cols {
		e.Columns = append(e.Columns, interopColumn{Name: c.Name, Type: c.Type.String()})
		e.FirstRow[c.Name] = interopJSON(first.Field(c.Index))
		var (
			sum   float64
			exact big.Int
			nulls int64
			lens  int64
		)
		for i := range rows {
			f := reflect.ValueOf(&rows[i]).Elem().Field(c.Index)
			if c.Optional {
				if f.IsNil() {
					nulls++
					continue
				}
				f = f.Elem()
			}
			if c.Type.List {
				lens += int64(f.Len())
				continue
			}
			switch c.Type.Kind {
			case schema.Int32, schema.Int64:
				sum += float64(f.Int())
				exact.Add(&exact, big.NewInt(f.Int()))
			case schema.Float32, schema.Float64:
				sum += f.Float()
			}
		}
		switch {
		case c.Type.List:
			e.ListLengths = append(e.ListLengths, interopCount{Column: c.Name, Count: lens})
		case c.Type.Kind == schema.Int32 || c.Type.Kind == schema.Int64:
			e.Sums = append(e.Sums, interopSum{Column: c.Name, Sum: sum, Exact: exact.String()})
		case c.Type.Kind == schema.Float32 || c.Type.Kind == schema.Float64:
			e.Sums = append(e.Sums, interopSum{Column: c.Name, Sum: sum})
		}
		if c.Optional {
			e.Nulls = append(e.Nulls, interopCount{Column: c.Name, Count: nulls})
		}
	}
	return e
}

// interopJSON renders a column value as DuckDB's Node API renders it in JSON form.
func interopJSON(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return interopJSON(v.Elem())
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = interopJSON(v.Index(i))
		}
		return out
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int32:
		return v.Int()
	case reflect.Int64:
		return strconv.FormatInt(v.Int(), 10) // beyond a JS number's exact range
	case reflect.Float32, reflect.Float64:
		return v.Float() // float32 widens exactly
	}
	panic("interop: unsupported kind " + v.Kind().String())
}
