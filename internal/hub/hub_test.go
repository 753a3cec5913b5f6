package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mbd-dev/mbd/internal/hub/hubtest"
)

// repoFiles is a small repository: a regular file, an LFS file of 3000 bytes and a nested file.
func repoFiles() map[string][]byte {
	weights := make([]byte, 3000)
	for i := range weights {
		weights[i] = byte(i * 7)
	}
	return map[string][]byte{
		"config.json":       []byte(`{"architectures":["LlamaForCausalLM"]}`),
		"model.safetensors": weights,
		"sub/notes.txt":     []byte("nested\n"),
	}
}

func newClient(t *testing.T, s *hubtest.Server) *Client {
	t.Helper()
	return &Client{Endpoint: s.URL, Cache: filepath.Join(t.TempDir(), "hub")}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestCacheLayout checks the folders huggingface_hub would write: blobs named by etag (SHA-256
// for LFS files, the git blob id for others), snapshot entries that are relative symlinks to them,
// refs/main holding the commit, and no request for content on a second download.
func TestCacheLayout(t *testing.T) {
	s := hubtest.New()
	defer s.Close()
	files := repoFiles()
	commit := s.Commit("org/repo", "main", files, false)
	c := newClient(t, s)
	snap, err := c.Download(context.Background(), "org/repo", "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(c.Cache, "models--org--repo")
	if snap.Commit != commit || snap.Dir != filepath.Join(repoDir, "snapshots", commit) {
		t.Fatalf("snapshot %+v, want commit %s", snap, commit)
	}
	if !slices.Equal(snap.Files, []string{"config.json", "model.safetensors", "sub/notes.txt"}) {
		t.Errorf("files %v", snap.Files)
	}
	if b, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(b) != commit {
		t.Errorf("refs/main = %q, %v; want %s with no newline", b, err, commit)
	}
	for name, data := range files {
		pointer := snap.Path(name)
		target, err := os.Readlink(pointer)
		if err != nil {
			t.Fatalf("%s: not a symlink: %v", name, err)
		}
		depth := strings.Count(name, "/")
		blobName := filepath.Base(target)
		wantTarget := strings.Repeat("../", 2+depth) + "blobs/" + blobName
		if filepath.ToSlash(target) != wantTarget {
			t.Errorf("%s -> %s, want %s", name, target, wantTarget)
		}
		if name == "model.safetensors" && blobName != sha(data) {
			t.Errorf("LFS blob named %s, want its SHA-256 %s", blobName, sha(data))
		}
		if name == "config.json" && blobName != gitOID(data) {
			t.Errorf("regular blob named %s, want its git blob id %s", blobName, gitOID(data))
		}
		got, err := os.ReadFile(pointer)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: content differs (%v)", name, err)
		}
	}
	blobs, _ := os.ReadDir(filepath.Join(repoDir, "blobs"))
	if len(blobs) != 3 {
		t.Errorf("%d blobs, want 3 (no .incomplete left)", len(blobs))
	}
	if n := s.ContentRequests(); n != 3 {
		t.Errorf("%d content requests, want 3", n)
	}

	s.Reset()
	if _, err := c.Download(context.Background(), "org/repo", "main", nil); err != nil {
		t.Fatal(err)
	}
	if n := s.ContentRequests(); n != 0 {
		t.Errorf("second download: %d content requests, want 0", n)
	}
	if n := s.Requests("HEAD", "/org/repo/resolve/"+commit+"/model.safetensors"); n != 0 {
		t.Errorf("second download: %d HEAD requests, want 0", n)
	}

	// A new commit on main shares the unchanged blobs and moves refs/main.
	files["config.json"] = []byte(`{"architectures":["LlamaForCausalLM"],"x":1}`)
	commit2 := s.Commit("org/repo", "main", files, false)
	s.Reset()
	snap2, err := c.Download(context.Background(), "org/repo", "main", func(n string) bool { return n != "sub/notes.txt" })
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Commit != commit2 || s.ContentRequests() != 1 {
		t.Errorf("new commit %s (want %s), %d content requests (want 1: config.json)", snap2.Commit, commit2, s.ContentRequests())
	}
	if b, _ := os.ReadFile(filepath.Join(repoDir, "refs", "main")); string(b) != commit2 {
		t.Errorf("refs/main = %q, want %s", b, commit2)
	}
}

func gitOID(data []byte) string {
	h := sha1Sum(fmt.Appendf(nil, "blob %d\x00%s", len(data), data))
	return h
}

func TestResume(t *testing.T) {
	files := repoFiles()
	weights := files["model.safetensors"]
	t.Run("within a run", func(t *testing.T) {
		s := hubtest.New()
		defer s.Close()
		s.Commit("org/repo", "main", files, false)
		s.Cut("model.safetensors", 1000)
		c := newClient(t, s)
		snap, err := c.Download(context.Background(), "org/repo", "main", func(n string) bool { return n == "model.safetensors" })
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Ranges(); !slices.Equal(got, []string{"", "bytes=1000-"}) {
			t.Errorf("ranges %q, want a full request then bytes=1000-", got)
		}
		if got, _ := os.ReadFile(snap.Path("model.safetensors")); !bytes.Equal(got, weights) {
			t.Error("resumed file differs")
		}
	})
	t.Run("a later run", func(t *testing.T) {
		s := hubtest.New()
		defer s.Close()
		s.Commit("org/repo", "main", files, false)
		c := newClient(t, s)
		inc := filepath.Join(c.Cache, "models--org--repo", "blobs", sha(weights)+".incomplete")
		if err := os.MkdirAll(filepath.Dir(inc), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inc, weights[:1234], 0o644); err != nil {
			t.Fatal(err)
		}
		snap, err := c.Download(context.Background(), "org/repo", "main", func(n string) bool { return n == "model.safetensors" })
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Ranges(); !slices.Equal(got, []string{"bytes=1234-"}) {
			t.Errorf("ranges %q, want only bytes=1234-", got)
		}
		if got, _ := os.ReadFile(snap.Path("model.safetensors")); !bytes.Equal(got, weights) {
			t.Error("resumed file differs")
		}
		if _, err := os.Stat(inc); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf(".incomplete left behind: %v", err)
		}
	})
}

func TestChecksum(t *testing.T) {
	files := repoFiles()
	weights := files["model.safetensors"]
	for _, c := range []struct {
		name    string
		corrupt int
		fails   bool
	}{
		{"one corrupt download is fetched again", 1, false},
		{"two corrupt downloads fail", 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := hubtest.New()
			defer s.Close()
			s.Commit("org/repo", "main", files, false)
			s.Corrupt("model.safetensors", c.corrupt)
			cl := newClient(t, s)
			snap, err := cl.Download(context.Background(), "org/repo", "main", nil)
			want := 4 // 3 files, one twice
			if c.fails {
				want = 3 // config.json, then model.safetensors twice; the error stops the rest
			}
			if s.ContentRequests() != want {
				t.Errorf("%d content requests, want %d", s.ContentRequests(), want)
			}
			blobs := filepath.Join(cl.Cache, "models--org--repo", "blobs")
			if c.fails {
				if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "model.safetensors") {
					t.Fatalf("err %v, want a checksum error naming the file", err)
				}
				if _, err := os.Stat(filepath.Join(blobs, sha(weights)+".incomplete")); !errors.Is(err, fs.ErrNotExist) {
					t.Error("the corrupt download was kept")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(snap.Path("model.safetensors")); !bytes.Equal(got, weights) {
				t.Error("file differs after the second download")
			}
		})
	}
}

func TestOffline(t *testing.T) {
	s := hubtest.New()
	commit := s.Commit("org/repo", "main", repoFiles(), false)
	c := newClient(t, s)
	want := func(n string) bool { return n != "sub/notes.txt" }
	if _, err := c.Download(context.Background(), "org/repo", "main", want); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	off := *c
	off.Offline = true
	for _, rev := range []string{"main", commit} {
		snap, err := off.Download(context.Background(), "org/repo", rev, nil)
		if err != nil {
			t.Fatalf("offline %s: %v", rev, err)
		}
		if snap.Commit != commit || !slices.Equal(snap.Files, []string{"config.json", "model.safetensors"}) {
			t.Errorf("offline %s: commit %s files %v", rev, snap.Commit, snap.Files)
		}
	}
	if n := s.Requests("GET", "/api/models/org/repo/revision/main"); n != 0 {
		t.Errorf("offline made %d API requests", n)
	}
	for _, rev := range []string{"dev", strings.Repeat("a", 40)} {
		_, err := off.Download(context.Background(), "org/repo", rev, nil)
		if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "not in the cache") || !strings.Contains(err.Error(), "mbd-model pull hf:org/repo@"+rev) {
			t.Errorf("offline %s: %v, want a not-in-the-cache error", rev, err)
		}
	}
	// A Hub that cannot be reached: the cache answers.
	s.Close()
	snap, err := c.Download(context.Background(), "org/repo", "main", nil)
	if err != nil || snap.Commit != commit {
		t.Errorf("unreachable Hub: %v, %v", snap, err)
	}
	if _, err := c.Download(context.Background(), "org/other", "main", nil); err == nil || !strings.Contains(err.Error(), "cannot reach the Hub") {
		t.Errorf("unreachable Hub, nothing cached: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s := hubtest.New()
	defer s.Close()
	s.Commit("org/private", "main", repoFiles(), true)
	s.Commit("org/repo", "main", repoFiles(), false)
	for _, c := range []struct {
		name, token, repo, rev string
		kind                   error
		want                   []string
	}{
		{"no token", "", "org/private", "main", ErrAccess, []string{"org/private", "HTTP 401", "set HF_TOKEN"}},
		{"wrong token", "hf_wrong_secret", "org/private", "main", ErrAccess, []string{"HTTP 401", "HF_TOKEN is set but cannot read it"}},
		{"no repository", "", "org/none", "main", ErrNotFound, []string{"repository org/none not found"}},
		{"no revision", "", "org/repo", "v9", ErrNotFound, []string{`revision "v9" not found in org/repo`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newClient(t, s)
			cl.Token = c.token
			_, err := cl.Download(context.Background(), c.repo, c.rev, nil)
			if !errors.Is(err, c.kind) || !BadReference(err) {
				t.Fatalf("err %v, want %v", err, c.kind)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if c.token != "" && strings.Contains(err.Error(), c.token) {
				t.Errorf("the error shows the token: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
	t.Run("token", func(t *testing.T) {
		cl := newClient(t, s)
		cl.Token = s.Token
		if _, err := cl.Download(context.Background(), "org/private", "main", nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no file", func(t *testing.T) {
		cl := newClient(t, s)
		_, err := cl.head(context.Background(), "org/repo", "main", "missing.gguf")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "file missing.gguf not found in org/repo@main") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("bad names", func(t *testing.T) {
		cl := newClient(t, s)
		for _, repo := range []string{"noslash", "a/b/c", "org/re--po", "org/..", "-org/repo", "org/repo."} {
			if _, err := cl.Download(context.Background(), repo, "main", nil); err == nil || !strings.Contains(err.Error(), "repository") {
				t.Errorf("repo %q: %v", repo, err)
			}
		}
		for _, rev := range []string{"", "a..b", "/main", "a b", "x?y"} {
			if _, err := cl.Download(context.Background(), "org/repo", rev, nil); err == nil || !strings.Contains(err.Error(), "revision") {
				t.Errorf("revision %q: %v", rev, err)
			}
		}
	})
}

func TestDiskFull(t *testing.T) {
	err := diskErr(&fs.PathError{Op: "write", Path: "/cache/blobs/x.incomplete", Err: syscall.ENOSPC})
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "disk full writing /cache/blobs/x.incomplete") {
		t.Errorf("err %v", err)
	}
	if other := errors.New("other"); diskErr(other) != other {
		t.Error("diskErr changed another error")
	}
}

func TestFromEnv(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  map[string]string
		want Client
	}{
		{map[string]string{"HF_HOME": home}, Client{Endpoint: DefaultEndpoint, Cache: filepath.Join(home, "hub"), Token: "hf_from_file"}},
		{map[string]string{"HF_HOME": home, "HF_TOKEN": "hf_env", "HF_HUB_CACHE": "/c", "HF_ENDPOINT": "http://mirror:8080/", "HF_HUB_OFFLINE": "1"},
			Client{Endpoint: "http://mirror:8080", Cache: "/c", Token: "hf_env", Offline: true}},
		{map[string]string{"HF_HOME": "", "XDG_CACHE_HOME": "/x", "HF_HUB_OFFLINE": "0", "HF_TOKEN_PATH": filepath.Join(home, "token")},
			Client{Endpoint: DefaultEndpoint, Cache: "/x/huggingface/hub", Token: "hf_from_file"}},
	} {
		for _, k := range []string{"HF_HOME", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_HUB_OFFLINE", "XDG_CACHE_HOME"} {
			t.Setenv(k, c.env[k])
		}
		got, err := FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if *got != c.want {
			t.Errorf("env %v: %+v, want %+v", c.env, *got, c.want)
		}
	}
	t.Setenv("HF_ENDPOINT", "ftp://x")
	if _, err := FromEnv(); err == nil {
		t.Error("ftp endpoint accepted")
	}
}

func sha1Sum(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}
