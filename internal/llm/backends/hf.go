package backends

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mbd-dev/mbd/internal/hub"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/modelconvert"
)

// hfRef is a parsed hf: reference: hf:ORG/REPO[/FILE.gguf][@REVISION][?gguf options].
type hfRef struct {
	repo  string // ORG/REPO
	file  string // FILE.gguf in the repository, or "" for a safetensors checkpoint
	rev   string // branch, tag or commit; "main" when not given
	query string // the gguf: options as written
	g     ggufRef
}

// parseHF parses the part of an hf: reference after the scheme, without touching the network.
func parseHF(rest string) (hfRef, error) {
	body, query, _ := strings.Cut(rest, "?")
	path, rev, hasRev := strings.Cut(body, "@")
	h := hfRef{rev: "main", query: query}
	if hasRev {
		if rev == "" {
			return h, fmt.Errorf("no revision after @")
		}
		h.rev = rev
	}
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 {
		return h, fmt.Errorf("want hf:ORG/REPO (a safetensors checkpoint) or hf:ORG/REPO/FILE.gguf")
	}
	h.repo = parts[0] + "/" + parts[1]
	if err := hub.CheckRepo(h.repo); err != nil {
		return h, err
	}
	if err := hub.CheckRevision(h.rev); err != nil {
		return h, err
	}
	if len(parts) == 3 {
		h.file = parts[2]
		if err := hub.CheckFile(h.file); err != nil {
			return h, err
		}
		if !strings.HasSuffix(strings.ToLower(h.file), ".gguf") {
			return h, fmt.Errorf("file %q: want a .gguf file (hf:ORG/REPO alone converts the repository's safetensors)", h.file)
		}
	}
	g, err := parseGGUF(h.repo + "?" + query)
	if err != nil {
		return h, err
	}
	h.g = g
	return h, nil
}

// pinned is the reference with its revision replaced by the commit sha.
func (h hfRef) pinned(commit string) string {
	s := "hf:" + h.repo
	if h.file != "" {
		s += "/" + h.file
	}
	s += "@" + commit
	if h.query != "" {
		s += "?" + h.query
	}
	return s
}

// hfLocal is an hf: reference made local: the GGUF file and the commit it came from.
type hfLocal struct {
	path   string
	commit string
}

// fetched remembers the references made local in this process (by revision as given and by
// commit), so that Fetch, Files and Open ask the Hub once.
var fetched = struct {
	sync.Mutex
	m map[string]hfLocal
}{m: map[string]hfLocal{}}

// Fetched is a model reference after Fetch.
type Fetched struct {
	Ref  string // the reference to record: an hf: reference pinned to its commit sha, else as given
	Path string // the local GGUF file of an hf: reference; "" for other schemes
}

// Fetch makes the local files of ref present: for hf: references it downloads the repository's
// files into the Hugging Face cache (HF_HUB_CACHE) and, for a safetensors checkpoint, converts it
// to GGUF once (cached under the user cache folder's mbd/hf by repository, commit and converter
// version). Other references are returned as they are. log (nil for none) gets download messages.
func Fetch(ctx context.Context, ref string, log *slog.Logger) (Fetched, error) {
	scheme, rest, err := split(ref)
	if err != nil || scheme != "hf" {
		return Fetched{Ref: ref}, err
	}
	h, err := parseHF(rest)
	if err != nil {
		return Fetched{}, fmt.Errorf("model reference %q: %w", ref, err)
	}
	loc, err := fetchHF(ctx, h, log)
	if err != nil {
		return Fetched{}, fmt.Errorf("model reference %q: %w", ref, err)
	}
	return Fetched{Ref: h.pinned(loc.commit), Path: loc.path}, nil
}

