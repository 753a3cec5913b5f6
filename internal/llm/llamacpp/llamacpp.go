// Package llamacpp runs GGUF models in-process through llama.cpp, compiled with cgo from the sources
// vendored in the Go module github.com/ollama/ollama (llama/llama.cpp/src and
// ml/backend/ggml/ggml/src). This file is our own thin wrapper over llama.h.
//
// One Model holds one loaded model and, created on first use, one context for generation
// (llama.cpp's fast path unless Options.Exact), one for scoring (F32) and one for embeddings; calls
// are serialised by a mutex (llama.cpp contexts are not thread-safe), and parallelism comes from
// batching: Generate decodes up to Options.Parallel sequences per llama_decode call, refilling a
// sequence's slot as soon as it finishes, the way llama.cpp's "parallel" example does.
// Scheduling depends only on the requests, so the same requests and seeds give the same texts.
//
// Options and sampling settings are checked before llama.cpp sees them (Options.Check,
// llm.Sampling.Check), and a request that does not fit in its sequence's Options.Ctx tokens is
// refused before decoding (llm.ContextError): no flag or reference reaches a GGML_ASSERT.
//
// Capture reads the residual stream after chosen blocks (capture.go); SetSteering adds a control
// vector to it for Generate and Score (steer.go).
//
// GPU: cgo cannot compile CUDA. ggml's CUDA backend is built separately as a shared library (CMake on
// the module's sources, target ggml-cuda: scripts/gpu/build-cuda.sh) and loaded at run time with
// LoadBackend (or the MBD_GGML_BACKEND environment variable: cuda, or a path to libggml-cuda.so),
// which refuses a library built from other ggml sources (backend.go); with Options.GPULayers > 0
// the model's layers are then offloaded to it. CPU stays the default.
package llamacpp

