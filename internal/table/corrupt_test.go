package table

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// TestCorruptInputs reads 1,500 bit-flipped copies of a valid Parquet file and of a valid Arrow
// stream. Every read must end in rows or an *InputError — no panic, and no unbounded allocation
// (the process would die): this loop found arrow-go's unchecked schema lengths, its ignored body
// limit and parquet-go's looping LZ4 decoder, which Go's coverage-guided fuzzer (FuzzReadFile,
// FuzzReadStdin) reaches only slowly on these large libraries.
func TestCorruptInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 3,000 corrupt files")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "g.parquet")
	rows := tabletest.Rows[schema.Generation](20, 1)
	w, _ := Create[schema.Generation](path, nil)
	w.Write(rows...)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	pq, _ := os.ReadFile(path)
	var stream bytes.Buffer
	ws, _ := Create[schema.Generation]("-", &stream)
	ws.Write(rows...)
	ws.Commit()

	r := rand.New(rand.NewPCG(1, 2))
	bad := filepath.Join(dir, "bad.parquet")
	for _, seed := range [][]byte{pq, stream.Bytes()} {
		for range 1500 {
			d := append([]byte(nil), seed...)
			for range 1 + r.IntN(4) {
				d[r.IntN(len(d))] ^= byte(1 << r.IntN(8))
			}
			if _, err := ReadAll[schema.Generation]("-", bytes.NewReader(d)); err != nil {
				if _, ok := err.(*InputError); !ok {
					t.Fatalf("stdin: error %T is not an *InputError: %v", err, err)
				}
			}
			os.WriteFile(bad, d, 0o644)
			if _, err := ReadAll[schema.Generation](bad, nil); err != nil {
				if _, ok := err.(*InputError); !ok {
					t.Fatalf("file: error %T is not an *InputError: %v", err, err)
				}
			}
		}
	}
}
