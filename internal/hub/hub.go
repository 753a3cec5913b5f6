// Package hub downloads model repositories from the Hugging Face Hub with the Hub's own HTTP
// protocol, into the Hub's own cache layout, so that files are shared with huggingface_hub and the
// tools built on it (transformers, vLLM, huggingface-cli).
//
// Resolving: GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true names the commit a
// revision (branch, tag or commit sha) points at and lists its files with their sizes and, for
// files stored with Git LFS, their SHA-256. Downloading one file: HEAD
// {endpoint}/{repo}/resolve/{commit}/{file} gives its etag (X-Linked-Etag for LFS files — their
// SHA-256 — else ETag, the git blob id), its size (X-Linked-Size, else Content-Length) and, for
// LFS files, a redirect to the storage (CDN) URL, which is then fetched with GET. The token
// (HF_TOKEN) is sent to the endpoint's host only, never to the storage host, and never logged.
//
// Cache layout (HF_HUB_CACHE, default HF_HOME/hub, default ~/.cache/huggingface/hub):
//
//	models--ORG--REPO/blobs/<etag>                  file contents, shared by all commits
//	models--ORG--REPO/blobs/<etag>.incomplete        a download in progress (resumed with Range)
//	models--ORG--REPO/snapshots/<commit>/<file>      relative symlink to ../../blobs/<etag>
//	models--ORG--REPO/refs/<revision>               the commit sha a branch or tag last resolved to
//	.locks/models--ORG--REPO/<etag>.lock            flock held while a blob is written
//
// A file already in the commit's snapshot is not requested again. A download cut midway is
// resumed from its .incomplete file with a Range request (within the run, and by a later run). An
// LFS file whose SHA-256 differs from the Hub's is removed and downloaded once more; a second
// mismatch is an error. With HF_HUB_OFFLINE=1 no request is made: the revision resolves through
// refs/ (or is a commit sha) and the files are those of its snapshot.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mbd-dev/mbd/internal/version"
)

// DefaultEndpoint is the Hub's address, used when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Client downloads from one Hub endpoint into one cache.
type Client struct {
	Endpoint string       // HF_ENDPOINT
	Token    string       // HF_TOKEN (or HF_HOME/token); may be empty
	Cache    string       // HF_HUB_CACHE
	Offline  bool         // HF_HUB_OFFLINE: resolve from the cache only
	HTTP     *http.Client // nil: http.DefaultClient's transport
	Progress io.Writer    // where progress bars go (drawn only on a terminal); nil: none
	Log      *slog.Logger // nil: no log
}

// FromEnv returns a client configured by the Hub's environment variables: HF_ENDPOINT, HF_TOKEN
// (else the token file HF_TOKEN_PATH or HF_HOME/token that `huggingface-cli login` writes),
// HF_HUB_CACHE (else HF_HOME/hub, HF_HOME defaulting to $XDG_CACHE_HOME/huggingface or
// ~/.cache/huggingface) and HF_HUB_OFFLINE.
func FromEnv() (*Client, error) {
	c := &Client{Endpoint: strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("HF_ENDPOINT=%q: want an http(s) URL", c.Endpoint)
	}
	home := os.Getenv("HF_HOME")
	if home == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("no Hugging Face cache folder (set HF_HOME or HF_HUB_CACHE): %w", err)
			}
			base = filepath.Join(h, ".cache")
		}
		home = filepath.Join(base, "huggingface")
	}
	c.Cache = os.Getenv("HF_HUB_CACHE")
	if c.Cache == "" {
		c.Cache = os.Getenv("HUGGINGFACE_HUB_CACHE") // the older name
	}
	if c.Cache == "" {
		c.Cache = filepath.Join(home, "hub")
	}
	c.Token = strings.TrimSpace(os.Getenv("HF_TOKEN"))
	if c.Token == "" {
		path := os.Getenv("HF_TOKEN_PATH")
		if path == "" {
			path = filepath.Join(home, "token")
		}
		if b, err := os.ReadFile(path); err == nil {
			c.Token = strings.TrimSpace(string(b))
		}
	}
	c.Offline = truthy(os.Getenv("HF_HUB_OFFLINE"))
	return c, nil
}

func truthy(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// Kinds of Error, for errors.Is.
var (
	ErrNotFound = errors.New("not found")         // repository, revision or file (HTTP 404)
	ErrAccess   = errors.New("access denied")     // HTTP 401 or 403: private or gated, or a bad token
	ErrOffline  = errors.New("not in the cache")  // offline and the cache cannot answer
	ErrChecksum = errors.New("checksum mismatch") // a file's SHA-256 differs from the Hub's, twice
	ErrDiskFull = errors.New("disk full")         // ENOSPC while writing the cache
	ErrServer   = errors.New("server error")      // another error answer
	ErrNetwork  = errors.New("unreachable")       // a request failed before any answer
)

// Error is a one-line error of the Hub or the cache; Kind says which.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// BadReference reports whether err means the reference itself cannot be used as given (no such
// repository, revision or file; no access; not in the cache while offline), not a failure of the
// machine or the network.
func BadReference(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrAccess) || errors.Is(err, ErrOffline)
}

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	revChars = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)
	commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// CheckRepo checks a repository id, ORG/REPO, with the Hub's rules: letters, digits, '-', '_'
