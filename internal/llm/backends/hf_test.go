package backends

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/hub"
	"github.com/mbd-dev/mbd/internal/hub/hubtest"
	"github.com/mbd-dev/mbd/internal/modelconvert"
	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
)

func TestParseHF(t *testing.T) {
	for _, c := range []struct {
		ref, repo, file, rev, pinned, err string
	}{
		{ref: "hf:org/repo", repo: "org/repo", rev: "main", pinned: "hf:org/repo@SHA"},
		{ref: "hf:org/repo@v1.0?threads=1&quant=Q8_0", repo: "org/repo", rev: "v1.0", pinned: "hf:org/repo@SHA?threads=1&quant=Q8_0"},
		{ref: "hf:org/repo/sub/m.Q4_K_M.gguf@refs/pr/1", repo: "org/repo", file: "sub/m.Q4_K_M.gguf", rev: "refs/pr/1", pinned: "hf:org/repo/sub/m.Q4_K_M.gguf@SHA"},
		{ref: "hf:org", err: "want hf:ORG/REPO"},
		{ref: "hf:org/re--po", err: "not a valid name"},
		{ref: "hf:org/repo@", err: "no revision after @"},
		{ref: "hf:org/repo@a..b", err: "revision"},
		{ref: "hf:org/repo/model.safetensors", err: "want a .gguf file"},
		{ref: "hf:org/repo/../x.gguf", err: "relative path"},
		{ref: "hf:org/repo?threads=0", err: "threads"},
		{ref: "hf:org/repo?bogus=1", err: "unknown option"},
	} {
		h, err := parseHF(strings.TrimPrefix(c.ref, "hf:"))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error about %q", c.ref, err, c.err)
			}
			if err := Check(c.ref); err == nil || !strings.Contains(err.Error(), c.ref) {
				t.Errorf("Check(%s) = %v, want an error naming the reference", c.ref, err)
			}
			continue
		}
		if err != nil || h.repo != c.repo || h.file != c.file || h.rev != c.rev || h.pinned("SHA") != c.pinned {
			t.Errorf("%s: %+v %q, %v", c.ref, h, h.pinned("SHA"), err)
		}
		if err := Check(c.ref); err != nil {
			t.Errorf("Check(%s): %v", c.ref, err)
		}
	}
	if got := LocalFiles("hf:org/repo?system=sys.txt&lora=a.gguf"); !slices.Equal(got, []string{"sys.txt", "a.gguf"}) {
		t.Errorf("LocalFiles = %v", got)
	}
}

