package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mbd-dev/mbd/internal/progress"
)

// Snapshot is a repository at one commit in the cache.
type Snapshot struct {
	Repo     string
	Revision string   // as asked: a branch, tag or commit sha
	Commit   string   // the commit sha it resolved to
	Dir      string   // HF_HUB_CACHE/models--ORG--REPO/snapshots/<commit>
	Files    []string // the selected files, slash-separated, relative to Dir
}

// Path is the local path of a file of the snapshot.
func (s *Snapshot) Path(name string) string { return filepath.Join(s.Dir, filepath.FromSlash(name)) }

// Download resolves rev and makes the files of repo that want selects (all when want is nil)
// present in the snapshot of the commit, downloading those that are not there yet. Offline (or
// when the Hub cannot be reached and the cache can answer) it returns the cached snapshot.
func (c *Client) Download(ctx context.Context, repo, rev string, want func(name string) bool) (*Snapshot, error) {
	if err := CheckRepo(repo); err != nil {
		return nil, err
	}
	if err := CheckRevision(rev); err != nil {
		return nil, err
	}
	if c.Offline {
		return c.Cached(repo, rev, want)
	}
	info, err := c.Info(ctx, repo, rev)
	if err != nil {
		if errors.Is(err, ErrNetwork) {
			if s, cerr := c.Cached(repo, rev, want); cerr == nil {
				c.warn("the Hub cannot be reached: using the cache", "repo", repo, "revision", rev, "err", err)
				return s, nil
			}
		}
		return nil, err
	}
	s := &Snapshot{Repo: repo, Revision: rev, Commit: info.Commit, Dir: filepath.Join(c.repoDir(repo), "snapshots", info.Commit)}
	if rev != info.Commit {
		if err := c.writeRef(repo, rev, info.Commit); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, diskErr(err)
	}
	for _, f := range info.Files {
		if want != nil && !want(f.Name) {
			continue
		}
		if err := c.fetch(ctx, s, f); err != nil {
			return nil, err
		}
		s.Files = append(s.Files, f.Name)
	}
	return s, nil
}

