// Package modelcmd is the command line of mbd-model: info and quantize (llama.cpp), score
// (scoring.Generations), create (tinymodel), convert (modelconvert), pull (backends.Fetch: Hugging
// Face Hub downloads), diff (weightdiff), lens (llamacpp.Model.Capture, lens.Analyze) and steer
// (the lens's mean difference as a llamacpp control vector, gen.Chunk) and bench (throughput of
// generation, scoring and embedding, a device's copy bandwidth, scores against the CPU). Each
// subcommand has typed options with a Validate method and a Run function; bad input (a file that
// is not GGUF, a bad model reference, an output that is an input) ends with status 2.
package modelcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

// Main is mbd-model.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-model",
		Usage: "inspect, quantize, create, score, convert, pull, compare and benchmark models",
		Description: `Examples:
  mbd-model create --corpus notes.txt --layers 2 --embd 64 -o tiny.gguf
  mbd-model info tiny.gguf
  mbd-model quantize --type Q8_0 tiny.gguf tiny-q8.gguf
  mbd-model score --model gguf:tiny.gguf generations.parquet -o scores.parquet
  mbd-model convert ./SmolLM2-135M -o smollm2.gguf
  mbd-model pull hf:HuggingFaceTB/SmolLM2-135M
  mbd-model diff tiny.gguf tiny-q8.gguf
  mbd-model lens --model-a gguf:base.gguf --model-b gguf:tuned.gguf -o lens.parquet
  mbd-model steer --model-a gguf:base.gguf --model-b gguf:tuned.gguf --prompts prompts.parquet -o steered.parquet
  mbd-model info --devices --gpu
  mbd-model bench --model gguf:model.gguf --gpu -o bench.json`,
		Commands: []*ucli.Command{infoCommand(), quantizeCommand(), scoreCommand(), createCommand(), convertCommand(), pullCommand(), diffCommand(), lensCommand(), steerCommand(), benchCommand()},
	}, args, stdio)
}

// InfoOptions are the options of mbd-model info.
type InfoOptions struct {
	JSON     bool     // --json
	Metadata bool     // --metadata
	Devices  bool     // --devices
	GPU      bool     // --gpu
	Args     []string // MODEL.gguf argument
}

