package cli

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Shard is the part i of n (1-based) that a --shard i/N flag selects; the zero Shard selects
// everything. Membership is a hash of an id, so shards are deterministic and together hold every id.
type Shard struct{ I, N int }

// ParseShard parses "i/N" ("" selects everything); errors are usage errors naming the flag.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.I, &sh.N); err != nil || sh.N < 1 || sh.I < 1 || sh.I > sh.N || fmt.Sprintf("%d/%d", sh.I, sh.N) != s {
		return Shard{}, Usagef("--shard %q: want i/N with 1 <= i <= N", s)
	}
	return sh, nil
}

// Has reports whether id belongs to the shard.
func (s Shard) Has(id string) bool {
	if s.N == 0 {
		return true
	}
	h := sha256.Sum256([]byte("shard\x00" + id))
	return int(binary.LittleEndian.Uint64(h[:])%uint64(s.N)) == s.I-1
}
