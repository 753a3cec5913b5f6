//go:build ignore

// kmeans_ours runs internal/cluster's KMeans (spherical k-means, k-means++ seeding, Lloyd) on the
// raw float32 file written by kmeans_blobs.go, for scripts/bench/kmeans.sh. It times the KMeans call
// alone (not loading), writes the assignment as int32 LE and prints one JSON line:
// {"seconds":..., "iterations":..., "cosine_inertia":..., ...}; cosine_inertia is Result.Inertia,
// Σ 1 − cos(x, own centroid).
//
// Run from the module root: go run scripts/bench/kmeans_ours.go -data x.f32 -n 100000 -d 384 ...
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"log"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/mbd-dev/mbd/internal/cluster"
)

func main() {
	data := flag.String("data", "", "float32 LE n×d `FILE`")
	n := flag.Int("n", 100000, "points")
	d := flag.Int("d", 384, "dimension")
	k := flag.Int("k", 50, "clusters")
	restarts := flag.Int("restarts", 3, "restarts (sklearn's n_init)")
	maxIter := flag.Int("max-iter", 100, "Lloyd iterations per restart (sklearn's max_iter)")
	seed := flag.Uint64("seed", 1, "seed")
	out := flag.String("assign", "", "write the assignment as int32 LE to `FILE`")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the KMeans call to `FILE`")
	flag.Parse()

	raw, err := os.ReadFile(*data)
	if err != nil {
		log.Fatal(err)
	}
	if len(raw) != *n**d*4 {
		log.Fatalf("%s: %d bytes, want %d×%d×4", *data, len(raw), *n, *d)
	}
	flat := make([]float32, *n**d)
	for i := range flat {
		flat[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	raw = nil
	pts := make([][]float32, *n)
	for i := range pts {
		pts[i] = flat[i**d : (i+1)**d : (i+1)**d]
	}
	runtime.GC()

	opt := cluster.Options{K: *k, Seed: *seed, Restarts: *restarts, MaxIter: *maxIter}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	start := time.Now()
	res, err := cluster.KMeans(pts, opt)
	secs := time.Since(start).Seconds()
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		log.Fatal(err)
	}

	if *out != "" {
		buf := make([]byte, 4*len(res.Assign))
		for i, c := range res.Assign {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(c))
		}
		if err := os.WriteFile(*out, buf, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"seconds":        secs,
		"iterations":     res.Iterations, // of the winning restart
		"cosine_inertia": res.Inertia,
		"restarts":       *restarts,
		"max_iter":       *maxIter,
		"tol":            "default (1e-6 relative inertia drop)",
		"gomaxprocs":     runtime.GOMAXPROCS(0),
	})
}
