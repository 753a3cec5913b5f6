package backends

import (
	"testing"

	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
)

func TestGPULayers(t *testing.T) {
	for q, want := range map[string]int{"": 0, "?gpu-layers=0": 0, "?gpu-layers=7": 7, "?gpu-layers=all": llamacpp.GPULayersAll} {
		g, err := parseGGUF("m.gguf" + q)
		if err != nil || g.opts.GPULayers != want {
			t.Errorf("parseGGUF(m.gguf%s): GPULayers %d, %v; want %d", q, g.opts.GPULayers, err, want)
		}
	}
}
