package openaicompat

import (
	"context"
	"fmt"

	"github.com/openai/openai-go/v3"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/vec"
)

// Embed calls /v1/embeddings in batches of EmbedBatchSize texts (batches run concurrently, bounded
// like every request) and L2-normalises the vectors. A server answering 404 (or 405/501) gives an
// error wrapping llm.ErrCannotEmbed.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	bs := c.cfg.EmbedBatchSize
	nb := (len(texts) + bs - 1) / bs
	err := c.parallel(ctx, nb, func(ctx context.Context, b int) error {
		lo := b * bs
		hi := min(lo+bs, len(texts))
		return c.embedBatch(ctx, texts[lo:hi], out[lo:hi])
	}, nil)
	if err != nil {
		return nil, err
	}
	dim := -1
	for i, v := range out {
		if dim >= 0 && len(v) != dim {
			return nil, fmt.Errorf("%s: embedding %d has dimension %d, earlier ones %d", c.where("/embeddings"), i, len(v), dim)
		}
		dim = len(v)
	}
	return out, nil
}

func (c *Client) embedBatch(ctx context.Context, texts []string, out [][]float32) error {
	p := openai.EmbeddingNewParams{
		Model:          openai.EmbeddingModel(c.cfg.Model),
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	}
	resp, err := request(ctx, c, "/embeddings", c.embSvc.New, p)
	if err != nil {
		switch statusOf(err) {
		case 404, 405, 501:
			return fmt.Errorf("%w: %w", llm.ErrCannotEmbed, err)
		}
		return err
	}
	where := c.where("/embeddings")
	if len(resp.Data) != len(texts) {
		return fmt.Errorf("%s: %d embeddings for %d texts", where, len(resp.Data), len(texts))
	}
	for _, d := range resp.Data {
		if d.Index < 0 || int(d.Index) >= len(texts) || out[d.Index] != nil {
			return fmt.Errorf("%s: bad or repeated embedding index %d", where, d.Index)
		}
		if len(d.Embedding) == 0 {
			return fmt.Errorf("%s: empty embedding at index %d", where, d.Index)
		}
		out[d.Index] = vec.Unit(d.Embedding)
	}
	return nil
}
