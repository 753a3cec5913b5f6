package table

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
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

// TestHugeFooterLength: a 12-byte file whose footer length claims 3.9 GB is refused before
// parquet-go allocates that length (fuzzing found the allocation killing the process).
func TestHugeFooterLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.parquet")
	if err := os.WriteFile(path, []byte("PAR1\x00\x00\x00\xecPAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadAll[schema.Generation](path, nil)
	runtime.ReadMemStats(&after)
	if _, ok := err.(*InputError); !ok || !strings.Contains(err.Error(), "footer of 3959422976 bytes") {
		t.Fatalf("err = %v, want an *InputError about the footer", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes reading a 12-byte file", n)
	}
}
