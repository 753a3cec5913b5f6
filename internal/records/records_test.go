package records

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/table"
)

// collect reads every record of path, stopping at the first error.
func collect(path string, format Format, required, optional []string, invalid InvalidUTF8) ([]Record, error) {
	var out []Record
	for rec, err := range ReadWith(path, format, required, optional, invalid) {
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

type foreignRow struct {
	Text     string `parquet:"text"`
	Category string `parquet:"category"`
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	parquetFile := func(name string, rows ...foreignRow) string {
		p := filepath.Join(dir, name)
		if err := parquet.WriteFile(p, rows); err != nil {
			t.Fatal(err)
		}
		return p
	}
	req, opt := []string{"text"}, []string{"category"}
	rec := func(line int64, text, cat string, replaced int) Record {
		f := map[string]string{"text": text}
		if cat != "" {
			f["category"] = cat
		}
		return Record{Line: line, Fields: f, Replaced: replaced}
	}
	for _, tc := range []struct {
		name    string
		path    string
		format  Format
		invalid InvalidUTF8
		want    []Record
		err     string // substring of the error; "" for none
	}{
		{"csv", file("ok.csv", "\ufefftext,category\nhello,a\n\"two\nlines\",b\nlast,\n"), "csv", Refuse,
			[]Record{rec(2, "hello", "a", 0), rec(3, "two\nlines", "b", 0),
				{Line: 5, Fields: map[string]string{"text": "last", "category": ""}}}, ""},
		{"csv missing column", file("nocol.csv", "category\na\n"), "csv", Refuse, nil, `column "text": missing from the header`},
		{"csv invalid UTF-8", file("bad.csv", "text,category\nfine,a\nbad\xff,b\n"), "csv", Refuse, nil, "bad.csv:3: invalid UTF-8 in column text"},
		{"csv invalid UTF-8 in optional column", file("badcat.csv", "text,category\nok,\xc3\n"), "csv", Refuse, nil, "badcat.csv:2: invalid UTF-8 in column category"},
		{"csv replace", file("rep.csv", "text,category\nbad\xff\xfe!,\xc3\n"), "csv", Replace,
			[]Record{rec(2, "bad\ufffd!", "\ufffd", 2)}, ""},
		{"jsonl", file("ok.jsonl", `{"text":"hi","category":"x"}`+"\n\n"+`{"text":"n","category":3}`+"\n"), "jsonl", Refuse,
			[]Record{rec(1, "hi", "x", 0), rec(3, "n", "3", 0)}, ""},
		{"jsonl missing", file("miss.jsonl", `{"category":"x"}`+"\n"), "jsonl", Refuse, nil, `miss.jsonl:1: column "text": missing`},
		{"jsonl invalid UTF-8", file("bad.jsonl", `{"text":"ok"}`+"\n"+`{"text":"b`+"\xff"+`d"}`+"\n"), "jsonl", Refuse, nil, "bad.jsonl:2: invalid UTF-8 in column text"},
		{"jsonl invalid UTF-8 in an unread field", file("other.jsonl", `{"text":"ok","note":"`+"\xff"+`"}`+"\n"), "jsonl", Refuse,
			[]Record{rec(1, "ok", "", 0)}, ""},
		{"jsonl replace", file("rep.jsonl", `{"text":"b`+"\xff\xff"+`d","category":"c"}`+"\n"), "jsonl", Replace,
			[]Record{rec(1, "b\ufffdd", "c", 1)}, ""},
		{"jsonl not an object", file("arr.jsonl", "[1]\n"), "jsonl", Refuse, nil, "arr.jsonl:1: not a JSON object"},
		{"txt", file("ok.txt", "  first  \n\nsecond\n"), "txt", Refuse, []Record{rec(1, "first", "", 0), rec(3, "second", "", 0)}, ""},
		{"txt invalid UTF-8", file("bad.txt", "fine\n\x80oops\n"), "txt", Refuse, nil, "bad.txt:2: invalid UTF-8"},
		{"txt replace", file("rep.txt", "\x80oops\n"), "txt", Replace, []Record{rec(1, "\ufffdoops", "", 1)}, ""},
		{"parquet", parquetFile("ok.parquet", foreignRow{"a", "x"}, foreignRow{"b", "y"}), "parquet", Refuse,
			[]Record{rec(1, "a", "x", 0), rec(2, "b", "y", 0)}, ""},
		{"parquet invalid UTF-8", parquetFile("bad.parquet", foreignRow{"a", "x"}, foreignRow{"b\xff", "y"}), "parquet", Refuse, nil, "bad.parquet: row 2: invalid UTF-8 in column text"},
		{"parquet replace", parquetFile("rep.parquet", foreignRow{"b\xff", "y"}), "parquet", Replace, []Record{rec(1, "b\ufffd", "y", 1)}, ""},
		{"no such file", filepath.Join(dir, "nope.csv"), "csv", Refuse, nil, "nope.csv: no such file"},
		{"unknown policy", file("p.txt", "x\n"), "txt", "ignore", nil, `unknown invalid-UTF-8 policy "ignore"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(tc.path, tc.format, req, opt, tc.invalid)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("records\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestInvalidUTF8IsInputError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(p, []byte("\xff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := collect(p, "txt", []string{"text"}, nil, Refuse)
	var ie *table.InputError
	if !errors.As(err, &ie) || ie.ExitCode() != 2 {
		t.Fatalf("%v: want a *table.InputError (exit 2)", err)
	}
	// Read refuses too.
	for _, err := range Read(p, "txt", []string{"text"}, nil) {
		if err == nil {
			t.Fatal("Read accepted invalid UTF-8")
		}
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	for in, want := range map[string]InvalidUTF8{"": Refuse, "refuse": Refuse, "replace": Replace} {
		if got, err := ParseInvalidUTF8(in); err != nil || got != want {
			t.Errorf("ParseInvalidUTF8(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseInvalidUTF8("skip"); err == nil || !strings.Contains(err.Error(), `--invalid-utf8 "skip": want refuse or replace`) {
		t.Errorf("ParseInvalidUTF8(skip): %v", err)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"a.csv": "csv", "b.JSONL": "jsonl", "c.ndjson": "jsonl", "d.txt": "txt", "e.parquet": "parquet"} {
		if got, err := FormatOf(path); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %q, %v", path, got, err)
		}
	}
	if _, err := FormatOf("f.xlsx"); err == nil {
		t.Error("FormatOf(f.xlsx) accepted")
	}
}
