package table

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// roundTrips holds one round-trip test per table; TestRoundTripEveryTable checks that none is missing.
var roundTrips = map[string]func(t *testing.T){
	"prompts":     roundTrip[schema.Prompt],
	"generations": roundTrip[schema.Generation],
	"scores":      roundTrip[schema.Score],
	"embeddings":  roundTrip[schema.Embedding],
	"clusters":    roundTrip[schema.Cluster],
	"centroids":   roundTrip[schema.Centroid],
	"matches":     roundTrip[schema.Match],
	"hypotheses":  roundTrip[schema.Hypothesis],
	"validations": roundTrip[schema.Validation],
	"truths":      roundTrip[schema.Truth],
	"recovery":    roundTrip[schema.RecoveryRow],
	"weightdiff":  roundTrip[schema.WeightDiff],
	"lens":        roundTrip[schema.LensRow],
}

func TestRoundTripEveryTable(t *testing.T) {
	for _, tab := range schema.All {
		f, ok := roundTrips[tab.Name]
		if !ok {
			t.Errorf("no round-trip test for table %s", tab.Name)
			continue
		}
		t.Run(tab.Name, f)
	}
}

// roundTrip writes rows through Parquet and through an Arrow IPC stream, reads them back (typed and
// untyped) and requires equality, then converts the stream to Parquet as `tool -o - | tool2 -` would.
func roundTrip[T schema.Row](t *testing.T) {
	rows := tabletest.Rows[T](5000, 1)
	dir := t.TempDir()

	path := filepath.Join(dir, "t.parquet")
	writeRows(t, path, nil, rows)
	got, err := ReadAll[T](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, "parquet", rows, got)

	// Byte-identical output for identical rows (determinism).
	path2 := filepath.Join(dir, "t2.parquet")
	writeRows(t, path2, nil, rows)
	b1, _ := os.ReadFile(path)
	b2, _ := os.ReadFile(path2)
	if !bytes.Equal(b1, b2) {
		t.Error("writing the same rows twice gave different files")
	}

	var stream bytes.Buffer
	writeRows(t, "-", &stream, rows)
	streamBytes := stream.Bytes()
	got, err = ReadAll[T]("-", bytes.NewReader(streamBytes))
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, "arrow", rows, got)

	// The stream saved to a file is readable too, as is Parquet on stdin.
	arrowPath := filepath.Join(dir, "t.arrows")
	os.WriteFile(arrowPath, streamBytes, 0o644)
	if got, err = ReadAll[T](arrowPath, nil); err != nil {
		t.Fatal(err)
	}
	assertRows(t, "arrow file", rows, got)
	if got, err = ReadAll[T]("-", bytes.NewReader(b1)); err != nil {
		t.Fatal(err)
	}
	assertRows(t, "parquet on stdin", rows, got)

	// Untyped: stream → AnyReader → AnyWriter → Parquet.
	ar, err := OpenAny("-", bytes.NewReader(streamBytes), "")
	if err != nil {
		t.Fatal(err)
	}
	var zero T
	if ar.Table() != zero.Table() {
		t.Fatalf("OpenAny found table %s", ar.Table().Name)
	}
	conv := filepath.Join(dir, "conv.parquet")
	aw, err := CreateAny(ar.Table(), conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		row, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := aw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := aw.Commit(); err != nil {
		t.Fatal(err)
	}
	ar.Close()
	b3, _ := os.ReadFile(conv)
	if !bytes.Equal(b1, b3) {
		t.Error("Parquet converted from the Arrow stream differs from Parquet written directly")
	}
}

func writeRows[T schema.Row](t testing.TB, path string, stdout io.Writer, rows []T) {
	t.Helper()
	w, err := Create[T](path, stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// Several calls, to cross batch boundaries at odd places.
	for i := 0; i < len(rows); i += 777 {
		if err := w.Write(rows[i:min(i+777, len(rows))]...); err != nil {
			t.Fatal(err)
		}
	}
	if w.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(rows))
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func assertRows[T any](t *testing.T, how string, want, got []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: read %d rows, want %d", how, len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(normalize(want[i]), normalize(got[i])) {
			t.Fatalf("%s: row %d differs:\n got %+v\nwant %+v", how, i, got[i], want[i])
		}
	}
}

// normalize treats nil and empty slices alike: Parquet cannot tell them apart.
func normalize[T any](row T) T {
	v := reflect.ValueOf(&row).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return row
}

func TestEmptyTable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.parquet")
	writeRows[schema.Generation](t, path, nil, nil)
	got, err := ReadAll[schema.Generation](path, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadAll = %d rows, %v", len(got), err)
	}
	var buf bytes.Buffer
	writeRows[schema.Generation](t, "-", &buf, nil)
	got, err = ReadAll[schema.Generation]("-", &buf)
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadAll(stream) = %d rows, %v", len(got), err)
	}
}

