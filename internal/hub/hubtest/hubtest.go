// Package hubtest is a fake Hugging Face Hub for tests. It serves repositories the test writes
// with the endpoints the Hub's clients use:
//
//	GET  /api/models/ORG/REPO/revision/REV[?blobs=true]   commit sha and files (siblings)
//	HEAD /ORG/REPO/resolve/REV/FILE                        X-Repo-Commit, ETag, sizes
//	GET  /ORG/REPO/resolve/REV/FILE                        content (Range), or for LFS files
//	                                                      302 to /cdn/SHA256/FILE with
//	                                                      X-Linked-Etag and X-Linked-Size
//
// Files named *.safetensors, *.gguf and *.bin are LFS files, like the Hub's default
// .gitattributes. Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) as the
// Hub's do. A private repository answers 401 without "Authorization: Bearer " + Token. The server
// counts requests, records Range headers, and can cut the next download of a file midway or
// corrupt one byte of it.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
)

// Server is a fake Hub.
type Server struct {
	URL   string
	Token string // the token private repositories require

	srv      *httptest.Server
	mu       sync.Mutex
	repos    map[string]*repo
	counts   map[string]int // "METHOD /path"
	content  int            // GETs that send file content
	ranges   []string       // Range headers of content GETs
	cut      map[string]int64
	corrupt  map[string]int
	nCommits int
}

type repo struct {
	private  bool
	branches map[string]string          // branch → commit
	commits  map[string]map[string]file // commit → files
}

type file struct {
	data   []byte
	lfs    bool
	sha256 string // of the content
	oid    string // git blob id of the content, or for an LFS file of its pointer file
}

// New starts a fake Hub.
func New() *Server {
	s := &Server{Token: "hf_test_token", repos: map[string]*repo{}, counts: map[string]int{},
		cut: map[string]int64{}, corrupt: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// NewTiny starts a fake Hub with the repositories the tests use: tiny-org/tiny-llama (the Hugging
// Face checkpoint in hfDir), tiny-org/private-llama (the same, private: token Token),
// tiny-org/tiny-qwen2 (a tiny Qwen2 checkpoint, hftest.WriteArch) and tiny-org/tiny-gguf (gguf as
// tiny.gguf, and a README).
func NewTiny(hfDir string, gguf []byte) (*Server, error) {
	s := New()
	for name, private := range map[string]bool{"tiny-org/tiny-llama": false, "tiny-org/private-llama": true} {
		if _, err := s.CommitDir(name, "main", hfDir, private); err != nil {
			s.Close()
			return nil, err
		}
	}
	qwen, err := os.MkdirTemp("", "hubtest-qwen2-")
	if err != nil {
		s.Close()
		return nil, err
	}
	defer os.RemoveAll(qwen)
	if _, err := hftest.WriteArch(qwen, "qwen2", 1); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := s.CommitDir("tiny-org/tiny-qwen2", "main", qwen, false); err != nil {
		s.Close()
		return nil, err
	}
	s.Commit("tiny-org/tiny-gguf", "main", map[string][]byte{"tiny.gguf": gguf, "README.md": []byte("# tiny\n")}, false)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Commit adds a commit holding files (name → content) to branch of repository name (ORG/REPO),
// creating the repository, and returns the commit sha.
func (s *Server) Commit(name, branch string, files map[string][]byte, private bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[name]
	if r == nil {
		r = &repo{branches: map[string]string{}, commits: map[string]map[string]file{}}
		s.repos[name] = r
	}
	r.private = private
	s.nCommits++
	h := sha1.New()
	fmt.Fprintf(h, "%s %s %d\n", name, branch, s.nCommits)
	fs := map[string]file{}
	for _, n := range slices.Sorted(maps.Keys(files)) {
		data := files[n]
		sum := sha256.Sum256(data)
		f := file{data: data, sha256: hex.EncodeToString(sum[:])}
		switch filepath.Ext(n) {
		case ".safetensors", ".gguf", ".bin":
			f.lfs = true
			f.oid = gitOID(fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", f.sha256, len(data)))
		default:
			f.oid = gitOID(data)
		}
		fs[n] = f
		fmt.Fprintf(h, "%s %s\n", n, f.oid)
	}
	commit := hex.EncodeToString(h.Sum(nil))
	r.commits[commit] = fs
	r.branches[branch] = commit
	return commit
}

// CommitDir is Commit with the regular files of a directory (names relative to it).
func (s *Server) CommitDir(name, branch, dir string, private bool) (string, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		return "", err
	}
	return s.Commit(name, branch, files, private), nil
}

func gitOID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// Requests is the number of requests with this method and path (e.g. "GET",
// "/api/models/org/repo/revision/main").
func (s *Server) Requests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+path]
}

// AllRequests is the number of requests of any kind.
func (s *Server) AllRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// ContentRequests is the number of GETs that sent (or would have sent) file content.
func (s *Server) ContentRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.content
}

