package table

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table/tabletest"
)

// Streaming benchmarks and a memory test for the generations table.
//
// Rows are made on the fly by genSource, never held all in memory. Each row is a realistic
// generation: a distinct 16-hex-digit id, models A and B, four samples per prompt, a prompt of 40-160
// bytes (about 100 on average) shared by the samples of a prompt, and a completion of English-like
// words whose target length is uniform in [200, 1000) bytes: 603 bytes on average (measured over
// the first 200,000 rows; prompts average 103 bytes). With the short columns a row holds 827 raw
// bytes on average (see rawGenerationSize), so 1,000,000 rows are about 827 MB and 200,000 rows
// about 165 MB (158 MiB) of raw data. The optional columns (token counts, log-probabilities) keep the null pattern of a
// tabletest.Rows pool (about a quarter null).
//
// Run:
//
//	go test ./internal/table -run XXX -bench StreamGenerations1M -benchtime 1x
//
// Each sub-benchmark reports rows/s, raw-MB (raw data per iteration), peak-heap-MB (the maximum of
// runtime/metrics /memory/classes/heap/objects:bytes sampled every 10 ms during the iteration, after
// a GC) and heap/data (peak heap over raw data). The write benchmarks also report disk-MB and
// disk-B/row. The Parquet and Arrow sub-benchmarks report x-jsonl-speed (their rows/s over that of
// the JSON Lines reference of the same direction, measured earlier in the same run) and the writes
// x-jsonl-size (their size on disk over the JSON Lines file's). The write benchmarks include making
// the rows, whose cost alone generate_only reports.

const (
	genSeed           = 7
	genSamplesPerPair = 4 // samples of one prompt by one model
	completionMin     = 200
	completionMax     = 1000 // exclusive
	promptMin         = 40
	promptMax         = 160 // exclusive
)

var englishWords = strings.Fields(`the a an of to and in that is was for it with as on be at by this
had not are but from or have you they which one were all we when there can been has more if will
would about their what so out up into do no time than only could other new some like these two may
first then any after also did many most over such where well should through just those model answer
question because however example result value data set number first second function return error
case when each both between under again further while before during without within along around
people world life hand part place week work point government company system program fact group
problem small large great good right long little own old big high different following important
public able early young simple clear possible certain likely easy best better sure free full
explain consider suggest describe provide include continue remember understand believe follow
change create develop build write read run show keep begin seem help talk turn start move live`)

