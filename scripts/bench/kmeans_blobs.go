//go:build ignore

// kmeans_blobs generates seeded random-blob unit vectors for scripts/bench/kmeans.sh.
//
// k blob centres are uniform random unit vectors in R^d; each point picks a blob uniformly, adds
// isotropic Gaussian noise of standard deviation sigma per coordinate to the centre and is
// L2-normalised (the same model as the blobs of internal/cluster's tests). Points are generated one
// at a time and streamed to the outputs, so memory does not grow with n.
//
// Outputs (any combination):
//
//	-raw FILE      n×d float32 little-endian, row-major (for the sklearn comparison)
//	-labels FILE   n int32 little-endian planted blob labels
//	-emb FILE      an mbd embeddings table (Parquet) and
//	-gens FILE     a matching generations table with tiny texts (both or neither)
//
// Run from the module root: go run scripts/bench/kmeans_blobs.go -n 100000 -raw x.f32 ...
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"

	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/vec"
)

func main() {
	n := flag.Int("n", 100000, "points")
	d := flag.Int("d", 384, "dimension")
	k := flag.Int("k", 50, "blobs")
	sigma := flag.Float64("sigma", 0.05, "noise standard deviation per coordinate")
	seed := flag.Uint64("seed", 1, "seed")
	raw := flag.String("raw", "", "write the points as float32 LE to `FILE`")
	labels := flag.String("labels", "", "write the planted labels as int32 LE to `FILE`")
	emb := flag.String("emb", "", "write an embeddings table to `FILE`")
	gens := flag.String("gens", "", "write the matching generations table to `FILE`")
	flag.Parse()
	if (*emb == "") != (*gens == "") {
		log.Fatal("give both -emb and -gens, or neither")
	}

	rng := rand.New(rand.NewPCG(*seed, 99))
	centres := make([][]float64, *k)
	for c := range centres {
		v := make([]float64, *d)
		for t := range v {
			v[t] = rng.NormFloat64()
		}
		vec.Normalize64(v)
		centres[c] = v
	}

	var rawW, labW *bufio.Writer
	var files []*os.File
	open := func(path string) *bufio.Writer {
		f, err := os.Create(path)
		if err != nil {
			log.Fatal(err)
		}
		files = append(files, f)
		return bufio.NewWriterSize(f, 1<<20)
	}
	if *raw != "" {
		rawW = open(*raw)
	}
	if *labels != "" {
		labW = open(*labels)
	}
	var ew *table.Writer[schema.Embedding]
	var gw *table.Writer[schema.Generation]
	if *emb != "" {
		var err error
		if ew, err = table.Create[schema.Embedding](*emb, nil); err != nil {
			log.Fatal(err)
		}
		defer ew.Abort()
		if gw, err = table.Create[schema.Generation](*gens, nil); err != nil {
			log.Fatal(err)
		}
		defer gw.Abort()
	}

	x := make([]float64, *d)
	var buf [4]byte
	for i := range *n {
		c := rng.IntN(*k)
		for t := range x {
			x[t] = centres[c][t] + *sigma*rng.NormFloat64()
		}
		vec.Normalize64(x)
		if rawW != nil {
			for _, v := range x {
				binary.LittleEndian.PutUint32(buf[:], math.Float32bits(float32(v)))
				rawW.Write(buf[:])
			}
		}
		if labW != nil {
			binary.LittleEndian.PutUint32(buf[:], uint32(c))
			labW.Write(buf[:])
		}
		if ew != nil {
			// Two models, 10 samples per prompt and model: (model, prompt, sample) is unique.
			model := []string{"A", "B"}[i%2]
			pid := fmt.Sprintf("p%07d", i/20)
			sample := int32(i / 2 % 10)
			id := gen.GenerationID(model, pid, sample)
			vec := make([]float32, *d) // the writer keeps the row until its chunk is flushed
			for t, v := range x {
				vec[t] = float32(v)
			}
			if err := ew.Write(schema.Embedding{GenerationID: id, Embedder: "bench:blobs", TextHash: fmt.Sprintf("%016x", i), Vector: vec}); err != nil {
				log.Fatal(err)
			}
			text := fmt.Sprintf("text %d", i)
			if err := gw.Write(schema.Generation{ID: id, Model: model, ModelRef: "bench:" + model, PromptID: pid, Split: "discovery",
				Sample: sample, Prompt: "prompt " + pid, Completion: text, FinishReason: "stop"}); err != nil {
				log.Fatal(err)
			}
		}
	}
	for _, w := range []*bufio.Writer{rawW, labW} {
		if w != nil {
			if err := w.Flush(); err != nil {
				log.Fatal(err)
			}
		}
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}
	if ew != nil {
		if err := ew.Commit(); err != nil {
			log.Fatal(err)
		}
		if err := gw.Commit(); err != nil {
			log.Fatal(err)
		}
	}
}
