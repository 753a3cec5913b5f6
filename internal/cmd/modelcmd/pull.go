package modelcmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/hub"
	"github.com/mbd-dev/mbd/internal/llm/backends"
)

// PullOptions are the options of mbd-model pull.
type PullOptions struct {
	Refs []string // REF argument
}

func pullCommand() *ucli.Command {
	o := &PullOptions{}
	return &ucli.Command{
		Name: "pull", Usage: "download a Hugging Face Hub model (and convert it to GGUF) and print its local path", ArgsUsage: "REF",
		Description: `REF is hf:ORG/REPO[@REVISION] (a safetensors checkpoint: config.json, tokenizer and
*.safetensors are downloaded, then converted to GGUF once, as "mbd-model convert" does) or
hf:ORG/REPO/FILE.gguf[@REVISION] (a GGUF file). The revision defaults to main. Files go to the
Hugging Face cache (HF_HUB_CACHE, default ~/.cache/huggingface/hub) in the layout huggingface_hub
uses, so Python tools share them; conversions go to ~/.cache/mbd/hf. A download cut midway resumes.
Environment: HF_TOKEN (private and gated repositories), HF_ENDPOINT (a mirror), HF_HOME,
HF_HUB_CACHE, HF_HUB_OFFLINE=1 (no network: the cache only). The same happens when a tool opens
an hf: reference; pull only does it ahead of time.

Example:
  mbd-model pull hf:HuggingFaceTB/SmolLM2-135M-Instruct
  mbd-gen run --model 'hf:HuggingFaceTB/SmolLM2-135M-Instruct?threads=4' --label A prompts.parquet -o a.parquet`,
		Action: cli.Action(o, &o.Refs, RunPull),
	}
}

// Validate checks the reference without the network.
func (o PullOptions) Validate() error {
	if len(o.Refs) != 1 {
		return cli.Usagef("want one REF (hf:ORG/REPO or hf:ORG/REPO/FILE.gguf)")
	}
	if !strings.HasPrefix(o.Refs[0], "hf:") {
		return cli.Usagef("%q: pull takes an hf: reference (hf:ORG/REPO or hf:ORG/REPO/FILE.gguf)", o.Refs[0])
	}
	return cli.BadRef("REF", backends.Check(o.Refs[0]))
}

// RunPull downloads and converts, then prints the GGUF's path. A reference the Hub or the cache
// refuses (no such repository, revision or file, no access, not cached while offline) or that
// cannot be converted is a usage error; the network, the server and the disk are runtime errors.
func RunPull(ctx context.Context, env *cli.Env, o PullOptions) error {
	f, err := backends.Fetch(ctx, o.Refs[0], env.Log)
	if err != nil {
		var he *hub.Error
		if errors.As(err, &he) && !hub.BadReference(err) || errors.Is(err, context.Canceled) {
			return err
		}
		return &cli.UsageError{Err: err}
	}
	env.Log.Info("pulled", "ref", f.Ref, "path", f.Path)
	_, err = fmt.Fprintln(env.Stdout, f.Path)
	return err
}
