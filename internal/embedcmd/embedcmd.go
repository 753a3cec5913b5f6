// Package embedcmd is mbd-embed: a generations table → an embeddings table.
package embedcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/embed"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-embed.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, &ucli.Command{
		Name:      "mbd-embed",
		Usage:     "embed the texts of generations tables",
		ArgsUsage: "GENERATIONS ...",
		Description: `Writes one L2-normalised vector per generation. Embedders:
  builtin:lsa[?dim=64&ngram=2&min_df=2&max_df=1&seed=1]   TF-IDF over word n-grams + truncated SVD,
      fitted on this run's texts (offline default; deterministic)
  gguf:PATH[?prefix=TEXT&chunk=N&...]                      mean-pooled hidden states of a GGUF model
  openai-compat:URL#MODEL[?prefix=...], openai:MODEL       /v1/embeddings
prefix= is an instruction put before every text (e5/bge/nomic-style, e.g. "query: ").
Vectors are cached by embedder and text (--cache), so reruns embed nothing twice.

Examples:
  mbd-embed gens-a.parquet gens-b.parquet -o embeddings.parquet
  mbd-embed --embedder 'gguf:nomic-embed.gguf?prefix=clustering: ' --text prompt+completion gens.parquet -o emb.parquet`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output embeddings table (`PATH` or -)"},
			&ucli.StringFlag{Name: "embedder", Value: "builtin:lsa", Usage: "embedder `REF`"},
			&ucli.StringFlag{Name: "text", Value: "completion", Usage: "what to embed: completion or prompt+completion"},
			&ucli.StringFlag{Name: "cache", Usage: "cache `DIR` (default ~/.cache/mbd/embed)"},
			&ucli.BoolFlag{Name: "no-cache", Usage: "do not read or write the cache"},
			&ucli.StringFlag{Name: "shard", Usage: "`i/N`: embed only shard i of N (by generation id; not for builtin:lsa, which is fitted on all texts)"},
		},
		Action: run,
	}, args, stdio)
}

func run(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	switch {
	case out == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case cmd.NArg() == 0:
		return cli.Usagef("want one or more GENERATIONS tables")
	case cmd.String("text") != "completion" && cmd.String("text") != "prompt+completion":
		return cli.Usagef("--text %q: want completion or prompt+completion", cmd.String("text"))
	}
	shard, err := cli.ParseShard(cmd.String("shard"))
	if err != nil {
		return err
	}
	var ids, texts []string
	for _, path := range cmd.Args().Slice() {
		r, err := table.Open[schema.Generation](path, env.Stdin)
		if err != nil {
			return err
		}
		for g, err := range r.All() {
			if err != nil {
				r.Close()
				return err
			}
			if !shard.Has(g.ID) {
				continue
			}
			text := g.Completion
			if cmd.String("text") == "prompt+completion" {
				text = g.Prompt + "\n\n" + g.Completion
			}
			ids, texts = append(ids, g.ID), append(texts, text)
		}
		hash, err := r.Hash()
		r.Close()
		if err != nil {
			return err
		}
		env.Manifest.Input(path, schema.Generations.ID(), int64(len(ids)), hash)
	}
	if len(texts) == 0 {
		return &table.InputError{Path: cmd.Args().First(), Msg: "no generations to embed"}
	}
	e, err := embed.Parse(cmd.String("embedder"), backends.Open)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	defer embed.Close(e)
	cd, ok := e.(embed.CorpusDependent)
	corpusDependent := ok && cd.CorpusDependent()
	if corpusDependent && shard.N > 0 {
		return cli.Usagef("--shard: %s is fitted on all the texts at once; shard only with model embedders", e.ID())
	}
	if !cmd.Bool("no-cache") {
		dir := cmd.String("cache")
		if dir == "" {
			if dir, err = embed.DefaultCacheDir(); err != nil {
				return err
			}
		}
		c := embed.Cached(e, dir)
		defer c.Close()
		e = c
	}
	env.Log.Info("embedding", "texts", len(texts), "embedder", e.ID())
	// Model embedders go in chunks, for progress; a corpus-dependent one sees every text at once.
	chunk := len(texts)
	if !corpusDependent {
		chunk = 256
	}
	bar := env.Progress("embed", "texts", int64(len(texts)))
	vecs := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += chunk {
		v, err := e.Embed(ctx, texts[i:min(i+chunk, len(texts))])
		if err != nil {
			return err
		}
		vecs = append(vecs, v...)
		bar.Add(int64(len(v)))
	}
	bar.Done()
	if c, ok := e.(*embed.CachedEmbedder); ok {
		hits, misses := c.Stats()
		env.Log.Info("cache", "hits", hits, "misses", misses)
		env.Manifest.Param("cache_hits", hits)
	}
	w, err := table.Create[schema.Embedding](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	for i, v := range vecs {
		h := sha256.Sum256([]byte(texts[i]))
		if err := w.Write(schema.Embedding{GenerationID: ids[i], Embedder: e.ID(), TextHash: hex.EncodeToString(h[:8]), Vector: v}); err != nil {
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	env.Manifest.Param("embedder", e.ID())
	env.Manifest.Param("text", cmd.String("text"))
	if err := env.Manifest.WriteFor(out, schema.Embeddings.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("embedded", "output", out, "rows", w.Rows(), "dim", fmt.Sprint(len(vecs[0])))
	return nil
}