func fetchHF(ctx context.Context, h hfRef, log *slog.Logger) (hfLocal, error) {
	fetched.Lock()
	defer fetched.Unlock()
	key := h.repo + "/" + h.file + "@" + h.rev
	if loc, ok := fetched.m[key]; ok {
		return loc, nil
	}
	c, err := hub.FromEnv()
	if err != nil {
		return hfLocal{}, err
	}
	c.Progress, c.Log = os.Stderr, log
	var loc hfLocal
	if h.file != "" {
		snap, err := c.Download(ctx, h.repo, h.rev, func(n string) bool { return n == h.file })
		if err != nil {
			return hfLocal{}, err
		}
		if len(snap.Files) == 0 {
			if c.Offline {
				return hfLocal{}, &hub.Error{Kind: hub.ErrOffline, Msg: fmt.Sprintf("file %s of %s@%s is not in the cache %s (offline)", h.file, h.repo, h.rev, c.Cache)}
			}
			return hfLocal{}, &hub.Error{Kind: hub.ErrNotFound, Msg: fmt.Sprintf("file %s not found in %s@%s", h.file, h.repo, h.rev)}
		}
		loc = hfLocal{path: snap.Path(h.file), commit: snap.Commit}
	} else {
		snap, err := c.Download(ctx, h.repo, h.rev, modelconvert.Needed)
		if err != nil {
			return hfLocal{}, err
		}
		if !hasSafetensors(snap.Files) {
			return hfLocal{}, fmt.Errorf("%s@%s has no *.safetensors weights (for a GGUF file in the repository, use hf:%s/FILE.gguf)", h.repo, h.rev, h.repo)
		}
		out, err := convertedPath(h.repo, snap.Commit)
		if err != nil {
			return hfLocal{}, err
		}
		if _, err := os.Stat(out); err != nil {
			if _, _, err := modelconvert.Check(snap.Dir); err != nil {
				return hfLocal{}, err
			}
			if log != nil {
				log.Info("converting to GGUF", "repo", h.repo, "commit", snap.Commit, "output", out)
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return hfLocal{}, err
			}
			if err := modelconvert.Convert(snap.Dir, out); err != nil {
				return hfLocal{}, err
			}
		}
		loc = hfLocal{path: out, commit: snap.Commit}
	}
	fetched.m[key] = loc
	fetched.m[h.repo+"/"+h.file+"@"+loc.commit] = loc
	return loc, nil
}

func hasSafetensors(files []string) bool {
	for _, f := range files {
		if strings.HasSuffix(f, ".safetensors") {
			return true
		}
	}
	return false
}

// mbdCache is the folder of the GGUF files made from Hub repositories: mbd/hf in the user cache
// folder (~/.cache/mbd/hf on Linux; XDG_CACHE_HOME moves it).
func mbdCache() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for converted models (set XDG_CACHE_HOME): %w", err)
	}
	return filepath.Join(d, "mbd", "hf"), nil
}

// convertedPath is where the conversion of repo at commit is cached:
// mbd/hf/models--ORG--REPO/<commit>/<converter version>/REPO.gguf.
func convertedPath(repo, commit string) (string, error) {
	d, err := mbdCache()
	if err != nil {
		return "", err
	}
	_, name, _ := strings.Cut(repo, "/")
	return filepath.Join(d, hub.RepoFolder(repo), commit, modelconvert.Version, name+".gguf"), nil
}

// hfOptions are the llama.cpp options of an hf: reference made local: its GGUF, its system
// prompt, and with quant= a quantized copy (beside a converted file; under mbd/hf for a file of
// the repository, never inside the Hugging Face cache).
func hfOptions(h hfRef, loc hfLocal) (llamacpp.Options, error) {
	g := h.g
	g.opts.Path = loc.path
	out := ""
	if g.quant != "" && h.file != "" {
		d, err := mbdCache()
		if err != nil {
			return g.opts, err
		}
		base := strings.TrimSuffix(filepath.Base(h.file), filepath.Ext(h.file))
		out = filepath.Join(d, hub.RepoFolder(h.repo), loc.commit, fmt.Sprintf("%s.%s.gguf", base, strings.ToLower(g.quant)))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return g.opts, err
		}
	}
	return g.options(out)
}

func openHF(ref, rest string) (hfRef, hfLocal, error) {
	h, err := parseHF(rest)
	if err != nil {
		return h, hfLocal{}, fmt.Errorf("model reference %q: %w", ref, err)
	}
	loc, err := fetchHF(context.Background(), h, nil)
	if err != nil {
		return h, hfLocal{}, fmt.Errorf("model reference %q: %w", ref, err)
	}
	return h, loc, nil
}
