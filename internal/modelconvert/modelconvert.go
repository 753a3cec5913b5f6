// Package modelconvert converts a local Hugging Face model directory (config.json, *.safetensors,
// tokenizer.json or tokenizer.model) to one GGUF file that llama.cpp loads, with Ollama's converter
// (github.com/ollama/ollama/convert): 2-D weights as F16 (BF16 when the checkpoint is BF16), 1-D
// weights as F32, nothing quantized. Check gives clear errors for the common mistakes (not a
// directory, no config.json, an unsupported architecture, no weights, no tokenizer) before the
// converter runs.
//
// Where the converter is wrong for llama.cpp, Convert corrects it (fix.go): an architecture it
// lacks is handed over as the one it equals (MistralForCausalLM as LlamaForCausalLM), and metadata
// or tensors it gets wrong are rewritten in its output. TestParity checks the result for each
// tested architecture against a float64 forward pass of the Hugging Face checkpoint (hfref).
package modelconvert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ollama/ollama/convert"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/table"
)

// Architectures are the config.json "architectures" values that github.com/ollama/ollama/convert
// (v0.17.4, LoadModelMetadata) converts. The list is checked against that package by
// TestArchitecturesKnownToOllama.
var Architectures = []string{
	"LlamaForCausalLM",
	"MllamaForConditionalGeneration",
	"Llama4ForConditionalGeneration",
	"Mistral3ForConditionalGeneration",
	"Ministral3ForCausalLM",
	"MixtralForCausalLM",
	"GemmaForCausalLM",
	"Gemma2ForCausalLM",
	"Gemma3ForCausalLM",
	"Gemma3ForConditionalGeneration",
	"Gemma3nForConditionalGeneration",
	"Phi3ForCausalLM",
	"Qwen2ForCausalLM",
	"Qwen2_5_VLForConditionalGeneration",
	"Qwen3VLForConditionalGeneration",
	"Qwen3VLMoeForConditionalGeneration",
	"Olmo3ForCausalLM",
	"BertModel",
	"NomicBertModel",
	"NomicBertMoEModel",
	"CohereForCausalLM",
	"GptOssForCausalLM",
	"DeepseekOCRForCausalLM",
	"DeepseekV3ForCausalLM",
	"Glm4MoeLiteForCausalLM",
	"GlmOcrForConditionalGeneration",
	"Lfm2ForCausalLM",
	"Lfm2MoeForCausalLM",
	"Lfm2VlForConditionalGeneration",
	"Qwen3NextForCausalLM",
	"Qwen3_5ForConditionalGeneration",
	"Qwen3_5MoeForConditionalGeneration",
	"NemotronHForCausalLM",
}

// supported lists Architectures and Aliases.
func supported() string {
	return strings.Join(slices.Concat(Architectures, slices.Sorted(maps.Keys(Aliases))), ", ")
}

// weightPatterns are the weight files ollama's convert reads, in the order it tries them.
var weightPatterns = []string{"*.safetensors", "pytorch_model-*-of-*.bin", "pytorch_model.bin", "consolidated.*.pth"}