// and '.', starting with a letter or digit, no "--" or "..", at most 96 characters a part.
func CheckRepo(repo string) error {
	org, name, ok := strings.Cut(repo, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("repository %q: want ORG/REPO", repo)
	}
	for _, p := range []string{org, name} {
		if !repoPart.MatchString(p) || len(p) > 96 || strings.Contains(p, "--") || strings.Contains(p, "..") ||
			strings.HasSuffix(p, ".") || strings.HasSuffix(p, "-") {
			return fmt.Errorf("repository %q: %q is not a valid name (letters, digits, '-', '_', '.'; no \"--\" or \"..\")", repo, p)
		}
	}
	return nil
}

// CheckRevision checks a revision: a branch, tag or commit sha, without "..".
func CheckRevision(rev string) error {
	if !revChars.MatchString(rev) || strings.Contains(rev, "..") || strings.HasPrefix(rev, "/") || strings.HasSuffix(rev, "/") || strings.Contains(rev, "//") {
		return fmt.Errorf("revision %q: want a branch, tag or commit sha", rev)
	}
	return nil
}

// CheckFile checks a file path inside a repository: relative, slash-separated, no "." or ".."
// parts.
func CheckFile(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) {
		return fmt.Errorf("file %q: want a relative path inside the repository", name)
	}
	for _, p := range strings.Split(name, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("file %q: want a relative path inside the repository", name)
		}
	}
	return nil
}

// IsCommit reports whether rev is a full commit sha.
func IsCommit(rev string) bool { return commitRe.MatchString(rev) }

// Sibling is a file of a repository at one commit, as the Hub lists it.
type Sibling struct {
	Name   string `json:"rfilename"`
	Size   *int64 `json:"size,omitempty"`
	BlobID string `json:"blobId,omitempty"`
	LFS    *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"lfs,omitempty"`
}

// Info is what the Hub says about a repository at a revision.
type Info struct {
	Commit string    `json:"sha"`
	Files  []Sibling `json:"siblings"`
}

// Info resolves rev to a commit and lists the files of repo at that commit.
func (c *Client) Info(ctx context.Context, repo, rev string) (*Info, error) {
	if c.Offline {
		return nil, errorf(ErrOffline, "%s@%s: offline (HF_HUB_OFFLINE), cannot ask the Hub", repo, rev)
	}
	u := fmt.Sprintf("%s/api/models/%s/revision/%s?blobs=true", c.Endpoint, repo, url.PathEscape(rev))
	resp, err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(resp, repo, rev, "")
	}
	var info Info
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("%s@%s: the Hub's answer: %w", repo, rev, err)
	}
	if !IsCommit(info.Commit) {
		return nil, fmt.Errorf("%s@%s: the Hub named no commit (sha %q)", repo, rev, info.Commit)
	}
	for _, s := range info.Files {
		if err := CheckFile(s.Name); err != nil {
			return nil, fmt.Errorf("%s@%s: the Hub lists a bad file name: %w", repo, rev, err)
		}
	}
	return &info, nil
}

// do sends a request; the token goes only to the endpoint's own host. A client whose redirects
// are not followed is used for HEAD (the storage URL is read from Location).
func (c *Client) do(ctx context.Context, method, u string, header http.Header, noRedirect func(*http.Request, []*http.Request) error) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "mbd/"+version.String())
	if c.Token != "" && c.sameHost(req.URL) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	if noRedirect != nil {
		cp := *hc
		cp.CheckRedirect = noRedirect
		hc = &cp
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errorf(ErrNetwork, "cannot reach the Hub at %s (set HF_HUB_OFFLINE=1 to use the cache): %v", c.Endpoint, unwrapURL(err))
	}
	return resp, nil
}

// unwrapURL drops url.Error's "Get URL:" prefix, which repeats what the message says.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) sameHost(u *url.URL) bool {
	e, err := url.Parse(c.Endpoint)
	return err == nil && strings.EqualFold(e.Host, u.Host) && e.Scheme == u.Scheme
}

// statusError turns an error answer into a one-line error. The Hub names the missing thing in
// X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo); file is "" for the API.
func (c *Client) statusError(resp *http.Response, repo, rev, file string) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" && resp.Request != nil && resp.Request.Method != http.MethodHead {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var j struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &j) == nil && j.Error != "" {
			msg = j.Error
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		if code == "GatedRepo" {
			return errorf(ErrAccess, "%s is gated (HTTP %d): accept its conditions on the Hub, then set HF_TOKEN to a token of that account", repo, resp.StatusCode)
		}
		hint := "set HF_TOKEN to a token that can read it"
		if c.Token != "" {
			hint = "HF_TOKEN is set but cannot read it"
		}
		return errorf(ErrAccess, "%s: access denied (HTTP %d): a private or gated repository, or none by that name; %s", repo, resp.StatusCode, hint)
	case http.StatusNotFound:
		switch {
		case code == "RepoNotFound":
			return errorf(ErrNotFound, "repository %s not found on %s", repo, c.Endpoint)
		case code == "RevisionNotFound":
			return errorf(ErrNotFound, "revision %q not found in %s", rev, repo)
		case code == "EntryNotFound" || file != "":
			return errorf(ErrNotFound, "file %s not found in %s@%s", file, repo, rev)
		}
		return errorf(ErrNotFound, "repository %s or its revision %q not found on %s", repo, rev, c.Endpoint)
	}
	if msg != "" {
		msg = ": " + strings.Join(strings.Fields(msg), " ")
	}
	what := repo + "@" + rev
	if file != "" {
		what += " " + file
	}
	return errorf(ErrServer, "%s: the Hub answered HTTP %d%s", what, resp.StatusCode, msg)
}
