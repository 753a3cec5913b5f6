package table

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

func fuzzSeeds(f *testing.F) {
	pq, stream := validInputs(f)
	f.Add(pq)
	f.Add(stream)
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte("PAR1\x00\x00\x00\xecPAR1")) // a footer length beyond the file
}

// validInputs returns 20 generations as a Parquet file and as an Arrow IPC stream.
func validInputs(t testing.TB) (pq, stream []byte) {
	t.Helper()
	rows := tabletest.Rows[schema.Generation](20, 1)
	path := filepath.Join(t.TempDir(), "g.parquet")
	writeRows(t, path, nil, rows)
	var buf bytes.Buffer
	writeRows(t, "-", &buf, rows)
	pq, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return pq, buf.Bytes()
}

// FuzzReadFile feeds arbitrary bytes to the file reader: it must return rows or an *InputError,
// never panic.
func FuzzReadFile(f *testing.F) {
	fuzzSeeds(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		readAllAny(t, path, nil)
	})
}

// FuzzReadStdin feeds arbitrary bytes to the stdin reader (Arrow IPC stream, or spooled Parquet).
func FuzzReadStdin(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		readAllAny(t, "-", bytes.NewReader(data))
	})
}

// slowInput bounds the time one input may take: a reader that is slow on a small input is a
// denial-of-service bug. It is orders of magnitude above the usual (well under a millisecond); an
// input over it is read again, twice, and fails only when every read is slow, so that a pause of
// a loaded machine (a descheduled process, a GC) is not taken for a slow reader.
const slowInput = time.Second

func readAllAny(t *testing.T, path string, stdin *bytes.Reader) {
	var d time.Duration
	for range 3 {
		if stdin != nil {
			stdin.Seek(0, io.SeekStart)
		}
		start := time.Now()
		_, err := ReadAll[schema.Generation](path, stdin)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error is %T, not *InputError: %v", err, err)
			}
		}
		if d = time.Since(start); d <= slowInput {
			return
		}
	}
	t.Fatalf("reading a %d-byte input took %v (over %v, three times)", inputSize(path, stdin), d, slowInput)
}

func inputSize(path string, stdin *bytes.Reader) int64 {
	if stdin != nil {
		return stdin.Size()
	}
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}
