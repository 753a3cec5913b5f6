package modelcmd

import (
	"context"
	"fmt"
	"os"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/modelconvert"
)

// ConvertOptions are the options of mbd-model convert.
type ConvertOptions struct {
	Output string   // -o
	Dirs   []string // HF_DIR argument
}

func convertCommand() *ucli.Command {
	o := &ConvertOptions{}
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
` + wrapList(modelconvert.Architectures, 100) + `.

Example:
  mbd-model convert ./SmolLM2-135M -o smollm2-135m.gguf
  mbd-model quantize --type Q8_0 smollm2-135m.gguf smollm2-135m-q8.gguf`,
		Flags: []ucli.Flag{
			cli.OutputFlag(&o.Output, "output `MODEL.gguf`"),
		},
		Action: cli.Action(o, &o.Dirs, RunConvert),
	}
}

// Validate checks the options of convert; the output may not be the directory or a file the
// converter reads from it.
func (o ConvertOptions) Validate() error {
	if len(o.Dirs) != 1 {
		return cli.Usagef("want one HF_DIR (a Hugging Face model directory)")
	}
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "MODEL.gguf"))
	var p cli.Paths
	p.In("HF_DIR", o.Dirs[0])
	for _, f := range modelconvert.Inputs(o.Dirs[0]) {
		p.In("HF_DIR", f)
	}
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// RunConvert converts the directory and records the files it read in the manifest.
func RunConvert(_ context.Context, env *cli.Env, o ConvertOptions) error {
	dir, out := o.Dirs[0], o.Output
	arch, warnings, err := modelconvert.Check(dir)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	for _, w := range warnings {
		env.Log.Warn(w, "dir", dir)
	}
	inputs := modelconvert.Inputs(dir)
	for _, f := range inputs {
		if _, err := cli.RecordFile(env, f, 0); err != nil {
			return err
		}
	}
	if err := modelconvert.Convert(dir, out); err != nil {
		return err // a *table.InputError (status 2) when the files cannot be converted
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
}
