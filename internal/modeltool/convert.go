package modeltool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ollama/ollama/convert"
	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gguf"
)

// convertArchitectures are the config.json "architectures" values that
// github.com/ollama/ollama/convert (v0.17.4, LoadModelMetadata) converts. The list is checked
// against that package by TestConvertArchitecturesKnownToOllama.
var convertArchitectures = []string{
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

// convertWeightPatterns are the weight files ollama's convert reads, in the order it tries them.
var convertWeightPatterns = []string{"*.safetensors", "pytorch_model-*-of-*.bin", "pytorch_model.bin", "consolidated.*.pth"}

func convertCommand() *ucli.Command {
	return &ucli.Command{
		Name: "convert", Usage: "convert a local Hugging Face model directory to GGUF", ArgsUsage: "HF_DIR",
		Description: `Reads a Hugging Face model directory — config.json, the weights (*.safetensors), and the
tokenizer (tokenizer.json, or a SentencePiece tokenizer.model, with tokenizer_config.json for the
BOS/EOS tokens and the chat template) — and writes one GGUF file that llama.cpp loads, using
Ollama's converter (github.com/ollama/ollama/convert). 2-D weights are written as F16 (BF16 when
the checkpoint is BF16), 1-D weights as F32; nothing is quantized (see "mbd-model quantize").
Nothing is downloaded: fetch the directory first (for example with huggingface-cli download).

Architectures the converter handles (config.json "architectures"; LlamaForCausalLM is tested here,
and some of the others write GGUFs that only Ollama's own engine runs, not llama.cpp):
` + wrapList(convertArchitectures, 100) + `.

Example:
  mbd-model convert ./SmolLM2-135M -o smollm2-135m.gguf
  mbd-model quantize --type Q8_0 smollm2-135m.gguf smollm2-135m-q8.gguf`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `MODEL.gguf`"},
		},
		Action: func(ctx context.Context, cmd *ucli.Command) error {
			env := cli.FromContext(ctx)
			out := cmd.String("output")
			switch {
			case cmd.NArg() != 1:
				return cli.Usagef("want one HF_DIR (a Hugging Face model directory)")
			case out == "":
				return cli.Usagef("no output: give -o MODEL.gguf")
			}
			dir := cmd.Args().First()
			arch, warnings, err := checkHFDir(dir)
			if err != nil {
				return &cli.UsageError{Err: err}
			}
			for _, w := range warnings {
				env.Log.Warn(w, "dir", dir)
			}
			if err := convertHF(dir, out); err != nil {
				return &cli.UsageError{Err: fmt.Errorf("convert %s: %w", dir, err)}
			}
			g, err := gguf.Open(out)
			if err != nil {
				return fmt.Errorf("reading back %s: %w", out, err)
			}
			defer g.Close()
			ggufArch, _ := gguf.Get[string](g, "general.architecture")
			var params uint64
			for i := range g.Tensors {
				params += g.Tensors[i].Elements()
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			env.Manifest.Param("from", dir)
			if err := env.Manifest.WriteFor(out, "", 0); err != nil {
				return err
			}
			env.Log.Info("converted model", "input", dir, "hf_arch", arch, "output", out,
				"arch", ggufArch, "tensors", len(g.Tensors), "params", params, "bytes", st.Size())
			return nil
		},
	}
}

// checkHFDir checks what ollama's converter needs, so that common mistakes get clear errors. It
// returns the architecture and warnings about optional files that are missing.
func checkHFDir(dir string) (arch string, warnings []string, err error) {
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
		return "", nil, fmt.Errorf("%s: config.json names no architecture (\"architectures\"); supported: %s", dir, strings.Join(convertArchitectures, ", "))
	}
	arch = cfg.Architectures[0]
	if !slices.Contains(convertArchitectures, arch) {
		return "", nil, fmt.Errorf("%s: unsupported architecture %q; supported: %s", dir, arch, strings.Join(convertArchitectures, ", "))
	}
	hasWeights := false
	for _, p := range convertWeightPatterns {
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
	if !exists("tokenizer_config.json") {
		warnings = append(warnings, "no tokenizer_config.json: the model gets no BOS/EOS token ids and no chat template")
	}
	return arch, warnings, nil
}

// wrapList joins items with ", " in lines of at most width bytes.
func wrapList(items []string, width int) string {
	var b strings.Builder
	line := 0
	for i, it := range items {
		sep := ""
		if i > 0 {
			sep = ", "
			if line+len(sep)+len(it) > width {
				b.WriteString(",\n")
				sep, line = "", 0
			}
		}
		b.WriteString(sep + it)
		line += len(sep) + len(it)
	}
	return b.String()
}

// escapeGlob escapes the glob metacharacters of a literal path.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// convertHF runs ollama's converter on dir and writes out atomically.
func convertHF(dir, out string) (err error) {
	f, err := atomicfile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	defer func() {
		// The converter indexes into parsed headers without checking them all; a malformed file must
		// not crash the tool.
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed model files: %v", r)
		}
	}()
	// ConvertModel writes tensors at offsets into the *os.File (WriteAt), so it needs the file
	// itself, not a writer: atomicfile.File embeds it.
	if err := convert.ConvertModel(os.DirFS(dir), f.File); err != nil {
		return err
	}
	return f.Commit()
}