/*
#include <stdlib.h>
#include "helpers.h"
#include "backend.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"unsafe"

	_ "github.com/ollama/ollama/llama/llama.cpp/src" // llama.cpp and ggml, compiled through cgo

	"github.com/mbd-dev/mbd/internal/llm"
)

// Options configure a loaded model.
type Options struct {
	Path string
	// System is a hidden system prompt: a system message under the chat template, or text put before
	// the prompt for models without one. It makes a prompt-induced variant of a model.
	System string
	// Chat selects the chat template: "auto" (the model's template when it has one), "on" or "off".
	Chat string
	// Ctx is the context length of each sequence, in tokens (prompt + completion). Default 1024.
	Ctx int
	// Parallel is the number of sequences decoded together. Default 8.
	Parallel int
	// Batch is the most tokens per llama_decode call. Default 512.
	Batch int
	// Threads for decoding. Default: DefaultThreads, the physical cores other work leaves idle.
	Threads int
	// GPULayers is the number of layers to offload to the GPU backend's devices (GPULayersAll:
	// every layer and the output); more than 0 needs a loaded GPU backend.
	GPULayers int
	// CPUOnly keeps the model and its computation on the CPU even when a GPU backend is loaded
	// (llama.cpp otherwise offloads large batches to the GPU, whatever GPULayers says).
	CPUOnly bool
	// LoRA is a llama.cpp LoRA adapter GGUF applied to the model, at LoRAScale (default 1).
	LoRA      string
	LoRAScale float64
	// Exact runs generation in F32 like scoring (no flash attention, F32 KV cache), so that
	// generation-time log-probs match Score's; by default generation takes llama.cpp's fast path.
	Exact bool
}

// Limits of Options. llama.cpp holds at most 256 sequences (LLAMA_MAX_SEQ) and runs at most 512
// threads (GGML_MAX_N_THREADS); the context of all sequences together is a uint32 there, and
// MaxCtx keeps it far from that.
const (
	MaxParallel = 256
	MaxThreads  = 512
	MaxCtx      = 1 << 24
	MaxBatch    = 1 << 24
	maxCtxAll   = 1 << 30
)

// Check refuses options llama.cpp would assert on, overflow or spend hours on. Zero values mean the
// defaults. The messages name the reference options (ctx=, parallel=, ...).
func (o Options) Check() error {
	d := o
	d.defaults()
	for _, f := range []struct {
		name        string
		v, min, max int
	}{
		{"ctx", o.Ctx, 1, MaxCtx}, {"parallel", o.Parallel, 1, MaxParallel}, {"batch", o.Batch, 1, MaxBatch},
		{"threads", o.Threads, 1, MaxThreads}, {"gpu-layers", o.GPULayers, 0, math.MaxInt32},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("%s=%d: want a whole number in [%d, %d]", f.name, f.v, f.min, f.max)
		}
	}
	if int64(d.Ctx)*int64(d.Parallel) > maxCtxAll {
		return fmt.Errorf("ctx=%d x parallel=%d: the context of all sequences must be at most %d tokens", d.Ctx, d.Parallel, maxCtxAll)
	}
	if o.CPUOnly && o.GPULayers > 0 {
		return fmt.Errorf("gpu-layers=%s: a CPU-only model offloads no layer", gpuLayersString(o.GPULayers))
	}
	if math.IsNaN(o.LoRAScale) || math.IsInf(o.LoRAScale, 0) {
		return fmt.Errorf("lora-scale=%v: want a finite number", o.LoRAScale)
	}
	switch o.Chat {
	case "", "auto", "on", "off":
	default:
		return fmt.Errorf("chat=%q: want auto, on or off", o.Chat)
	}
	return nil
}

func (o *Options) defaults() {
	if o.Ctx <= 0 {
		o.Ctx = 1024
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Threads <= 0 {
		o.Threads = DefaultThreads()
	}
	if o.Chat == "" {
		o.Chat = "auto"
	}
	if o.LoRAScale == 0 {
		o.LoRAScale = 1
	}
}

// Model is a GGUF model loaded in-process. It implements llm.Model.
type Model struct {
	mu    sync.Mutex
	opts  Options
	model *C.struct_llama_model
	vocab *C.struct_llama_vocab
	gen   *lctx                        // generation, created on first use
	score *lctx                        // scoring (F32), created on first use; gen when Exact
	emb   *lctx                        // embeddings, created on first use
	tmpl  string                       // chat template in use, "" for none
	lora  *C.struct_llama_adapter_lora // nil without an adapter
	steer *Steering                    // control vector of the generation context, nil for none
}

var (
	llamaOnce  sync.Once
	initOnce   sync.Once
	backendErr error // the MBD_GGML_BACKEND library that could not be loaded
)

// llamaInit sets the log callbacks and initialises llama.cpp, once.
func llamaInit() {
	llamaOnce.Do(func() {
		C.mbd_set_log()
		C.llama_backend_init()
	})
}

// backendInit initialises llama.cpp once and loads the backend MBD_GGML_BACKEND names (a path,
// or a name such as cuda for the build script's cache: ResolveBackend). It returns the error of
// that backend, the same on every call.
func backendInit() error {
	llamaInit()
	initOnce.Do(func() {
		if p := os.Getenv("MBD_GGML_BACKEND"); p != "" {
			path, err := ResolveBackend(p)
			if err == nil {
				err = LoadBackend(path)
			}
			if err != nil {
				backendErr = &BackendError{Err: fmt.Errorf("MBD_GGML_BACKEND=%s: %w", p, err)}
			}
		}
	})
	return backendErr
}

// SystemInfo is llama.cpp's description of the CPU features it was compiled with.
func SystemInfo() string {
	_ = backendInit() // the description does not depend on a GPU backend
	return C.GoString(C.llama_print_system_info())
}

// Load loads a GGUF model. A file that is not GGUF, or is truncated, gives a clear error.
func Load(opts Options) (*Model, error) {
	return load(opts, false)
}

// LoadVocab loads only a model's vocabulary and metadata (fast; no weights): enough for Tokenize,
// Detokenize and Info.
func LoadVocab(path string) (*Model, error) {
	return load(Options{Path: path}, true)
}

func load(opts Options, vocabOnly bool) (*Model, error) {
	if err := opts.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	opts.defaults()
	if err := checkGGUF(opts.Path); err != nil {
		return nil, err
	}
	if err := backendInit(); err != nil {
		return nil, err
	}
	if opts.GPULayers > 0 && !vocabOnly && gpuDevices() == 0 {
		return nil, backendErrorf("%s: gpu-layers=%s but no GPU backend is loaded (set MBD_GGML_BACKEND=cuda, or to the path of libggml-cuda.so; mbd-model info --devices lists the devices)", opts.Path, gpuLayersString(opts.GPULayers))
	}
	cpath := C.CString(opts.Path)
	defer C.free(unsafe.Pointer(cpath))
	clearLogErrors()
	m := C.mbd_load(cpath, C.int32_t(opts.GPULayers), C.bool(vocabOnly), C.bool(opts.CPUOnly))
	if m == nil {
		return nil, fmt.Errorf("%s: llama.cpp cannot load the model: %s", opts.Path, lastLogError())
	}
	if opts.GPULayers > 0 && !vocabOnly {
		devices, layers := offloadSummary(takeLoadLines())
		slog.Info("model offloaded", "path", opts.Path, "devices", strings.Join(devices, "; "), "layers", layers)
	}
	mod := &Model{opts: opts, model: m, vocab: C.llama_model_get_vocab(m)}
	if opts.LoRA != "" {
		if err := checkGGUF(opts.LoRA); err != nil {
			mod.Close()
			return nil, err
		}
		cl := C.CString(opts.LoRA)
		defer C.free(unsafe.Pointer(cl))
		clearLogErrors()
		if mod.lora = C.llama_adapter_lora_init(m, cl); mod.lora == nil {
			mod.Close()
			return nil, fmt.Errorf("%s: llama.cpp cannot load the LoRA adapter for %s: %s", opts.LoRA, opts.Path, lastLogError())
		}
	}
	switch opts.Chat {
	case "auto", "on":
		if t := C.llama_model_chat_template(m, nil); t != nil {
			mod.tmpl = C.GoString(t)
		} else if opts.Chat == "on" {
			mod.Close()
			return nil, fmt.Errorf("%s: the model has no chat template (tokenizer.chat_template)", opts.Path)
		}
	case "off":
	default:
		mod.Close()
		return nil, fmt.Errorf("chat %q: want auto, on or off", opts.Chat)
	}
	return mod, nil
}

// checkGGUF gives clear errors before llama.cpp sees the file.
func checkGGUF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no such file", path)
		}
		return err
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("%s: not a GGUF file (too short)", path)
	}
	if !bytes.Equal(head, []byte("GGUF")) {
		return fmt.Errorf("%s: not a GGUF file (starts with %q, want \"GGUF\")", path, head)
	}
	return nil
}

// Close frees the model and its contexts.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freeGen()
	if m.emb != nil {
		m.emb.free()
	}
	m.emb = nil
	if m.model != nil {
		C.llama_model_free(m.model)
		m.model = nil
	}
	return nil
}

// FormatPrompt applies the chat template (with the hidden system prompt) or, without a template,
// puts the system prompt before the prompt. The result is tokenized with special tokens parsed.
func (m *Model) FormatPrompt(prompt string) (string, error) {
	if m.tmpl == "" {
		if m.opts.System != "" {
			return m.opts.System + "\n\n" + prompt, nil
		}
		return prompt, nil
	}
	msgs := []ChatMessage{{Role: "user", Content: prompt}}
	if m.opts.System != "" {
		msgs = append([]ChatMessage{{Role: "system", Content: m.opts.System}}, msgs...)
	}
	return m.applyTemplate(msgs)
}

// promptTokens formats and tokenizes a prompt.
func (m *Model) promptTokens(prompt string) ([]int32, error) {
	text, err := m.FormatPrompt(prompt)
	if err != nil {
		return nil, err
	}
	return m.Tokenize(text, true, m.tmpl != "")
}

// Info describes the model.
func (m *Model) Info() llm.Info {
	info := llm.Info{
		Ref:          "gguf:" + m.opts.Path,
		Params:       int64(C.llama_model_n_params(m.model)),
		SizeBytes:    int64(C.llama_model_size(m.model)),
		VocabSize:    int(C.llama_vocab_n_tokens(m.vocab)),
		ContextTrain: int(C.llama_model_n_ctx_train(m.model)),
		EmbeddingDim: int(C.llama_model_n_embd(m.model)),
		Layers:       int(C.llama_model_n_layer(m.model)),
		ChatTemplate: m.tmpl,
		Metadata:     map[string]string{},
	}
	var buf [4096]C.char
	if C.llama_model_desc(m.model, &buf[0], C.size_t(len(buf))) > 0 {
		info.Description = C.GoString(&buf[0])
	}
	var kbuf [512]C.char
	for i := range C.llama_model_meta_count(m.model) {
		if C.llama_model_meta_key_by_index(m.model, i, &kbuf[0], C.size_t(len(kbuf))) < 0 {
			continue
		}
		if C.llama_model_meta_val_str_by_index(m.model, i, &buf[0], C.size_t(len(buf))) < 0 {
			continue
		}
		info.Metadata[C.GoString(&kbuf[0])] = C.GoString(&buf[0])
	}
	info.Arch = info.Metadata["general.architecture"]
	if ft, ok := info.Metadata["general.file_type"]; ok {
		info.FileType = fileTypeName(ft)
	}
	return info
}

// Quantize types by name (llama_ftype).
var quantTypes = map[string]int32{"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18}

// QuantTypes lists the supported quantization names.
func QuantTypes() []string { return []string{"F16", "Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"} }

// KnownQuant reports whether typ (any case) is a quantization type Quantize writes.
func KnownQuant(typ string) bool {
	_, ok := quantTypes[strings.ToUpper(typ)]
	return ok
}

func fileTypeName(ft string) string {
	for name, v := range quantTypes {
		if fmt.Sprint(v) == ft {
			return name
		}
	}
	return "ftype " + ft
}

// Quantize writes a quantized copy of the model at in to out. Types: QuantTypes. Row sizes must be
// multiples of 32 (F16 excepted), and of 256 for the K-quants, where llama.cpp otherwise falls back to
// another type for the tensors that do not fit.
func Quantize(in, out, typ string, threads int) error {
	ft, ok := quantTypes[strings.ToUpper(typ)]
	if !ok {
		return fmt.Errorf("quantize type %q: want one of %s", typ, strings.Join(QuantTypes(), ", "))
	}
	if err := checkGGUF(in); err != nil {
		return err
	}
	if err := backendInit(); err != nil {
		return err
	}
	cin, cout := C.CString(in), C.CString(out)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	clearLogErrors()
	if C.mbd_quantize(cin, cout, C.int32_t(ft), C.int32_t(threads)) != 0 {
		os.Remove(out)
		return fmt.Errorf("quantize %s to %s: %s", in, typ, lastLogError())
	}
	return nil
}

// Save writes the loaded model to path (llama_model_save_to_file).
func (m *Model) Save(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	C.llama_model_save_to_file(m.model, cpath)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// Logging: llama.cpp and ggml log through mbdLog; lines go to slog at debug level (llama.cpp is
// chatty), and the last error lines are kept for error messages.
var logState struct {
	sync.Mutex
	line   strings.Builder
	errors []string
	load   []string // lines about devices and offloading, since the last clearLogErrors
}

//export mbdLog
func mbdLog(level C.int, text *C.char) {
	s := C.GoString(text)
	logState.Lock()
	defer logState.Unlock()
	logState.line.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		return
	}
	line := strings.TrimSpace(logState.line.String())
	logState.line.Reset()
	if line == "" {
		return
	}
	if level == C.GGML_LOG_LEVEL_ERROR || level == C.GGML_LOG_LEVEL_WARN {
		logState.errors = append(logState.errors, line)
		if len(logState.errors) > 4 {
			logState.errors = logState.errors[1:]
		}
	}
	if strings.Contains(line, "using device ") || strings.Contains(line, "layers to GPU") {
		logState.load = append(logState.load, line)
	}
	slog.Debug("llama.cpp: " + line)
}

func takeLoadLines() []string {
	logState.Lock()
	defer logState.Unlock()
	l := logState.load
	logState.load = nil
	return l
}

func clearLogErrors() {
	logState.Lock()
	logState.errors = nil
	logState.load = nil
	logState.Unlock()
}

func lastLogError() string {
	logState.Lock()
	defer logState.Unlock()
	if len(logState.errors) == 0 {
		return "no details from llama.cpp"
	}
	return strings.Join(logState.errors, "; ")
}