// Cached returns the snapshot that rev names in the cache, without a request: rev is a commit
// sha or a branch or tag recorded in refs/. Its files are those present in the snapshot folder.
func (c *Client) Cached(repo, rev string, want func(name string) bool) (*Snapshot, error) {
	if err := CheckRepo(repo); err != nil {
		return nil, err
	}
	if err := CheckRevision(rev); err != nil {
		return nil, err
	}
	commit := rev
	if !IsCommit(rev) {
		b, err := os.ReadFile(filepath.Join(c.repoDir(repo), "refs", filepath.FromSlash(rev)))
		if err != nil {
			return nil, errorf(ErrOffline, "%s@%s is not in the cache %s (offline: HF_HUB_OFFLINE is set or the Hub cannot be reached); download it once online, e.g. mbd-model pull hf:%s@%s", repo, rev, c.Cache, repo, rev)
		}
		commit = strings.TrimSpace(string(b))
	}
	s := &Snapshot{Repo: repo, Revision: rev, Commit: commit, Dir: filepath.Join(c.repoDir(repo), "snapshots", commit)}
	if st, err := os.Stat(s.Dir); err != nil || !st.IsDir() {
		return nil, errorf(ErrOffline, "%s@%s: commit %s is not in the cache %s; download it once online, e.g. mbd-model pull hf:%s@%s", repo, rev, commit, c.Cache, repo, rev)
	}
	err := filepath.WalkDir(s.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
			return nil // a dangling link: the blob was deleted
		}
		rel, err := filepath.Rel(s.Dir, path)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); want == nil || want(name) {
			s.Files = append(s.Files, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// RepoFolder is the cache folder of a model repository: models--ORG--REPO.
func RepoFolder(repo string) string { return "models--" + strings.ReplaceAll(repo, "/", "--") }

func (c *Client) repoDir(repo string) string { return filepath.Join(c.Cache, RepoFolder(repo)) }

// writeRef records the commit a branch or tag resolved to, as huggingface_hub does: the sha,
// without a newline, in refs/<revision>.
func (c *Client) writeRef(repo, rev, commit string) error {
	path := filepath.Join(c.repoDir(repo), "refs", filepath.FromSlash(rev))
	if b, err := os.ReadFile(path); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return diskErr(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return diskErr(err)
	}
	return os.Rename(tmp, path)
}

// fileMeta is what HEAD .../resolve/... says about a file.
type fileMeta struct {
	etag     string // blob name: the SHA-256 of an LFS file, else the git blob id
	lfs      bool   // the etag came from X-Linked-Etag
	size     int64  // -1 if unknown
	location string // where to GET the content
}

var etagRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// head asks for a file's metadata, following relative redirects only (a renamed repository), as
// huggingface_hub does, and reading the storage URL of an LFS file from its redirect.
func (c *Client) head(ctx context.Context, repo, commit, name string) (*fileMeta, error) {
	u := c.resolveURL(repo, commit, name)
	resp, err := c.do(ctx, http.MethodHead, u, http.Header{"Accept-Encoding": {"identity"}},
		func(req *http.Request, via []*http.Request) error {
			if loc, err := url.Parse(req.Response.Header.Get("Location")); err != nil || loc.Host != "" {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, c.statusError(resp, repo, commit, name)
	}
	m := &fileMeta{size: -1, location: resp.Request.URL.String()}
	m.etag = resp.Header.Get("X-Linked-Etag")
	m.lfs = m.etag != ""
	if !m.lfs {
		m.etag = resp.Header.Get("ETag")
	}
	m.etag = strings.Trim(strings.TrimPrefix(m.etag, "W/"), `"`)
	if !etagRe.MatchString(m.etag) || strings.Contains(m.etag, "..") {
		return nil, fmt.Errorf("%s@%s %s: the Hub sent no usable ETag (%q)", repo, commit, name, m.etag)
	}
	if s := resp.Header.Get("X-Linked-Size"); s != "" {
		m.size, _ = strconv.ParseInt(s, 10, 64)
	} else if resp.StatusCode == http.StatusOK {
		m.size = resp.ContentLength
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			return nil, fmt.Errorf("%s@%s %s: the Hub redirected nowhere", repo, commit, name)
		}
		m.location = loc.String()
	}
	return m, nil
}

func (c *Client) resolveURL(repo, rev, name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", c.Endpoint, repo, url.PathEscape(rev), strings.Join(parts, "/"))
}

// fetch makes one file present in the snapshot: nothing to do when it is there with the listed
// size; else its blob, downloaded unless present, and the snapshot's link to it.
func (c *Client) fetch(ctx context.Context, s *Snapshot, f Sibling) error {
	size := int64(-1)
	switch {
	case f.LFS != nil:
		size = f.LFS.Size
	case f.Size != nil:
		size = *f.Size
	}
	pointer := s.Path(f.Name)
	if st, err := os.Stat(pointer); err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size) {
		return nil
	}
	m, err := c.head(ctx, s.Repo, s.Commit, f.Name)
	if err != nil {
		return err
	}
	if m.size < 0 {
		m.size = size
	}
	sum := ""
	if f.LFS != nil {
		sum = f.LFS.SHA256
	} else if m.lfs {
		sum = m.etag
	}
	blob := filepath.Join(c.repoDir(s.Repo), "blobs", m.etag)
	unlock, err := lockFile(filepath.Join(c.Cache, ".locks", RepoFolder(s.Repo), m.etag+".lock"))
	if err != nil {
		return diskErr(err)
	}
	defer unlock()
	if st, err := os.Stat(blob); err != nil || (m.size >= 0 && st.Size() != m.size) {
		os.Remove(blob)
		if err := c.download(ctx, m, blob, sum, f.Name); err != nil {
			return err
		}
	}
	return link(blob, pointer)
}

// download writes the blob through blob.incomplete, checks its SHA-256 when one is known, and
// downloads it once more after a mismatch.
func (c *Client) download(ctx context.Context, m *fileMeta, blob, sum, name string) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return diskErr(err)
	}
	inc := blob + ".incomplete"
	for attempt := 1; ; attempt++ {
		got, err := c.fetchBlob(ctx, m.location, inc, m.size, name)
		if err != nil {
			return err
		}
		if sum != "" && !strings.EqualFold(got, sum) {
			os.Remove(inc)
			if attempt == 1 {
				c.warn("SHA-256 mismatch: downloading the file again", "file", name, "got", got, "want", sum)
				continue
			}
			return errorf(ErrChecksum, "%s: SHA-256 %s, the Hub says %s (downloaded twice)", name, got, sum)
		}
		if err := os.Rename(inc, blob); err != nil {
			return err
		}
		c.info("downloaded", "file", name, "bytes", m.size)
		return nil
	}
}

