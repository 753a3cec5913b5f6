package assistant

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mbd-dev/mbd/internal/atomicfile"
)

// cacheVersion is part of every key: bump it when the meaning of a request or the stored answer
// changes, and old entries are no longer found.
// Version 2 added the endpoint: version 1 keys let two base URLs share answers.
const cacheVersion = 2

// cacheKey is the SHA-256 of the canonical JSON of {version, model reference, endpoint, request}
// (encoding/json writes struct fields in declaration order, so the encoding is canonical). The
// endpoint is the resolved base URL the requests go to ("" for the provider's default or a local
// model), so answers from one server are never served for another. Neither the reference, the
// endpoint nor the request holds a key.
func cacheKey(ref, endpoint string, req Request) string {
	b, err := json.Marshal(struct {
		V        int     `json:"v"`
		Ref      string  `json:"ref"`
		Endpoint string  `json:"endpoint"`
		Request  Request `json:"request"`
	}{cacheVersion, ref, endpoint, req})
	if err != nil {
		panic(err) // a Request is strings and numbers
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// cachePath is CacheDir/ab/abcdef....json.
func (c *Client) cachePath(key string) string {
	return filepath.Join(c.cacheDir, key[:2], key+".json")
}

// cacheGet returns a stored answer; a missing entry is a miss, an unreadable one a miss with a
// warning (the answer is fetched again and overwrites it).
func (c *Client) cacheGet(key string) (Response, bool) {
	path := c.cachePath(key)
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("assistant cache entry unreadable; asking again", "path", path, "err", err)
		}
		return Response{}, false
	}
	var resp Response
	if err := json.Unmarshal(b, &resp); err != nil {
		c.log.Warn("assistant cache entry corrupt; asking again", "path", path, "err", err)
		return Response{}, false
	}
	return resp, true
}

// cachePut stores an answer atomically. A failure is logged, not returned: the answer is good.
func (c *Client) cachePut(key string, resp Response) {
	path := c.cachePath(key)
	b, err := json.Marshal(resp)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		err = atomicfile.WriteFile(path, append(b, '\n'))
	}
	if err != nil {
		c.log.Warn("assistant cache not written", "path", path, "err", err)
	}
}