// Foreign row types, to write files that are wrong in one way each.
type (
	genMissingCompletion struct {
		ID string `parquet:"id"`
	}
	genSampleAsString struct {
		ID         string `parquet:"id"`
		Model      string `parquet:"model"`
		ModelRef   string `parquet:"model_ref"`
		PromptID   string `parquet:"prompt_id"`
		Split      string `parquet:"split"`
		Sample     string `parquet:"sample"`
		Seed       int64  `parquet:"seed"`
		Prompt     string `parquet:"prompt"`
		Completion string `parquet:"completion"`
	}
	// promptNullable is how DuckDB or pandas write a prompts table: every column nullable.
	promptNullable struct {
		ID       *string `parquet:"id,optional"`
		Text     *string `parquet:"text,optional"`
		Source   *string `parquet:"source,optional"`
		Category *string `parquet:"category,optional"`
		Split    *string `parquet:"split,optional"`
		Extra    int64   `parquet:"extra"`
	}
)

func writeForeign[T any](t *testing.T, path string, rows []T, metadata string) {
	t.Helper()
	if err := tabletest.WriteForeign(path, rows, metadata); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }

	os.WriteFile(p("empty.parquet"), nil, 0o644)
	os.WriteFile(p("text.parquet"), []byte("id,text\n1,hello\n"), 0o644)
	writeRows(t, p("prompts.parquet"), nil, tabletest.Rows[schema.Prompt](10, 1))
	good, _ := os.ReadFile(p("prompts.parquet"))
	os.WriteFile(p("truncated.parquet"), good[:len(good)/2], 0o644)
	writeForeign(t, p("missing.parquet"), []genMissingCompletion{{ID: "x"}}, "generations/v1")
	writeForeign(t, p("mistyped.parquet"), []genSampleAsString{{ID: "x", Sample: "0"}}, "")
	writeForeign(t, p("newer.parquet"), []genMissingCompletion{{ID: "x"}}, "generations/v2")
	writeForeign(t, p("badmeta.parquet"), []genMissingCompletion{{ID: "x"}}, "generations")
	s := "a"
	writeForeign(t, p("nulls.parquet"), []promptNullable{{ID: &s, Text: &s, Source: &s, Category: &s, Split: &s}, {ID: &s, Source: &s, Category: &s, Split: &s}}, "")
	var stream bytes.Buffer
	writeRows(t, "-", &stream, tabletest.Rows[schema.Prompt](3, 1))
	os.Mkdir(p("folder"), 0o755)

	tests := []struct {
		name  string
		read  func() error
		wants []string // substrings of the message
	}{
		{"missing file", readGen(p("nope.parquet")), []string{p("nope.parquet"), "no such file"}},
		{"folder", readGen(p("folder")), []string{"is a folder"}},
		{"empty file", readGen(p("empty.parquet")), []string{p("empty.parquet"), "empty file"}},
		{"not parquet", readGen(p("text.parquet")), []string{p("text.parquet"), "not a Parquet file", `want "PAR1"`}},
		{"truncated", readGen(p("truncated.parquet")), []string{p("truncated.parquet"), "not a valid Parquet file"}},
		{"wrong table", readGen(p("prompts.parquet")), []string{p("prompts.parquet"), "holds a prompts/v1 table, want a generations/v1 table"}},
		{"missing column", readGen(p("missing.parquet")), []string{p("missing.parquet"), `column "model"`, "missing (want string)"}},
		{"mistyped column", readGen(p("mistyped.parquet")), []string{p("mistyped.parquet"), `column "sample"`, "has type string, want int32"}},
		{"newer version", readGen(p("newer.parquet")), []string{"holds generations/v2, newer than this mbd reads (generations/v1)"}},
		{"bad metadata", readGen(p("badmeta.parquet")), []string{"malformed schema id"}},
		{"nulls in required column", func() error { _, err := ReadAll[schema.Prompt](p("nulls.parquet"), nil); return err },
			[]string{`column "text"`, "holds 1 nulls"}},
		{"wrong table on stdin", func() error { _, err := ReadAll[schema.Generation]("-", bytes.NewReader(stream.Bytes())); return err },
			[]string{"<stdin>", "holds a prompts/v1 table"}},
		{"empty stdin", func() error { _, err := ReadAll[schema.Generation]("-", strings.NewReader("")); return err },
			[]string{"<stdin>", "empty input"}},
		{"garbage stdin", func() error { _, err := ReadAll[schema.Generation]("-", strings.NewReader("hello world")); return err },
			[]string{"<stdin>", "not an Arrow IPC stream"}},
		{"truncated stream", func() error {
			b := stream.Bytes()
			_, err := ReadAll[schema.Prompt]("-", bytes.NewReader(b[:len(b)-20]))
			return err
		}, []string{"<stdin>", "corrupt Arrow"}},
		{"unknown table without metadata", func() error { _, err := OpenAny(p("mistyped.parquet"), nil, ""); return err },
			[]string{"has no mbd.schema metadata"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			if err == nil {
				t.Fatal("no error")
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not an *InputError: %v", err, err)
			}
			if ie.ExitCode() != 2 {
				t.Errorf("exit code %d", ie.ExitCode())
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
			for _, w := range tt.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

func readGen(path string) func() error {
	return func() error { _, err := ReadAll[schema.Generation](path, nil); return err }
}

// A table written by another tool with nullable columns and extra columns reads when it has no nulls.
func TestForeignNullableColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "duck.parquet")
	id, text, src, cat, split := "p1", "Hello?", "duckdb", "", "discovery"
	writeForeign(t, path, []promptNullable{{ID: &id, Text: &text, Source: &src, Category: &cat, Split: &split, Extra: 7}}, "")
	got, err := ReadAll[schema.Prompt](path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []schema.Prompt{{ID: "p1", Text: "Hello?", Source: "duckdb", Split: "discovery"}}
	assertRows(t, "nullable", want, got)
}

func TestAbortedStreamFailsReader(t *testing.T) {
	var buf bytes.Buffer
	w, err := Create[schema.Prompt]("-", &buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(tabletest.Rows[schema.Prompt](ArrowBatchRows+10, 1)...)
	w.Abort()
	_, err = ReadAll[schema.Prompt]("-", &buf)
	if err == nil {
		t.Fatal("reading an aborted stream succeeded")
	}
	if !strings.Contains(err.Error(), "corrupt Arrow IPC stream") {
		t.Errorf("unexpected error: %v", err)
	}
}

func TestAbortLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	w, err := Create[schema.Prompt](filepath.Join(dir, "p.parquet"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(tabletest.Rows[schema.Prompt](100, 1)...)
	w.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("abort left %v", entries)
	}
}

// hypothesisV1 is a hypotheses/v1 row as written before the origin column was added.
type hypothesisV1 struct {
	ID             string   `parquet:"id"`
	Text           string   `parquet:"text"`
	Property       string   `parquet:"property"`
	Direction      string   `parquet:"direction"`
	Kind           string   `parquet:"kind"`
	Proposer       string   `parquet:"proposer"`
	Regions        []int32  `parquet:"regions,list"`
	EvidenceIDs    []string `parquet:"evidence_ids,list"`
	ProposerPrompt string   `parquet:"proposer_prompt_hash"`
	ShareA         *float64 `parquet:"share_a,optional"`
	ShareB         *float64 `parquet:"share_b,optional"`
}

func TestAbsentColumn(t *testing.T) {
	// A column that may be absent (hypotheses.origin) reads as null from a file that lacks it; a
	// file that has it keeps its values.
	dir := t.TempDir()
	old := filepath.Join(dir, "old.parquet")
	share := 0.5
	writeForeign(t, old, []hypothesisV1{{ID: "h1", Text: "t", Property: "contains 'otter'", Direction: schema.DirectionBA, Kind: "lexical",
		Proposer: "builtin", Regions: []int32{-1}, EvidenceIDs: []string{"g1"}, ShareA: &share}}, "hypotheses/v1")
	got, err := ReadAll[schema.Hypothesis](old, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Origin != nil || got[0].ID != "h1" || got[0].ShareA == nil || *got[0].ShareA != 0.5 || got[0].ShareB != nil {
		t.Errorf("old file read as %+v", got)
	}
	origin := schema.OriginLens
	rows := []schema.Hypothesis{{ID: "h2", Direction: schema.DirectionAB, Regions: []int32{}, EvidenceIDs: []string{}, Origin: &origin}}
	for _, path := range []string{filepath.Join(dir, "new.parquet"), "-"} {
		var stream bytes.Buffer
		writeRows(t, path, &stream, rows)
		if path == "-" {
			path = filepath.Join(dir, "new.arrows")
			os.WriteFile(path, stream.Bytes(), 0o644)
		}
		got, err := ReadAll[schema.Hypothesis](path, nil)
		if err != nil || len(got) != 1 || got[0].Origin == nil || *got[0].Origin != schema.OriginLens {
			t.Errorf("%s: %+v, %v", path, got, err)
		}
	}
	for _, c := range schema.Hypotheses.Columns() {
		if c.MayBeAbsent != (c.Name == "origin") {
			t.Errorf("column %s: MayBeAbsent = %v", c.Name, c.MayBeAbsent)
		}
	}
}
