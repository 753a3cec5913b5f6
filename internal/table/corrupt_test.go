package table

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
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
	pq, stream := validInputs(t)
	r := rand.New(rand.NewPCG(1, 2))
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	for _, seed := range [][]byte{pq, stream} {
		for range 1500 {
			d := append([]byte(nil), seed...)
			for range 1 + r.IntN(4) {
				d[r.IntN(len(d))] ^= byte(1 << r.IntN(8))
			}
			readAllAny(t, "-", bytes.NewReader(d))
			os.WriteFile(bad, d, 0o644)
			readAllAny(t, bad, nil)
		}
	}
}