// hubEnv starts a fake Hub with a tiny Llama checkpoint (tiny-org/tiny-llama), a GGUF file
// (tiny-org/tiny-gguf/tiny.gguf) and a private copy of the checkpoint, and points the Hub's
// environment variables and the user cache at temporary folders.
func hubEnv(t *testing.T) *hubtest.Server {
	t.Helper()
	m, err := hftest.WriteLlama(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gguf, err := os.ReadFile(tinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := hubtest.NewTiny(m.HFDir, gguf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	dir := t.TempDir()
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("HF_HOME", filepath.Join(dir, "hf"))
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	resetFetched()
	t.Cleanup(resetFetched)
	return s
}

func resetFetched() {
	fetched.Lock()
	fetched.m = map[string]hfLocal{}
	fetched.Unlock()
}

func TestFetchSafetensors(t *testing.T) {
	s := hubEnv(t)
	ctx := context.Background()
	f, err := Fetch(ctx, "hf:tiny-org/tiny-llama?threads=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimPrefix(strings.TrimSuffix(f.Ref, "?threads=1"), "hf:tiny-org/tiny-llama@")
	if !hub.IsCommit(commit) {
		t.Fatalf("pinned reference %q", f.Ref)
	}
	cache := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "mbd", "hf")
	if want := filepath.Join(cache, "models--tiny-org--tiny-llama", commit, modelconvert.Version, "tiny-llama.gguf"); f.Path != want {
		t.Errorf("path %s, want %s", f.Path, want)
	}
	snap := filepath.Join(os.Getenv("HF_HOME"), "hub", "models--tiny-org--tiny-llama", "snapshots", commit)
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if _, err := os.Readlink(filepath.Join(snap, name)); err != nil {
			t.Errorf("%s not in the snapshot: %v", name, err)
		}
	}
	files, err := Files(f.Ref)
	if err != nil || !slices.Equal(files, []string{f.Path}) {
		t.Errorf("Files = %v, %v", files, err)
	}
	m, err := Open("hf:tiny-org/tiny-llama?threads=1&ctx=64")
	if err != nil {
		t.Fatal(err)
	}
	if info := m.Info(); info.Arch != "llama" || info.Layers != 2 {
		t.Errorf("opened %+v", info)
	}
	m.Close()

	// Another process: no content request, no second conversion.
	st, _ := os.Stat(f.Path)
	resetFetched()
	s.Reset()
	f2, err := Fetch(ctx, "hf:tiny-org/tiny-llama@main", nil)
	if err != nil || f2.Path != f.Path || f2.Ref != "hf:tiny-org/tiny-llama@"+commit {
		t.Fatalf("second fetch %+v, %v", f2, err)
	}
	if n := s.ContentRequests(); n != 0 {
		t.Errorf("second fetch: %d content requests", n)
	}
	if st2, _ := os.Stat(f.Path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("converted again")
	}

	// Offline, from the cache; and a revision never fetched.
	resetFetched()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if f3, err := Fetch(ctx, "hf:tiny-org/tiny-llama", nil); err != nil || f3.Path != f.Path {
		t.Errorf("offline: %+v, %v", f3, err)
	}
	if _, err := Fetch(ctx, "hf:tiny-org/tiny-llama@dev", nil); !errors.Is(err, hub.ErrOffline) {
		t.Errorf("offline, not cached: %v", err)
	}
}

func TestFetchGGUF(t *testing.T) {
	s := hubEnv(t)
	ref := "hf:tiny-org/tiny-gguf/tiny.gguf?threads=1&quant=Q8_0"
	f, err := Fetch(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(f.Path, filepath.Join("snapshots", strings.TrimPrefix(strings.TrimSuffix(f.Ref, "?threads=1&quant=Q8_0"), "hf:tiny-org/tiny-gguf/tiny.gguf@"), "tiny.gguf")) {
		t.Errorf("path %s, ref %s", f.Path, f.Ref)
	}
	if s.Requests("HEAD", "/tiny-org/tiny-gguf/resolve/main/README.md") != 0 || s.ContentRequests() != 1 {
		t.Errorf("%d content requests, want 1 (the GGUF only)", s.ContentRequests())
	}
	m, err := Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	if info := m.Info(); info.FileType != "Q8_0" {
		t.Errorf("file type %s, want Q8_0", info.FileType)
	}
	m.Close()
	snap := filepath.Dir(f.Path)
	if ents, _ := os.ReadDir(snap); len(ents) != 1 {
		t.Errorf("the quantized copy went into the Hub's snapshot: %v", ents)
	}
}

func TestFetchErrors(t *testing.T) {
	hubEnv(t)
	for _, c := range []struct {
		ref  string
		kind error
		want string
	}{
		{"hf:tiny-org/private-llama", hub.ErrAccess, "set HF_TOKEN"},
		{"hf:tiny-org/none", hub.ErrNotFound, "repository tiny-org/none not found"},
		{"hf:tiny-org/tiny-llama@v2", hub.ErrNotFound, `revision "v2" not found`},
		{"hf:tiny-org/tiny-gguf/other.gguf", hub.ErrNotFound, "file other.gguf not found in tiny-org/tiny-gguf@main"},
		{"hf:tiny-org/tiny-gguf", nil, "has no *.safetensors weights"},
	} {
		_, err := Fetch(context.Background(), c.ref, nil)
		if err == nil || (c.kind != nil && !errors.Is(err, c.kind)) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.ref) {
			t.Errorf("%s: %v, want %q", c.ref, err, c.want)
		}
		if _, err := Files(c.ref); err == nil {
			t.Errorf("Files(%s) succeeded", c.ref)
		}
	}
	t.Setenv("HF_TOKEN", "hf_test_token")
	if _, err := Fetch(context.Background(), "hf:tiny-org/private-llama", nil); err != nil {
		t.Errorf("with the token: %v", err)
	}
}