func infoCommand() *ucli.Command {
	o := &InfoOptions{}
	return &ucli.Command{
		Name: "info", Usage: "describe a GGUF model, or list the compute devices", ArgsUsage: "MODEL.gguf",
		Description: `--devices lists ggml's backends and their devices with their memory, instead of a model:
the CPU, and a GPU once its backend is loaded (--gpu, or MBD_GGML_BACKEND=cuda or a path to
libggml-cuda.so). A backend that cannot be loaded ends with status 2.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print JSON"},
			&ucli.BoolFlag{Name: "metadata", Destination: &o.Metadata, Usage: "list every metadata key"},
			&ucli.BoolFlag{Name: "devices", Destination: &o.Devices, Usage: "list the compute devices instead of describing a model"},
			gpuFlag(&o.GPU),
		},
		Action: cli.Action(o, &o.Args, RunInfo),
	}
}

// Validate checks the options of info.
func (o InfoOptions) Validate() error {
	var c cli.Check
	if o.Devices {
		c.Must(len(o.Args) == 0, "--devices takes no MODEL.gguf (got %q)", o.Args)
		c.Must(!o.Metadata, "--metadata describes a model, not --devices")
	} else {
		c.Must(len(o.Args) == 1, "want one MODEL.gguf")
	}
	return c.Err()
}

// RunInfo prints what the model's header says about it.
func RunInfo(_ context.Context, env *cli.Env, o InfoOptions) error {
	if err := useGPU(o.GPU); err != nil {
		return err
	}
	if o.Devices {
		return printDevices(env.Stdout, o.JSON)
	}
	path := o.Args[0]
	if err := checkModel(path); err != nil {
		return err
	}
	m, err := llamacpp.Load(llamacpp.Options{Path: path})
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	defer m.Close()
	info := m.Info()
	if !o.Metadata {
		for k := range info.Metadata {
			if strings.HasPrefix(k, "tokenizer.") {
				delete(info.Metadata, k)
			}
		}
	}
	if o.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", path)
	fmt.Fprintf(tw, "description\t%s\n", info.Description)
	fmt.Fprintf(tw, "architecture\t%s\n", info.Arch)
	fmt.Fprintf(tw, "parameters\t%d\n", info.Params)
	fmt.Fprintf(tw, "file type\t%s\n", info.FileType)
	fmt.Fprintf(tw, "vocabulary\t%d tokens\n", info.VocabSize)
	fmt.Fprintf(tw, "layers\t%d\n", info.Layers)
	fmt.Fprintf(tw, "embedding\t%d\n", info.EmbeddingDim)
	fmt.Fprintf(tw, "trained context\t%d\n", info.ContextTrain)
	tmpl := "none"
	if info.ChatTemplate != "" {
		tmpl = fmt.Sprintf("%d bytes", len(info.ChatTemplate))
	}
	fmt.Fprintf(tw, "chat template\t%s\n", tmpl)
	if o.Metadata {
		keys := make([]string, 0, len(info.Metadata))
		for k := range info.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := info.Metadata[k]
			if len(v) > 80 {
				v = v[:77] + "..."
			}
			fmt.Fprintf(tw, "%s\t%s\n", k, strings.ReplaceAll(v, "\n", `\n`))
		}
	}
	return tw.Flush()
}

// QuantizeOptions are the options of mbd-model quantize.
type QuantizeOptions struct {
	Type    string   // --type
	Threads int      // --threads
	Args    []string // IN.gguf OUT.gguf arguments
}

func quantizeCommand() *ucli.Command {
	o := &QuantizeOptions{}
	return &ucli.Command{
		Name: "quantize", Usage: "write a quantized copy of a GGUF model", ArgsUsage: "IN.gguf OUT.gguf",
		Description: "Types: " + strings.Join(llamacpp.QuantTypes(), ", ") + `. Row sizes must be multiples of 32 (256 for
the K-quants; llama.cpp falls back to another type for tensors that do not fit).`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "type", Value: "Q8_0", Destination: &o.Type, Usage: "quantization type"},
			&ucli.IntFlag{Name: "threads", Destination: &o.Threads, Usage: "threads (0: all CPUs)"},
		},
		Action: cli.Action(o, &o.Args, RunQuantize),
	}
}

// maxThreads bounds --threads.
const maxThreads = 1024

// Validate checks the options of quantize.
func (o QuantizeOptions) Validate() error {
	if len(o.Args) != 2 {
		return cli.Usagef("want IN.gguf OUT.gguf")
	}
	var c cli.Check
	c.Must(llamacpp.KnownQuant(o.Type), "--type %q: want one of %s", o.Type, strings.Join(llamacpp.QuantTypes(), ", "))
	c.CountIn("--threads", o.Threads, 0, maxThreads)
	var p cli.Paths
	p.In("IN.gguf", o.Args[0])
	p.Out("OUT.gguf", o.Args[1])
	c.Add(p.Err())
	return c.Err()
}

// RunQuantize writes the quantized copy: to a temporary file beside OUT renamed over it, or, for a
// device or FIFO, through a temporary file copied into it.
func RunQuantize(_ context.Context, env *cli.Env, o QuantizeOptions) error {
	in, out := o.Args[0], o.Args[1]
	if err := checkModel(in); err != nil {
		return err
	}
	special := atomicfile.Special(out)
	dir := filepath.Dir(out)
	if special {
		dir = ""
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	typ := strings.ToUpper(o.Type)
	if err := llamacpp.Quantize(in, tmp, typ, o.Threads); err != nil {
		return &cli.UsageError{Err: err}
	}
	if special {
		err = copyInto(out, tmp)
	} else {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		return err
	}
	if _, err := cli.RecordFile(env, in, 0); err != nil {
		return err
	}
	env.Manifest.Param("type", typ)
	if err := env.Manifest.WriteFor(out, "", 0); err != nil {
		return err
	}
	st, _ := os.Stat(out)
	env.Log.Info("quantized", "in", in, "out", out, "type", typ, "bytes", st.Size())
	return nil
}

// copyInto copies the file src into the device or FIFO dst.
func copyInto(dst, src string) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := atomicfile.Create(dst)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	return w.Commit()
}

// openGGUF opens a GGUF file with the Go reader; failures are bad input (usage errors, exit
// status 2) naming the file.
func openGGUF(path string) (*gguf.File, error) {
	f, err := gguf.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &cli.UsageError{Err: fmt.Errorf("%s: no such file", path)}
	case errors.Is(err, gguf.ErrBadMagic):
		return nil, &cli.UsageError{Err: fmt.Errorf("%s: not a GGUF file", path)}
	case err != nil:
		return nil, &cli.UsageError{Err: err} // gguf.Open names the file
	}
	return f, nil
}

// checkModel checks that path is a well-formed GGUF file before llama.cpp reads it.
func checkModel(path string) error {
	f, err := openGGUF(path)
	if err != nil {
		return err
	}
	return f.Close()
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
