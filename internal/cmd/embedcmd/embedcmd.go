// Package embedcmd is the command line of mbd-embed: its flags, their checks, and the run that reads
// the generations, embeds their texts with package embed and writes the embeddings table.
package embedcmd

import (
	"context"
	"fmt"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/embed"
	"github.com/mbd-dev/mbd/internal/llm/backends"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Options are the options of mbd-embed.
type Options struct {
	Output      string   // -o
	Embedder    string   // --embedder
	Text        string   // --text
	Cache       string   // --cache
	NoCache     bool     // --no-cache
	Shard       string   // --shard
	Generations []string // GENERATIONS arguments
}

// Main is mbd-embed.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	o := &Options{}
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
			cli.OutputFlag(&o.Output, "output embeddings table (`PATH` or -)"),
			&ucli.StringFlag{Name: "embedder", Value: "builtin:lsa", Destination: &o.Embedder, Usage: "embedder `REF`"},
			&ucli.StringFlag{Name: "text", Value: embed.TextCompletion, Destination: &o.Text, Usage: "what to embed: completion or prompt+completion"},
			&ucli.StringFlag{Name: "cache", Destination: &o.Cache, Usage: "cache `DIR` (default ~/.cache/mbd/embed)"},
			&ucli.BoolFlag{Name: "no-cache", Destination: &o.NoCache, Usage: "do not read or write the cache"},
			&ucli.StringFlag{Name: "shard", Destination: &o.Shard, Usage: "`i/N`: embed only shard i of N (by generation id; not for builtin:lsa, which is fitted on all texts)"},
		},
		Action: cli.Action(o, &o.Generations, Run),
	}, args, stdio)
}

// Validate checks the options before any work.
func (o Options) Validate() error {
	var c cli.Check
	c.Add(cli.NeedOutput(o.Output, "PATH (or -o - for stdout)"))
	c.Must(len(o.Generations) > 0, "want one or more GENERATIONS tables")
	c.Must(o.Text == embed.TextCompletion || o.Text == embed.TextPromptCompletion, "--text %q: want completion or prompt+completion", o.Text)
	c.Must(o.Embedder != "", "--embedder: give an embedder REF")
	_, err := cli.ParseShard(o.Shard)
	c.Add(err)
	var p cli.Paths
	p.In("GENERATIONS", o.Generations...)
	p.Shared("--embedder", backends.LocalFiles(embed.ModelRef(o.Embedder))...)
	p.Out("-o", o.Output)
	c.Add(p.Err())
	return c.Err()
}

// Run reads the generations, embeds their texts and writes the embeddings.
func Run(ctx context.Context, env *cli.Env, o Options) error {
	shard, _ := cli.ParseShard(o.Shard)
	var ids, texts []string
	err := cli.ReadGenerations(env, o.Generations, func(_ string, g schema.Generation) error {
		if shard.Has(g.ID) {
			ids, texts = append(ids, g.ID), append(texts, embed.Text(g, o.Text))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(texts) == 0 {
		return &table.InputError{Path: o.Generations[0], Msg: "no generations to embed"}
	}
	e, err := embed.Parse(o.Embedder, backends.Open)
	if err != nil {
		return cli.BadRef("--embedder", err)
	}
	defer embed.Close(e)
	if embed.IsCorpusDependent(e) && shard.N > 0 {
		return cli.Usagef("--shard: %s is fitted on all the texts at once; shard only with model embedders", e.ID())
	}
	if !o.NoCache {
		dir := o.Cache
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
	bar := env.Progress("embed", "texts", int64(len(texts)))
	vecs, err := embed.All(ctx, e, texts, func(n int) { bar.Add(int64(n)) })
	if err != nil {
		return err
	}
	bar.Done()
	if c, ok := e.(*embed.CachedEmbedder); ok {
		hits, misses := c.Stats()
		env.Log.Info("cache", "hits", hits, "misses", misses)
		env.Manifest.Param("cache_hits", hits)
	}
	env.Manifest.Param("embedder", e.ID())
	env.Manifest.Param("text", o.Text)
	rows := embed.Rows(ids, texts, vecs, e.ID())
	if err := cli.WriteTable(env, o.Output, rows); err != nil {
		return err
	}
	env.Log.Info("embedded", "output", o.Output, "rows", len(rows), "dim", fmt.Sprint(len(vecs[0])))
	return nil
}