// maxTries bounds the requests for one blob: a download cut midway resumes with a Range request.
const maxTries = 5

// fetchBlob downloads u into inc, continuing the bytes already there with a Range request, and
// returns the SHA-256 of the whole file.
func (c *Client) fetchBlob(ctx context.Context, u, inc string, size int64, name string) (string, error) {
	f, err := os.OpenFile(inc, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", diskErr(err)
	}
	defer f.Close()
	bar := progress.New(c.Progress, "download "+name, "bytes", max(size, 0))
	for try := 1; ; try++ {
		n, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return "", err
		}
		if size >= 0 && n > size {
			if n, err = restart(f); err != nil {
				return "", err
			}
		}
		if size >= 0 && n == size && n > 0 {
			break // complete: an earlier run got every byte
		}
		header := http.Header{"Accept-Encoding": {"identity"}}
		if n > 0 {
			header.Set("Range", fmt.Sprintf("bytes=%d-", n))
			c.info("resuming a download", "file", name, "from", n)
		}
		resp, err := c.do(ctx, http.MethodGet, u, header, nil)
		if err != nil {
			if errors.Is(err, ErrNetwork) && try < maxTries {
				time.Sleep(time.Duration(try) * time.Second)
				continue
			}
			return "", err
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", n)):
		case resp.StatusCode == http.StatusOK:
			if n, err = restart(f); err != nil { // the server ignored the range: start over
				resp.Body.Close()
				return "", err
			}
		case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable || resp.StatusCode == http.StatusPartialContent:
			resp.Body.Close()
			if _, err := restart(f); err != nil || try >= maxTries {
				return "", fmt.Errorf("%s: the server does not resume the download at byte %d", name, n)
			}
			continue
		default:
			err := errorf(ErrServer, "%s: downloading answered HTTP %d", name, resp.StatusCode)
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				err = errorf(ErrAccess, "%s: access denied while downloading (HTTP %d): set HF_TOKEN to a token that can read it", name, resp.StatusCode)
			}
			resp.Body.Close()
			return "", err
		}
		bar.Add(n)
		written, err := io.Copy(f, io.TeeReader(resp.Body, barWriter{bar}))
		resp.Body.Close()
		if err != nil {
			var pe *fs.PathError
			switch {
			case errors.Is(err, syscall.ENOSPC) || errors.As(err, &pe):
				return "", diskErr(err)
			case ctx.Err() != nil:
				return "", ctx.Err()
			case try < maxTries:
				c.warn("download interrupted: resuming", "file", name, "at", n+written, "err", err)
				if written == 0 {
					time.Sleep(time.Duration(try) * time.Second)
				}
				continue
			}
			return "", fmt.Errorf("%s: download interrupted %d times, at byte %d: %w", name, try, n+written, err)
		}
		if size >= 0 && n+written != size {
			if n+written < size && try < maxTries {
				continue
			}
			return "", fmt.Errorf("%s: got %d bytes, the Hub says %d", name, n+written, size)
		}
		break
	}
	bar.Done()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// restart empties a partial download.
func restart(f *os.File) (int64, error) {
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	return f.Seek(0, io.SeekStart)
}

type barWriter struct{ b *progress.Bar }

func (w barWriter) Write(p []byte) (int, error) {
	w.b.Add(int64(len(p)))
	return len(p), nil
}

// link points the snapshot's file at its blob with a relative symlink, as huggingface_hub does
// (../../blobs/<etag>, one more ../ per folder of the file's path), replacing what was there.
func link(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return diskErr(err)
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	tmp := pointer + ".link-tmp"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return diskErr(err)
	}
	return os.Rename(tmp, pointer)
}

// diskErr names a full disk in one line; other errors pass unchanged.
func diskErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		var pe *fs.PathError
		where := ""
		if errors.As(err, &pe) {
			where = " writing " + pe.Path
		}
		return errorf(ErrDiskFull, "disk full%s: free space or point HF_HUB_CACHE at a larger disk (an interrupted download resumes)", where)
	}
	return err
}

func (c *Client) info(msg string, args ...any) {
	if c.Log != nil {
		c.Log.Info(msg, args...)
	}
}

func (c *Client) warn(msg string, args ...any) {
	if c.Log != nil {
		c.Log.Warn(msg, args...)
	}
}
