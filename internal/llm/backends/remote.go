package backends

import (
	"fmt"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
)

func openRemote(ref string) (llm.Model, error) {
	cfg, err := openaicompat.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	m, err := openaicompat.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("model reference %q: %w", ref, err)
	}
	return m, nil
}
