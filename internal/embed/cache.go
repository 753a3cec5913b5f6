package embed

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mbd-dev/mbd/internal/atomicfile"
)

// DefaultCacheDir is the cache root used when none is configured: the user cache directory's
// mbd/embed (e.g. ~/.cache/mbd/embed on Linux).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "mbd", "embed"), nil
}

// Cache layout. Each embedder has a directory DIR/<first 16 hex digits of SHA-256(ID)>/ holding a
// file "id" (the ID, for people) and append-only segment files seg-<time>-<pid>-<random>.bin.
// Every process that writes creates its own segment, so concurrent runs never write to the same
// file. A segment is the 8-byte header segMagic followed by records:
//
//	key    [32]byte  SHA-256(key ID + "\x00" + text)
//	dim    uint32    little-endian
//	vector dim × float32, little-endian IEEE 754
//	crc    uint32    CRC-32C of key, dim and vector
//
// Reading a segment stops at its first short or corrupt record, so a record torn by a crash (and
// anything after it) is ignored and recomputed; a segment is never appended to by a later process.
// Opening the cache reads every segment once to build an in-memory index (key → file offset,
// about 100 bytes per text), and vectors are read back on demand.
const (
	segMagic  = "mbdemb1\n"
	maxDim    = 1 << 20
	recHeader = 32 + 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type cacheLoc struct {
	seg int32
	dim uint32
	off int64 // offset of the record
}

// CachedEmbedder wraps an Embedder with the on-disk cache; see Cached.
type CachedEmbedder struct {
	inner Embedder
	root  string

	mu      sync.Mutex
	opened  bool
	openErr error
	dir     string
	index   map[[32]byte]cacheLoc
	segs    []*os.File
	w       *os.File // this process's segment, created on first write
	wIdx    int32
	wOff    int64
	hits    int
	misses  int
}

// Cached returns e with a content-addressed on-disk cache under dir (see DefaultCacheDir): a text
// already embedded by an embedder with the same ID is read back instead of embedded again, so
// reruns and partial reruns embed nothing twice. The key is SHA-256(ID + "\x00" + text); for a
// CorpusDependent embedder (builtin:lsa fitted on its input) the ID is extended with
// "&corpus=" and the Fingerprint of the whole ordered input, and on any miss the whole input is
// embedded again (the fit needs all of it). The cache is opened on first use; errors surface from
// Embed.
func Cached(e Embedder, dir string) *CachedEmbedder {
	return &CachedEmbedder{inner: e, root: dir}
}

// ID is the wrapped embedder's ID.
func (c *CachedEmbedder) ID() string { return c.inner.ID() }

// Inner returns the wrapped embedder.
func (c *CachedEmbedder) Inner() Embedder { return c.inner }

// Stats returns how many texts were read from the cache and how many were embedded.
func (c *CachedEmbedder) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Dir is the embedder's cache directory.
func (c *CachedEmbedder) Dir() string {
	h := sha256.Sum256([]byte(c.inner.ID()))
	return filepath.Join(c.root, hex.EncodeToString(h[:8]))
}

func cacheKey(id, text string) [32]byte {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(text))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Embed returns cached vectors where it has them and embeds the rest with the wrapped embedder.
func (c *CachedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	id := c.inner.ID()
	corpus := false
	if cd, ok := c.inner.(CorpusDependent); ok && cd.CorpusDependent() {
		corpus = true
		id += "&corpus=" + Fingerprint(texts)
	}
	keys := make([][32]byte, len(texts))
	for i, t := range texts {
		keys[i] = cacheKey(id, t)
	}
	out := make([][]float32, len(texts))
	c.mu.Lock()
	if err := c.open(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	var missing []int // first index of each missing key
	seen := map[[32]byte]int{}
	for i, k := range keys {
		if j, ok := seen[k]; ok {
			if out[j] != nil {
				out[i] = slices.Clone(out[j])
			}
			continue
		}
		seen[k] = i
		v, err := c.get(k)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if v == nil {
			missing = append(missing, i)
		}
		out[i] = v
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		c.mu.Lock()
		c.hits += len(texts)
		c.mu.Unlock()
		return out, nil
	}
	if corpus {
		vs, err := c.inner.Embed(ctx, texts)
		if err != nil {
			return nil, err
		}
		if len(vs) != len(texts) {
			return nil, fmt.Errorf("embed: %s returned %d vectors for %d texts", c.inner.ID(), len(vs), len(texts))
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.misses += len(texts)
		return vs, c.put(keys, vs)
	}
	req := make([]string, len(missing))
	for j, i := range missing {
		req[j] = texts[i]
	}
	vs, err := c.inner.Embed(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(vs) != len(req) {
		return nil, fmt.Errorf("embed: %s returned %d vectors for %d texts", c.inner.ID(), len(vs), len(req))
	}
	newKeys := make([][32]byte, len(missing))
	for j, i := range missing {
		out[i] = vs[j]
		newKeys[j] = keys[i]
	}
	for i, k := range keys { // duplicates of missing texts
		if out[i] == nil {
			out[i] = slices.Clone(out[seen[k]])
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits += len(texts) - len(missing)
	c.misses += len(missing)
	return out, c.put(newKeys, vs)
}

// open creates the directory and indexes the existing segments (once).
func (c *CachedEmbedder) open() error {
	if c.opened {
		return c.openErr
	}
	c.opened = true
	c.openErr = c.doOpen()
	return c.openErr
}

func (c *CachedEmbedder) doOpen() error {
	if c.root == "" {
		return errors.New("embed cache: no directory")
	}
	c.dir = c.Dir()
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("embed cache: %w", err)
	}
	idPath := filepath.Join(c.dir, "id")
	if _, err := os.Stat(idPath); err != nil {
		if err := atomicfile.WriteFile(idPath, []byte(c.inner.ID()+"\n")); err != nil {
			return fmt.Errorf("embed cache: %w", err)
		}
	}
	names, err := filepath.Glob(filepath.Join(c.dir, "seg-*.bin"))
	if err != nil {
		return fmt.Errorf("embed cache: %w", err)
	}
	slices.Sort(names)
	c.index = map[[32]byte]cacheLoc{}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("embed cache: %w", err)
		}
		seg := int32(len(c.segs))
		c.segs = append(c.segs, f)
		if err := c.scan(f, seg); err != nil {
			return fmt.Errorf("embed cache: %s: %w", name, err)
		}
	}
	return nil
}

// scan indexes one segment's valid records.
func (c *CachedEmbedder) scan(f *os.File, seg int32) error {
	r := bufio.NewReaderSize(f, 1<<16)
	head := make([]byte, len(segMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != segMagic {
		return nil // empty, torn or foreign: ignore
	}
	off := int64(len(segMagic))
	buf := make([]byte, 0, 4096)
	for {
		var hdr [recHeader]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil
		}
		dim := binary.LittleEndian.Uint32(hdr[32:])
		if dim == 0 || dim > maxDim {
			return nil
		}
		n := int(dim)*4 + 4
		buf = slices.Grow(buf[:0], n)[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil
		}
		crc := crc32.Update(crc32.Checksum(hdr[:], crcTable), crcTable, buf[:n-4])
		if crc != binary.LittleEndian.Uint32(buf[n-4:]) {
			return nil
		}
		var k [32]byte
		copy(k[:], hdr[:32])
		c.index[k] = cacheLoc{seg: seg, dim: dim, off: off}
		off += int64(recHeader + n)
	}
}

// get reads a cached vector, or nil when absent or unreadable.
func (c *CachedEmbedder) get(k [32]byte) ([]float32, error) {
	loc, ok := c.index[k]
	if !ok {
		return nil, nil
	}
	n := recHeader + int(loc.dim)*4 + 4
	buf := make([]byte, n)
	if _, err := c.segs[loc.seg].ReadAt(buf, loc.off); err != nil {
		delete(c.index, k)
		return nil, nil
	}
	if crc32.Checksum(buf[:n-4], crcTable) != binary.LittleEndian.Uint32(buf[n-4:]) || [32]byte(buf[:32]) != k {
		delete(c.index, k)
		return nil, nil
	}
	v := make([]float32, loc.dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[recHeader+4*i:]))
	}
	return v, nil
}

// put appends records to this process's segment (in one write) and syncs it.
func (c *CachedEmbedder) put(keys [][32]byte, vs [][]float32) error {
	if c.w == nil {
		var rnd [4]byte
		rand.Read(rnd[:])
		name := filepath.Join(c.dir, fmt.Sprintf("seg-%d-%d-%s.bin", time.Now().UnixNano(), os.Getpid(), hex.EncodeToString(rnd[:])))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("embed cache: %w", err)
		}
		if _, err := f.Write([]byte(segMagic)); err != nil {
			f.Close()
			return fmt.Errorf("embed cache: %w", err)
		}
		c.w, c.wIdx, c.wOff = f, int32(len(c.segs)), int64(len(segMagic))
		c.segs = append(c.segs, f)
	}
	var buf []byte
	locs := make([]cacheLoc, len(keys))
	for i, k := range keys {
		v := vs[i]
		if len(v) == 0 || len(v) > maxDim {
			return fmt.Errorf("embed cache: %s returned a vector of %d entries", c.inner.ID(), len(v))
		}
		start := len(buf)
		locs[i] = cacheLoc{seg: c.wIdx, dim: uint32(len(v)), off: c.wOff + int64(start)}
		buf = append(buf, k[:]...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(v)))
		for _, x := range v {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
		buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf[start:], crcTable))
	}
	_, err := c.w.Write(buf)
	if err == nil {
		err = c.w.Sync()
	}
	if err != nil {
		// The segment may now end in a torn record; start a new one next time.
		c.w = nil
		return fmt.Errorf("embed cache: %w", err)
	}
	c.wOff += int64(len(buf))
	for i, k := range keys {
		c.index[k] = locs[i]
	}
	return nil
}

// Close closes the cache files and the wrapped embedder.
func (c *CachedEmbedder) Close() error {
	c.mu.Lock()
	var errs []error
	for _, f := range c.segs {
		errs = append(errs, f.Close())
	}
	c.segs, c.w, c.index, c.opened, c.openErr = nil, nil, nil, false, nil
	c.mu.Unlock()
	errs = append(errs, Close(c.inner))
	return errors.Join(errs...)
}