var englishTitles = func() []string {
	t := make([]string, len(englishWords))
	for i, w := range englishWords {
		t[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return t
}()

var modelRefs = [2]string{
	"gguf:models/llama-3.2-1b-instruct-q4_k_m.gguf",
	"openai-compat:http://localhost:8080/v1#qwen2.5-1.5b-instruct",
}

// genSource makes generation i deterministically, without keeping rows.
type genSource struct {
	pool []schema.Generation
	pcg  *rand.PCG
	rng  *rand.Rand
	sb   strings.Builder
}

func newGenSource() *genSource {
	pcg := rand.NewPCG(genSeed, 0)
	return &genSource{pool: tabletest.Rows[schema.Generation](1024, genSeed), pcg: pcg, rng: rand.New(pcg)}
}

// text writes English-like sentences of at least target bytes.
func (g *genSource) text(target int) string {
	g.sb.Reset()
	g.sb.Grow(target + 16)
	for g.sb.Len() < target {
		n := 6 + g.rng.IntN(13) // words in the sentence
		if g.sb.Len() > 0 {
			if g.rng.IntN(5) == 0 {
				g.sb.WriteString("\n\n")
			} else {
				g.sb.WriteByte(' ')
			}
		}
		g.sb.WriteString(englishTitles[g.rng.IntN(len(englishTitles))])
		for j := 1; j < n && g.sb.Len() < target; j++ {
			if g.rng.IntN(9) == 0 {
				g.sb.WriteByte(',')
			}
			g.sb.WriteByte(' ')
			g.sb.WriteString(englishWords[g.rng.IntN(len(englishWords))])
		}
		g.sb.WriteByte('.')
	}
	return g.sb.String()
}

func mix64(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *genSource) row(i int) schema.Generation {
	r := g.pool[i%len(g.pool)] // optional columns (and their nulls) from the pool
	model := i % 2
	prompt := i / (2 * genSamplesPerPair)
	r.ID = fmt.Sprintf("%016x", mix64(uint64(i)))
	r.Model = string(rune('A' + model))
	r.ModelRef = modelRefs[model]
	r.PromptID = fmt.Sprintf("p%07d", prompt)
	r.Split = "discovery"
	if prompt%5 == 0 {
		r.Split = "validation"
	}
	r.Sample = int32(i/2) % genSamplesPerPair

	g.pcg.Seed(genSeed^0x70726f6d7074, uint64(prompt))
	r.Prompt = g.text(promptMin + g.rng.IntN(promptMax-promptMin))

	g.pcg.Seed(genSeed, uint64(i))
	r.Seed = g.rng.Int64()
	r.Completion = g.text(completionMin + g.rng.IntN(completionMax-completionMin))
	r.FinishReason = "stop"
	if g.rng.IntN(10) == 0 {
		r.FinishReason = "length"
	}
	if r.PromptTokens != nil {
		r.PromptTokens = ptr(int32(len(r.Prompt)/4 + 12))
	}
	ct := int32(len(r.Completion) / 4)
	if r.CompletionTokens != nil {
		r.CompletionTokens = ptr(ct)
	}
	if r.LogprobSum != nil {
		sum := -float64(ct) * (0.2 + g.rng.Float64())
		r.LogprobSum = ptr(sum)
		if r.LogprobMean != nil {
			r.LogprobMean = ptr(sum / float64(ct))
		}
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// rawGenerationSize is the raw size of a row: the lengths of its strings plus the widths of its
// numbers (a null counts 0).
func rawGenerationSize(r *schema.Generation) int64 {
	n := len(r.ID) + len(r.Model) + len(r.ModelRef) + len(r.PromptID) + len(r.Split) + len(r.Prompt) +
		len(r.Completion) + len(r.FinishReason) + 4 + 8
	if r.PromptTokens != nil {
		n += 4
	}
	if r.CompletionTokens != nil {
		n += 4
	}
	if r.LogprobSum != nil {
		n += 8
	}
	if r.LogprobMean != nil {
		n += 8
	}
	return int64(n)
}

// heapPeak samples the heap occupied by objects every 10 ms and keeps the maximum.
type heapPeak struct {
	stop, done chan struct{}
	peak       uint64
}

const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func heapObjects(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startHeapPeak collects garbage, then starts sampling. Two collections empty the sync.Pools (a
// pooled object survives one in the victim cache), so that buffers pooled by an earlier writer do
// not count against the next reader.
func startHeapPeak() *heapPeak {
	runtime.GC()
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	h.peak = heapObjects(s)
	go func() {
		defer close(h.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				h.peak = max(h.peak, heapObjects(s))
				return
			case <-t.C:
				h.peak = max(h.peak, heapObjects(s))
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak in bytes.
func (h *heapPeak) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak
}

// writeGenerations writes n generated rows through Create(path, stdout) and returns their raw size.
func writeGenerations(path string, stdout io.Writer, n int) (int64, error) {
	w, err := Create[schema.Generation](path, stdout)
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	g := newGenSource()
	var raw int64
	batch := make([]schema.Generation, 0, 256)
	for i := range n {
		batch = append(batch, g.row(i))
		raw += rawGenerationSize(&batch[len(batch)-1])
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.Write(batch...); err != nil {
				return 0, err
			}
			batch = batch[:0]
		}
	}
	return raw, w.Commit()
}

// readGenerations reads every row through Open(path, stdin) and returns their number and raw size.
func readGenerations(path string, stdin io.Reader) (int, int64, error) {
	r, err := Open[schema.Generation](path, stdin)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	var n int
	var raw int64
	for row, err := range r.All() {
		if err != nil {
			return 0, 0, err
		}
		n++
		raw += rawGenerationSize(&row)
	}
	return n, raw, nil
}

// writeArrowStreamFile writes n rows as an Arrow IPC stream to path, as `mbd ... -o -` would.
func writeArrowStreamFile(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	raw, err := writeGenerations("-", f, n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return raw, err
}

// readArrowStreamFile reads the Arrow IPC stream in path as stdin ("-").
func readArrowStreamFile(path string) (int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return readGenerations("-", f)
}

// writeJSONL is the reference: the same rows as JSON Lines, streamed with encoding/json and bufio.
func writeJSONL(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	g := newGenSource()
	var raw int64
	for i := range n {
		row := g.row(i)
		raw += rawGenerationSize(&row)
		if err := enc.Encode(&row); err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return raw, f.Close()
}

func readJSONL(path string) (int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	var n int
	var raw int64
	for {
		var row schema.Generation
		if err := dec.Decode(&row); err != nil {
			if errors.Is(err, io.EOF) {
				return n, raw, nil
			}
			return 0, 0, err
		}
		n++
		raw += rawGenerationSize(&row)
	}
}

func fileSize(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

const streamBenchRows = 1_000_000

// BenchmarkStreamGenerations1M writes and reads a generations table of 1,000,000 rows as Parquet, as
// an Arrow IPC stream and, for reference, as JSON Lines; see the top of this file for the metrics.
func BenchmarkStreamGenerations1M(b *testing.B) {
	const n = streamBenchRows
	dir := b.TempDir()
	paths := map[string]string{
		"jsonl":   filepath.Join(dir, "generations.jsonl"),
		"parquet": filepath.Join(dir, "generations.parquet"),
		"arrow":   filepath.Join(dir, "generations.arrows"),
	}
	writers := map[string]func(string) (int64, error){
		"jsonl":   func(p string) (int64, error) { return writeJSONL(p, n) },
		"parquet": func(p string) (int64, error) { return writeGenerations(p, nil, n) },
		"arrow":   func(p string) (int64, error) { return writeArrowStreamFile(p, n) },
	}
	readers := map[string]func(string) (int, int64, error){
		"jsonl":   readJSONL,
		"parquet": func(p string) (int, int64, error) { return readGenerations(p, nil) },
		"arrow":   readArrowStreamFile,
	}
	// Sub-benchmarks run one after the other: no locking needed.
	var (
		refRate    = map[string]float64{} // rows/s of the JSON Lines reference, by direction
		refDiskLen int64                  // size of the JSON Lines file
	)

	report := func(b *testing.B, direction, format string, raw int64, peak uint64) {
		rate := float64(n) * float64(b.N) / b.Elapsed().Seconds()
		b.SetBytes(raw)
		b.ReportMetric(rate, "rows/s")
		b.ReportMetric(float64(raw)/1e6, "raw-MB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peak)/float64(raw), "heap/data")
		if format == "jsonl" {
			refRate[direction] = rate
		} else if ref := refRate[direction]; ref > 0 {
			b.ReportMetric(rate/ref, "x-jsonl-speed")
		}
		if direction == "write" {
			size := fileSize(b, paths[format])
			b.ReportMetric(float64(size)/1e6, "disk-MB")
			b.ReportMetric(float64(size)/float64(n), "disk-B/row")
			if format == "jsonl" {
				refDiskLen = size
			} else if refDiskLen > 0 {
				b.ReportMetric(float64(size)/float64(refDiskLen), "x-jsonl-size")
			}
		}
	}

	// timed runs op b.N times, timing op alone, and returns its last raw size and the peak heap.
	timed := func(b *testing.B, op func() (int64, error)) (raw int64, peak uint64) {
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			h := startHeapPeak()
			b.StartTimer()
			r, err := op()
			b.StopTimer()
			peak = max(peak, h.Stop())
			if err != nil {
				b.Fatal(err)
			}
			raw = r
			b.StartTimer()
		}
		b.StopTimer()
		return raw, peak
	}
	benchWrite := func(format string) func(*testing.B) {
		return func(b *testing.B) {
			raw, peak := timed(b, func() (int64, error) { return writers[format](paths[format]) })
			report(b, "write", format, raw, peak)
		}
	}
	benchRead := func(format string) func(*testing.B) {
		return func(b *testing.B) {
			if _, err := os.Stat(paths[format]); err != nil { // write sub-benchmark filtered out
				if _, err := writers[format](paths[format]); err != nil {
					b.Fatal(err)
				}
			}
			raw, peak := timed(b, func() (int64, error) {
				rows, r, err := readers[format](paths[format])
				if err == nil && rows != n {
					err = fmt.Errorf("read %d rows, want %d", rows, n)
				}
				return r, err
			})
			report(b, "read", format, raw, peak)
		}
	}

	// The cost of making the rows, included in every write benchmark.
	b.Run("generate_only", func(b *testing.B) {
		var raw int64
		for range b.N {
			g := newGenSource()
			raw = 0
			for i := range n {
				row := g.row(i)
				raw += rawGenerationSize(&row)
			}
		}
		b.SetBytes(raw)
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// References first, so that the others can report ratios against them.
	b.Run("write_jsonl_reference", benchWrite("jsonl"))
	b.Run("write_parquet", benchWrite("parquet"))
	b.Run("write_arrow_stream", benchWrite("arrow"))
	b.Run("read_jsonl_reference", benchRead("jsonl"))
	b.Run("read_parquet", benchRead("parquet"))
	b.Run("read_arrow_stream", benchRead("arrow"))
}

// TestStreamingMemoryBounded writes 200,000 generations (over 100 MB of raw data) to Parquet and
// reads them back row by row, and requires the heap to stay under 256 MiB throughout: memory is
// bounded by the row group and page sizes, not by the table's length. It asserts memory, not time.
func TestStreamingMemoryBounded(t *testing.T) {
	const (
		n        = 200_000
		minRaw   = 100 << 20
		heapCap  = 256 << 20
		mib      = 1 << 20
		fileName = "generations.parquet"
	)
	path := filepath.Join(t.TempDir(), fileName)

	start := time.Now()
	h := startHeapPeak()
	raw, err := writeGenerations(path, nil, n)
	writePeak := h.Stop()
	if err != nil {
		t.Fatal(err)
	}
	writeTime := time.Since(start)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	h = startHeapPeak()
	rows, readRaw, err := readGenerations(path, nil)
	readPeak := h.Stop()
	if err != nil {
		t.Fatal(err)
	}
	readTime := time.Since(start)

	t.Logf("%d rows, raw %.1f MiB, Parquet %.1f MiB; write: peak heap %.1f MiB in %v; read: peak heap %.1f MiB in %v",
		n, float64(raw)/mib, float64(st.Size())/mib, float64(writePeak)/mib, writeTime.Round(time.Millisecond),
		float64(readPeak)/mib, readTime.Round(time.Millisecond))
	if rows != n {
		t.Fatalf("read %d rows, want %d", rows, n)
	}
	if readRaw != raw {
		t.Errorf("read back %d raw bytes, wrote %d", readRaw, raw)
	}
	if raw <= minRaw {
		t.Fatalf("raw data %d bytes, want over %d for the test to mean something", raw, minRaw)
	}
	if writePeak >= heapCap {
		t.Errorf("writing: peak heap %.1f MiB, want under %d MiB", float64(writePeak)/mib, heapCap/mib)
	}
	if readPeak >= heapCap {
		t.Errorf("reading: peak heap %.1f MiB, want under %d MiB", float64(readPeak)/mib, heapCap/mib)
	}
}