// Check checks what ollama's converter needs, so that common mistakes get clear errors. It returns
// the architecture and warnings about optional files that are missing. Its errors are bad input.
func Check(dir string) (arch string, warnings []string, err error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil, fmt.Errorf("%s: no such directory", dir)
	case err != nil:
		return "", nil, err
	case !st.IsDir():
		return "", nil, fmt.Errorf("%s: not a directory (want a Hugging Face model directory with config.json, *.safetensors and tokenizer.json)", dir)
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("%s: no config.json (not a Hugging Face model directory?)", dir)
	} else if err != nil {
		return "", nil, err
	}
	var cfg struct {
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", nil, fmt.Errorf("%s: config.json: %v", dir, err)
	}
	if len(cfg.Architectures) == 0 {
		return "", nil, fmt.Errorf("%s: config.json names no architecture (\"architectures\"); supported: %s", dir, supported())
	}
	arch = cfg.Architectures[0]
	if _, alias := Aliases[arch]; !alias && !slices.Contains(Architectures, arch) {
		return "", nil, fmt.Errorf("%s: unsupported architecture %q; supported: %s", dir, arch, supported())
	}
	hasWeights := false
	for _, p := range weightPatterns {
		if m, _ := filepath.Glob(filepath.Join(escapeGlob(dir), p)); len(m) > 0 {
			hasWeights = true
			break
		}
	}
	if !hasWeights {
		return "", nil, fmt.Errorf("%s: no weights (want *.safetensors, or pytorch_model*.bin)", dir)
	}
	if !exists("tokenizer.json") && !exists("tokenizer.model") {
		return "", nil, fmt.Errorf("%s: no tokenizer (want tokenizer.json or a SentencePiece tokenizer.model)", dir)
	}
	warnings = append(warnings, configWarnings(arch, b)...)
	if !exists("tokenizer_config.json") {
		warnings = append(warnings, "no tokenizer_config.json: the model gets no BOS/EOS token ids and no chat template")
	}
	return arch, warnings, nil
}

// escapeGlob escapes the glob metacharacters of a literal path.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// Convert runs ollama's converter on the model directory dir and writes the GGUF file out
// atomically. A model the converter cannot read gives a *table.InputError naming dir, never a
// crash; failing to write out is a plain error.
func Convert(dir, out string) (err error) {
	fx, err := planFixes(dir)
	if err != nil {
		return &table.InputError{Path: dir, Msg: "cannot convert", Err: err}
	}
	f, err := atomicfile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	// With fixes to the converter's output, it converts into a temporary file beside out, which
	// is then rewritten into out.
	target := f.File
	if fx.rewrites() {
		tmp, err := os.CreateTemp(filepath.Dir(out), ".mbd-convert-*.gguf")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		target = tmp
	}
	defer func() {
		// The converter indexes into parsed headers without checking them all; a malformed file must
		// not crash the tool.
		if r := recover(); r != nil {
			err = &table.InputError{Path: dir, Msg: fmt.Sprintf("malformed model files: %v", r)}
		}
	}()
	// ConvertModel writes tensors at offsets into the *os.File (WriteAt), so it needs the file
	// itself, not a writer: atomicfile.File embeds it.
	if err := convert.ConvertModel(fx.fsys(dir), target); err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == target.Name() {
			return err // writing the output failed
		}
		return &table.InputError{Path: dir, Msg: "cannot convert", Err: err}
	}
	if fx.rewrites() {
		if err := fx.rewrite(target, f.File); err != nil {
			return err
		}
	}
	return f.Commit()
}

// optionalFiles are the files besides the weights that the converter reads when present.
var optionalFiles = []string{"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "generation_config.json",
	"special_tokens_map.json", "added_tokens.json", "preprocessor_config.json", "processor_config.json", "modules.json"}

// Inputs lists the files of dir the converter reads: config.json, the weights (the files of the
// first weight pattern that has any) and the tokenizer and configuration files present, in that
// order.
func Inputs(dir string) []string {
	var files []string
	exists := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	if exists("config.json") {
		files = append(files, filepath.Join(dir, "config.json"))
	}
	for _, p := range weightPatterns {
		if m, _ := filepath.Glob(filepath.Join(escapeGlob(dir), p)); len(m) > 0 {
			files = append(files, m...)
			break
		}
	}
	for _, name := range optionalFiles {
		if exists(name) {
			files = append(files, filepath.Join(dir, name))
		}
	}
	return files
}

// Needed reports whether a repository file (a slash-separated name) is one the converter reads
// when the weights are safetensors: config.json, the top-level *.safetensors files and the
// tokenizer and configuration files. A downloader fetches these and nothing else.
func Needed(name string) bool {
	if name == "config.json" || slices.Contains(optionalFiles, name) {
		return true
	}
	ok, _ := path.Match("*.safetensors", name)
	return ok
}

// Version names the converter: the github.com/ollama/ollama version (go.mod, checked by
// TestVersion) and a revision of how this package uses it. A cached conversion made by another
// version is redone.
const Version = "ollama-v0.17.4.2"