// Ranges returns the Range headers of the content GETs, in order ("" for none).
func (s *Server) Ranges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ranges)
}

// Reset forgets the counts and ranges.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts, s.content, s.ranges = map[string]int{}, 0, nil
}

// Cut makes the next content GET of file (its name in the repository) send only n bytes of what
// it promised, then drop the connection.
func (s *Server) Cut(name string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut[name] = n
}

// Corrupt makes the next times content GETs of file send one byte changed.
func (s *Server) Corrupt(name string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt[name] = times
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		parts[i], _ = url.PathUnescape(p)
	}
	switch {
	case len(parts) == 6 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision" && r.Method == http.MethodGet:
		s.api(w, r, parts[2]+"/"+parts[3], parts[5])
	case len(parts) >= 5 && parts[2] == "resolve" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.resolve(w, r, parts[0]+"/"+parts[1], parts[3], strings.Join(parts[4:], "/"))
	case len(parts) >= 3 && parts[0] == "cdn" && r.Method == http.MethodGet:
		s.cdn(w, r, parts[1], strings.Join(parts[2:], "/"))
	default:
		http.NotFound(w, r)
	}
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// lookup finds the files of name at rev, answering the request itself when it cannot.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, name, rev string) (string, map[string]file, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[name]
	if rp == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return "", nil, false
	}
	if rp.private && r.Header.Get("Authorization") != "Bearer "+s.Token {
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Invalid credentials in Authorization header")
		return "", nil, false
	}
	commit := rev
	if c, ok := rp.branches[rev]; ok {
		commit = c
	}
	files, ok := rp.commits[commit]
	if !ok {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return "", nil, false
	}
	return commit, files, true
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, name, rev string) {
	commit, files, ok := s.lookup(w, r, name, rev)
	if !ok {
		return
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	var sib []map[string]any
	for _, n := range slices.Sorted(maps.Keys(files)) {
		f := files[n]
		e := map[string]any{"rfilename": n}
		if blobs {
			e["blobId"] = f.oid
			e["size"] = len(f.data)
			if f.lfs {
				e["lfs"] = map[string]any{"sha256": f.sha256, "size": len(f.data), "pointerSize": 134}
			}
		}
		sib = append(sib, e)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"_id": commit[:24], "id": name, "modelId": name, "sha": commit,
		"private": false, "gated": false, "siblings": sib, "lastModified": time.Unix(0, 0).UTC()})
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, name, rev, path string) {
	commit, files, ok := s.lookup(w, r, name, rev)
	if !ok {
		return
	}
	f, ok := files[path]
	if !ok {
		w.Header().Set("X-Repo-Commit", commit)
		hubError(w, http.StatusNotFound, "EntryNotFound", fmt.Sprintf("%s does not exist on %q", path, rev))
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	w.Header().Set("ETag", `"`+f.oid+`"`)
	if f.lfs {
		w.Header().Set("X-Linked-Etag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.data)))
		w.Header().Set("Location", fmt.Sprintf("%s/cdn/%s/%s?X-Amz-Signature=fake", s.URL, f.sha256, url.PathEscape(path)))
		w.WriteHeader(http.StatusFound)
		return
	}
	s.send(w, r, path, f.data)
}

// cdn serves an LFS file's content, like the Hub's storage: no token needed (the URL is signed).
func (s *Server) cdn(w http.ResponseWriter, r *http.Request, sum, path string) {
	s.mu.Lock()
	var data []byte
	for _, rp := range s.repos {
		for _, files := range rp.commits {
			if f, ok := files[path]; ok && f.sha256 == sum {
				data = f.data
			}
		}
	}
	s.mu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	s.send(w, r, path, data)
}

// send serves content with Range support, applying a pending fault.
func (s *Server) send(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		return
	}
	s.mu.Lock()
	s.content++
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut, isCut := s.cut[path]
	delete(s.cut, path)
	bad := s.corrupt[path] > 0
	s.corrupt[path]--
	s.mu.Unlock()
	if bad && len(data) > 0 {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0x01
	}
	if isCut {
		w = &cutWriter{ResponseWriter: w, left: cut}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	if isCut {
		panic(http.ErrAbortHandler) // drop the connection: the client sees a short body
	}
}

// cutWriter passes on only the first left bytes of the body.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("cut")
	}
	n := int64(len(p))
	if n > c.left {
		n = c.left
	}
	m, err := c.ResponseWriter.Write(p[:n])
	c.left -= int64(m)
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if err == nil && int64(m) < int64(len(p)) {
		err = fmt.Errorf("cut")
	}
	return m, err
}
