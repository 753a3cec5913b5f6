// Package backends opens a model from its reference string:
//
//	gguf:PATH[?system=FILE&chat=auto|on|off&lora=ADAPTER&lora-scale=S&quant=TYPE&exact=1&ctx=N&parallel=N&batch=N&threads=N&gpu-layers=N|all]
//	hf:ORG/REPO[@REVISION][?gguf options]            (a safetensors checkpoint on the Hugging Face Hub)
//	hf:ORG/REPO/FILE.gguf[@REVISION][?gguf options]  (a GGUF file on the Hub)
//	openai-compat:URL#MODEL[?chat=1&system=FILE]
//	openai:MODEL
//	synth:SPEC[?seed=N]   (the synthetic world's ideal text source; see package synthmodel)
//
// gguf: runs in-process through llama.cpp. system= makes a prompt-induced variant (a hidden system
// prompt read from FILE); lora= applies a llama.cpp LoRA adapter (mbd-finetune --lora-adapter);
// quant= quantizes the file once (cached beside it as NAME.type.gguf for NAME.gguf, redone when
// the file is newer than the copy) and loads the quantized copy. Generation takes llama.cpp's fast
// path (flash attention, F16 KV cache) and scoring runs in F32; exact=1 generates in F32 too.
// gpu-layers= offloads that many layers (all: every one) to a GPU backend, which must be loaded
// (MBD_GGML_BACKEND; package llamacpp).
//
// hf: downloads from the Hugging Face Hub into its cache (package hub; HF_TOKEN, HF_ENDPOINT,
// HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE), converts a safetensors checkpoint to GGUF once
// (modelconvert, cached by repository, commit and converter version), then runs it as gguf: does,
// with the same options. The revision defaults to main. Fetch does the download and conversion
// and returns the reference pinned to its commit sha (hf:ORG/REPO@<sha>), which commands record.
//
// Check parses a reference and checks every option's range without touching a file or a server,
// so a command can refuse a bad reference before any work; Files lists the local files a
// reference reads, so a command can record (and fingerprint) them. For hf: references Files
// fetches first (the GGUF it lists is in a cache), while LocalFiles never touches the network: it
// lists only the system prompt and adapter files.
package backends

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
	"github.com/mbd-dev/mbd/internal/llm/synthmodel"
)

// Open opens the model a reference names.
func Open(ref string) (llm.Model, error) {
	scheme, rest, err := split(ref)
	if err != nil {
		return nil, err
	}
	switch scheme {
	case "gguf":
		opts, err := ParseGGUF(rest)
		if err != nil {
			return nil, fmt.Errorf("model reference %q: %w", ref, err)
		}
		return llamacpp.Load(opts)
	case "hf":
		h, loc, err := openHF(ref, rest)
		if err != nil {
			return nil, err
		}
		opts, err := hfOptions(h, loc)
		if err != nil {
			return nil, fmt.Errorf("model reference %q: %w", ref, err)
		}
		return llamacpp.Load(opts)
	case "openai-compat", "openai":
		return openRemote(ref)
	default: // synth
		m, err := synthmodel.Open(rest)
		if err != nil {
			return nil, fmt.Errorf("model reference %q: %w", ref, err)
		}
		return m, nil
	}
}

// Check parses ref and checks its options without reading a file or calling a server. A
// reference that passes can still fail to open (a missing file, a server that is down).
func Check(ref string) error {
	scheme, rest, err := split(ref)
	if err != nil {
		return err
	}
	switch scheme {
	case "gguf":
		if _, err := parseGGUF(rest); err != nil {
			return fmt.Errorf("model reference %q: %w", ref, err)
		}
	case "hf":
		if _, err := parseHF(rest); err != nil {
			return fmt.Errorf("model reference %q: %w", ref, err)
		}
	case "openai-compat", "openai":
		_, err = openaicompat.ParseRef(ref)
		return err
	default:
		if _, err := synthmodel.Open(rest); err != nil {
			return fmt.Errorf("model reference %q: %w", ref, err)
		}
	}
	return nil
}

// LocalFiles is Files without the error: the local files of ref, or none when ref does not parse
// or names no local file. Tools register them as inputs that no output may overwrite
// (cli.Paths.Shared); checking the reference itself is Check's job.
func LocalFiles(ref string) []string {
	if scheme, rest, err := split(ref); err == nil && scheme == "hf" {
		h, err := parseHF(rest)
		if err != nil {
			return nil
		}
		return slices.DeleteFunc([]string{h.g.system, h.g.opts.LoRA}, func(f string) bool { return f == "" })
	}
	files, err := Files(ref)
	if err != nil {
		return nil
	}
	return files
}

