package modelcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

// gpuFlag is --gpu: load the CUDA backend scripts/gpu/build-cuda.sh put in the cache.
func gpuFlag(dest *bool) ucli.Flag {
	return &ucli.BoolFlag{Name: "gpu", Destination: dest,
		Usage: "load the CUDA backend from the cache of scripts/gpu/build-cuda.sh (as MBD_GGML_BACKEND=cuda)"}
}

// useGPU loads the cached CUDA backend when on is set; a backend that cannot be used is bad input.
func useGPU(on bool) error {
	if !on {
		return nil
	}
	if err := llamacpp.UseBackend("cuda"); err != nil {
		return &cli.UsageError{Err: fmt.Errorf("--gpu: %w", err)}
	}
	return nil
}

// devicesReport is what info --devices prints.
type devicesReport struct {
	GGMLSource string            `json:"ggml_source"`
	CUDACache  string            `json:"cuda_cache"`
	Devices    []llamacpp.Device `json:"devices"`
}

// printDevices lists the registered devices, the ggml sources of the binary and where --gpu looks.
func printDevices(w io.Writer, asJSON bool) error {
	ds, err := llamacpp.Devices()
	if err != nil {
		return err
	}
	r := devicesReport{Devices: ds}
	if s, err := llamacpp.GGMLSource(); err == nil {
		r.GGMLSource = s
	} else {
		r.GGMLSource = "unknown (" + err.Error() + ")"
	}
	if p, err := llamacpp.ResolveBackend("cuda"); err == nil {
		r.CUDACache = p
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "ggml sources  %s\n", r.GGMLSource)
	fmt.Fprintf(w, "--gpu loads   %s\n\n", r.CUDACache)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tBACKEND\tTYPE\tFREE MiB\tTOTAL MiB\tDESCRIPTION")
	for _, d := range r.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", d.Name, d.Backend, d.Type, d.FreeBytes>>20, d.TotalBytes>>20, d.Description)
	}
	return tw.Flush()
}
