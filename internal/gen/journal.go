package gen

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Identity is everything that decides the rows of a run: its parameters and the SHA-256 of the
// content of each input, by a name that says its role, not its path ("prompts", "model file 0"), so
// that the same files named by other paths make the same identity. Two runs with the same
// identity make the same rows.
type Identity struct {
	Params Params
	Inputs map[string]string // name → hex SHA-256 of the content
}

// parts are the identity's components, each as a hash: "parameters" and one per input.
func (id Identity) parts() (map[string]string, error) {
	b, err := json.Marshal(id.Params)
	if err != nil {
		return nil, fmt.Errorf("run identity: %w", err) // a NaN never becomes a hash of nothing
	}
	sum := sha256.Sum256(b)
	parts := map[string]string{"parameters": hex.EncodeToString(sum[:])}
	for name, hash := range id.Inputs {
		if hash == "" {
			return nil, fmt.Errorf("run identity: input %s has no content hash", name)
		}
		parts[name] = hash
	}
	return parts, nil
}

// Key is the identity as one hex SHA-256.
func (id Identity) Key() (string, error) {
	parts, err := id.parts()
	if err != nil {
		return "", err
	}
	return key(parts), nil
}

func key(parts map[string]string) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(parts)) {
		fmt.Fprintf(h, "%s\x00%s\x00", name, parts[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Journal is the append-only record of a run's finished chunks: a header line with the run's
// identity, then per chunk its rows as JSON lines and a closing {"chunk":N} line. Rows after the
// last closing line (a chunk cut short by a crash) are ignored.
type Journal struct {
	path   string
	key    string
	parts  map[string]string
	f      *os.File // nil until the first chunk is written
	chunks int      // complete chunks
	size   int64    // bytes up to the end of the last complete chunk
}

type journalHeader struct {
	Journal  int               `json:"mbd_gen_journal"`
	Identity string            `json:"identity"`
	Parts    map[string]string `json:"parts,omitempty"`
}

type journalLine struct {
	Chunk *int               `json:"chunk,omitempty"`
	Row   *schema.Generation `json:"row,omitempty"`
}

// OpenJournal opens the journal at path for a run with identity id. A journal of the same run is
// continued after its last complete chunk; a journal of another run (other parameters, or an input
// or model file whose content changed) is removed, with a log line that says what changed, and the
// run starts over. A file there that is not a journal is bad input (a *table.InputError).
func OpenJournal(path string, id Identity, log *slog.Logger) (*Journal, error) {
	parts, err := id.parts()
	if err != nil {
		return nil, err
	}
	j := &Journal{path: path, key: key(parts), parts: parts}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil // created by the first finished chunk
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	line, err := br.ReadBytes('\n')
	var h journalHeader
	if err != nil || json.Unmarshal(line, &h) != nil || h.Journal != 1 {
		f.Close()
		return nil, &table.InputError{Path: path, Msg: "not an mbd-gen journal; remove it"}
	}
	if h.Identity != j.key {
		f.Close()
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		log.Warn("the journal is from another run; starting over", "journal", path, "changed", changed(h.Parts, parts))
		return j, nil
	}
	j.f = f
	// Find the end of the last complete chunk.
	pos := int64(len(line))
	j.size = pos
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // EOF, possibly after a torn line
		}
		pos += int64(len(line))
		var l journalLine
		if json.Unmarshal(line, &l) != nil {
			break
		}
		if l.Chunk != nil {
			j.chunks = *l.Chunk + 1
			j.size = pos
		}
	}
	if err := f.Truncate(j.size); err != nil {
		j.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Seek(j.size, io.SeekStart); err != nil {
		j.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return j, nil
}

// changed names the parts of an identity that differ between a journal's and a run's.
func changed(old, now map[string]string) string {
	if old == nil {
		return "arguments, inputs or model"
	}
	var diff []string
	for _, name := range slices.Sorted(maps.Keys(now)) {
		if old[name] != now[name] {
			diff = append(diff, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(old)) {
		if _, ok := now[name]; !ok {
			diff = append(diff, name)
		}
	}
	return strings.Join(diff, ", ")
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Chunks is the number of complete chunks.
func (j *Journal) Chunks() int { return j.chunks }

// Append writes one chunk's rows and its closing line, and syncs the file.
func (j *Journal) Append(rows []schema.Generation) error {
	if j.f == nil {
		f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		head, _ := json.Marshal(journalHeader{Journal: 1, Identity: j.key, Parts: j.parts})
		head = append(head, '\n')
		if _, err := f.Write(head); err != nil {
			f.Close()
			return fmt.Errorf("journal: %w", err)
		}
		j.f, j.size = f, int64(len(head))
	}
	var b []byte
	for i := range rows {
		line, err := json.Marshal(journalLine{Row: &rows[i]})
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	}
	n := j.chunks
	end, _ := json.Marshal(journalLine{Chunk: &n})
	b = append(append(b, end...), '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.chunks++
	j.size += int64(len(b))
	return nil
}

// Replay calls fn for every row of the complete chunks, in order.
func (j *Journal) Replay(fn func(schema.Generation) error) error {
	if j.f == nil {
		return nil
	}
	sc := bufio.NewScanner(io.NewSectionReader(j.f, 0, j.size))
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	sc.Scan() // header
	for sc.Scan() {
		var l journalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
		if l.Row != nil {
			if err := fn(*l.Row); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// Close closes the journal's file, which stays for a later run to continue.
func (j *Journal) Close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// Remove closes and deletes the journal (after its rows are in the table).
func (j *Journal) Remove() error {
	j.Close()
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