// Files lists the local files that decide what the model of ref answers: the GGUF file, its
// system prompt and LoRA adapter, or an API model's system prompt file. A remote model's weights
// are not among them. An hf: reference is fetched first (Fetch); its GGUF is the downloaded file
// or the cached conversion.
func Files(ref string) ([]string, error) {
	scheme, rest, err := split(ref)
	if err != nil {
		return nil, err
	}
	var files []string
	switch scheme {
	case "gguf":
		g, err := parseGGUF(rest)
		if err != nil {
			return nil, fmt.Errorf("model reference %q: %w", ref, err)
		}
		files = []string{g.opts.Path, g.system, g.opts.LoRA}
	case "hf":
		h, loc, err := openHF(ref, rest)
		if err != nil {
			return nil, err
		}
		files = []string{loc.path, h.g.system, h.g.opts.LoRA}
	case "openai-compat", "openai":
		cfg, err := openaicompat.ParseRef(ref)
		if err != nil {
			return nil, err
		}
		files = []string{cfg.SystemPromptFile}
	}
	return slices.DeleteFunc(files, func(f string) bool { return f == "" }), nil
}

func split(ref string) (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return "", "", fmt.Errorf("model reference %q: want gguf:PATH, hf:ORG/REPO, openai-compat:URL#MODEL, openai:MODEL or synth:SPEC", ref)
	}
	switch scheme {
	case "gguf", "hf", "openai-compat", "openai", "synth":
		return scheme, rest, nil
	}
	return "", "", fmt.Errorf("model reference %q: unknown scheme %q (want gguf, hf, openai-compat, openai or synth)", ref, scheme)
}

// ggufRef is a parsed gguf: reference, before its files are read.
type ggufRef struct {
	opts   llamacpp.Options
	system string // system prompt file
	quant  string // quantization type
}

// parseGGUF parses the part of a gguf: reference after the scheme and checks the options' ranges
// (llamacpp.Options.Check).
func parseGGUF(rest string) (ggufRef, error) {
	path, query, _ := strings.Cut(rest, "?")
	g := ggufRef{opts: llamacpp.Options{Path: path}}
	if path == "" {
		return g, fmt.Errorf("no model path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return g, fmt.Errorf("query: %w", err)
	}
	o := &g.opts
	ints := map[string]*int{"ctx": &o.Ctx, "parallel": &o.Parallel, "batch": &o.Batch, "threads": &o.Threads, "gpu-layers": &o.GPULayers}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		v := q[key][len(q[key])-1]
		switch key {
		case "system":
			if v == "" {
				return g, fmt.Errorf("system=: want a file name")
			}
			g.system = v
		case "chat":
			o.Chat = v
		case "lora":
			if v == "" {
				return g, fmt.Errorf("lora=: want an adapter file")
			}
			o.LoRA = v
		case "lora-scale":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return g, fmt.Errorf("lora-scale=%q: want a number", v)
			}
			o.LoRAScale = f
		case "exact":
			switch v {
			case "1", "true":
				o.Exact = true
			case "0", "false":
				o.Exact = false
			default:
				return g, fmt.Errorf("exact=%q: want 1 or 0", v)
			}
		case "quant":
			if !llamacpp.KnownQuant(v) {
				return g, fmt.Errorf("quant=%q: want one of %s", v, strings.Join(llamacpp.QuantTypes(), ", "))
			}
			g.quant = v
		default:
			p, ok := ints[key]
			if !ok {
				return g, fmt.Errorf("unknown option %q (want system, chat, lora, lora-scale, quant, exact, ctx, parallel, batch, threads, gpu-layers)", key)
			}
			if key == "gpu-layers" && v == "all" {
				*p = llamacpp.GPULayersAll
				continue
			}
			n, err := strconv.Atoi(v)
			least, or := 1, ""
			if key == "gpu-layers" {
				least, or = 0, " or all"
			}
			if err != nil || n < least {
				return g, fmt.Errorf("%s=%q: want a whole number of at least %d%s", key, v, least, or)
			}
			*p = n
		}
	}
	if err := o.Check(); err != nil {
		return g, err
	}
	return g, nil
}

// ParseGGUF parses the part of a gguf: reference after the scheme, reads its system prompt and,
// with quant=, quantizes the file (once) and points Path at the quantized copy.
func ParseGGUF(rest string) (llamacpp.Options, error) {
	g, err := parseGGUF(rest)
	if err != nil {
		return g.opts, err
	}
	return g.options("")
}

// options reads the system prompt and, with quant=, quantizes the file once into out (by default
// NAME.type.gguf beside NAME.gguf) and points Path at the copy.
func (g ggufRef) options(out string) (llamacpp.Options, error) {
	opts := g.opts
	if g.system != "" {
		b, err := os.ReadFile(g.system)
		if err != nil {
			return opts, fmt.Errorf("system prompt: %w", err)
		}
		opts.System = strings.TrimSpace(string(b))
	}
	if t := g.quant; t != "" {
		path := opts.Path
		if out == "" {
			out = fmt.Sprintf("%s.%s.gguf", strings.TrimSuffix(path, ".gguf"), strings.ToLower(t))
		}
		// Quantize unless a copy newer than the source exists (a rebuilt source gets a new copy).
		src, err := os.Stat(path)
		if err != nil {
			return opts, err
		}
		if cp, err := os.Stat(out); err != nil || cp.ModTime().Before(src.ModTime()) {
			tmp := out + ".tmp"
			if err := llamacpp.Quantize(path, tmp, t, 0); err != nil {
				return opts, err
			}
			if err := os.Rename(tmp, out); err != nil {
				return opts, err
			}
		}
		opts.Path = out
	}
	return opts, nil
}
