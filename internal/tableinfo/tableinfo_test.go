package tableinfo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
)

func i32(v int32) *int32 { return &v }

// matches are two regions: one with every optional column set, one with none and a NaN.
var matches = []schema.Match{
	{Region: 0, Rank: 1, Category: "shifted", ClusterA: i32(2), ClusterB: i32(3), CountA: 4, CountB: 9, P: 0.01, SampleIDs: []string{"g1", "g2"}},
	{Region: 1, Rank: 2, Category: "only-in-A", ClusterA: i32(5), CountA: 7, P: math.NaN(), Q: math.Inf(1)},
}

func TestValues(t *testing.T) {
	v := Values(schema.Matches, matches[1])
	cols := schema.Matches.Columns()
	if len(v) != len(cols) {
		t.Fatalf("%d values for %d columns", len(v), len(cols))
	}
	byName := map[string]any{}
	for i, c := range cols {
		byName[c.Name] = v[i]
	}
	if byName["cluster_a"] != int32(5) || byName["cluster_b"] != nil || byName["similarity"] != nil || byName["category"] != "only-in-A" {
		t.Errorf("values %v", byName)
	}
	if ids, ok := byName["sample_ids"].([]string); !ok || len(ids) != 0 {
		t.Errorf("sample_ids %#v", byName["sample_ids"])
	}
}

func TestRowWriter(t *testing.T) {
	p := schema.Prompt{ID: "p1", Text: "a \"quoted\", text\nwith a line", Source: "s", Split: schema.SplitDiscovery}
	for _, tc := range []struct {
		format  string
		columns []string
		rows    []schema.Row
		want    string
	}{
		{JSONL, nil, []schema.Row{p}, `{"id":"p1","text":"a \"quoted\", text\nwith a line","source":"s","category":"","split":"discovery"}` + "\n"},
		{CSV, nil, []schema.Row{p}, "id,text,source,category,split\np1,\"a \"\"quoted\"\", text\nwith a line\",s,,discovery\n"},
		{CSV, nil, nil, "id,text,source,category,split\n"},
		{JSONL, nil, nil, ""},
		{CSV, []string{"split", "id"}, []schema.Row{p}, "split,id\ndiscovery,p1\n"},
		{JSONL, []string{"split", "id"}, []schema.Row{p}, `{"split":"discovery","id":"p1"}` + "\n"},
	} {
		var b bytes.Buffer
		w, err := NewRowWriter(&b, schema.Prompts, tc.format, tc.columns...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tc.rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s of %d rows:\n%q\nwant\n%q", tc.format, len(tc.rows), b.String(), tc.want)
		}
	}
	if _, err := NewRowWriter(&bytes.Buffer{}, schema.Prompts, "xml"); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := NewRowWriter(&bytes.Buffer{}, schema.Prompts, CSV, "id", "answer"); err == nil || !strings.Contains(err.Error(), `no column "answer"`) {
		t.Errorf("unknown column: err = %v", err)
	}
}

func TestRowWriterNullsListsAndNaN(t *testing.T) {
	var j, c bytes.Buffer
	jw, _ := NewRowWriter(&j, schema.Matches, JSONL)
	cw, _ := NewRowWriter(&c, schema.Matches, CSV)
	for _, m := range matches {
		if err := jw.Write(m); err != nil {
			t.Fatal(err)
		}
		if err := cw.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	cw.Flush()
	lines := strings.Split(strings.TrimSuffix(j.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatalf("a NaN row is not valid JSON: %v\n%s", err, lines[1])
	}
	if fmt.Sprint(first["sample_ids"]) != "[g1 g2]" || first["cluster_b"] != float64(3) {
		t.Errorf("first row %v", first)
	}
	if second["cluster_b"] != nil || second["p"] != "NaN" || second["q"] != "+Inf" {
		t.Errorf("second row %v", second)
	}
	if !strings.HasPrefix(lines[0], `{"region":0,"rank":1,`) {
		t.Errorf("keys out of column order: %s", lines[0])
	}
	if !strings.Contains(c.String(), `"[""g1"",""g2""]"`) || !strings.Contains(c.String(), ",NaN,+Inf,") {
		t.Errorf("CSV:\n%s", c.String())
	}
}

func TestSummary(t *testing.T) {
	s := NewStats(schema.Matches)
	for _, m := range matches {
		s.Add(m)
	}
	sum := s.Summary("-")
	if sum.Path != "<stdin>" || sum.Table != schema.Matches.ID() || sum.Rows != 2 {
		t.Fatalf("summary %+v", sum)
	}
	col := map[string]ColumnSummary{}
	for _, c := range sum.Columns {
		col[c.Name] = c
	}
	if c := col["count_a"]; *c.Min != 4 || *c.Max != 7 || *c.Mean != 5.5 || c.MeanLen != nil {
		t.Errorf("count_a %+v", c)
	}
	if c := col["cluster_b"]; c.Nulls != 1 || *c.Min != 3 {
		t.Errorf("cluster_b %+v", c)
	}
	if c := col["category"]; c.Distinct != 2 || !reflect.DeepEqual(c.Top, map[string]int{"shifted": 1, "only-in-A": 1}) || *c.MeanLen != 8 {
		t.Errorf("category %+v", c)
	}
	if c := col["sample_ids"]; *c.MeanLen != 1 || c.Min != nil {
		t.Errorf("sample_ids %+v", c)
	}
	if c := col["similarity"]; c.Nulls != 2 || c.Min != nil || c.Mean != nil {
		t.Errorf("similarity (all null) %+v", c)
	}
	var b bytes.Buffer
	if err := sum.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<stdin>: matches/v1, 2 rows\n", `"only-in-A"=1 "shifted"=1, mean length 8.0 bytes`, "min 4 mean 5.5 max 7", "mean length 1.0 elements"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, b.String())
		}
	}
}

func TestDescribe(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		c    ColumnSummary
		want string
	}{
		{ColumnSummary{Type: "string", Top: map[string]int{"b": 1, "a": 1, "c": 3}, Distinct: 3, MeanLen: f(1)}, `"c"=3 "a"=1 "b"=1, mean length 1.0 bytes`},
		{ColumnSummary{Type: "string", Distinct: MaxDistinct + 1, MeanLen: f(2.25)}, ">12 distinct, mean length 2.2 bytes"},
		{ColumnSummary{Type: "list<float>", MeanLen: f(64)}, "mean length 64.0 elements"},
		{ColumnSummary{Type: "double", Min: f(-1), Mean: f(0.5), Max: f(2)}, "min -1 mean 0.5 max 2"},
		{ColumnSummary{Type: "double"}, ""},
	} {
		if got := Describe(tc.c); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestDistinctIsBounded(t *testing.T) {
	s := NewStats(schema.Prompts)
	for i := range 1000 {
		s.Add(schema.Prompt{ID: fmt.Sprint(i), Split: schema.SplitDiscovery})
	}
	for _, c := range s.Summary("p.parquet").Columns {
		switch c.Name {
		case "id":
			if c.Distinct != MaxDistinct+1 || c.Top != nil {
				t.Errorf("id: distinct %d, top %v", c.Distinct, c.Top)
			}
		case "split":
			if c.Distinct != 1 || c.Top[schema.SplitDiscovery] != 1000 {
				t.Errorf("split %+v", c)
			}
		}
	}
}
