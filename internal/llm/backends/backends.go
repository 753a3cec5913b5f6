// Package backends opens a model from its reference string (DESIGN.md §3):
//
//	gguf:PATH[?system=FILE&chat=auto|on|off&lora=ADAPTER&lora-scale=S&quant=TYPE&ctx=N&parallel=N&batch=N&threads=N&gpu-layers=N]
//	openai-compat:URL#MODEL[?chat=1&system=FILE]
//	openai:MODEL
//	synth:SPEC[?seed=N]   (the synthetic world's ideal text source; see package synthmodel)
//
// gguf: runs in-process through llama.cpp. system= makes a prompt-induced variant (a hidden system
// prompt read from FILE); lora= applies a llama.cpp LoRA adapter (mbd-finetune --lora-adapter);
// quant= quantizes the file once (cached beside it as NAME.type.gguf for NAME.gguf, redone when
// the file is newer than the copy) and loads the quantized copy.
package backends

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/llm/synthmodel"
)

// Open opens the model a reference names.
func Open(ref string) (llm.Model, error) {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return nil, fmt.Errorf("model reference %q: want gguf:PATH, openai-compat:URL#MODEL, openai:MODEL or synth:SPEC", ref)
	}
	switch scheme {
	case "gguf":
		opts, err := ParseGGUF(rest)
		if err != nil {
			return nil, fmt.Errorf("model reference %q: %w", ref, err)
		}
		return llamacpp.Load(opts)
	case "openai-compat", "openai":
		return openRemote(ref)
	case "synth":
		m, err := synthmodel.Open(rest)
		if err != nil {
			return nil, fmt.Errorf("model reference %q: %w", ref, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("model reference %q: unknown scheme %q (want gguf, openai-compat, openai or synth)", ref, scheme)
}

// ParseGGUF parses the part of a gguf: reference after the scheme. With quant= it quantizes the file
// (once) and points Path at the quantized copy.
func ParseGGUF(rest string) (llamacpp.Options, error) {
	path, query, _ := strings.Cut(rest, "?")
	opts := llamacpp.Options{Path: path}
	if path == "" {
		return opts, fmt.Errorf("no model path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return opts, fmt.Errorf("query: %w", err)
	}
	ints := map[string]*int{"ctx": &opts.Ctx, "parallel": &opts.Parallel, "batch": &opts.Batch, "threads": &opts.Threads, "gpu-layers": &opts.GPULayers}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "system":
			b, err := os.ReadFile(v)
			if err != nil {
				return opts, fmt.Errorf("system prompt: %w", err)
			}
			opts.System = strings.TrimSpace(string(b))
		case "chat":
			opts.Chat = v
		case "lora":
			opts.LoRA = v
		case "lora-scale":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return opts, fmt.Errorf("lora-scale=%q: want a number", v)
			}
			opts.LoRAScale = f
		case "quant":
			// applied below, after the other options
		default:
			p, ok := ints[key]
			if !ok {
				return opts, fmt.Errorf("unknown option %q (want system, chat, lora, lora-scale, quant, ctx, parallel, batch, threads, gpu-layers)", key)
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return opts, fmt.Errorf("%s=%q: want a whole number", key, v)
			}
			*p = n
		}
	}
	if t := q.Get("quant"); t != "" {
		out := fmt.Sprintf("%s.%s.gguf", strings.TrimSuffix(path, ".gguf"), strings.ToLower(t))
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
