package cluster

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkSize is the number of points per unit of parallel work. It is fixed,
// not derived from the worker count, so that per-chunk partial results (and
// their reduction order) do not depend on how many goroutines run.
const chunkSize = 512

func numChunks(n int) int { return (n + chunkSize - 1) / chunkSize }

func resolveWorkers(w int) int {
	if w <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return w
}

// forChunks calls fn(c, lo, hi) for every chunk c = [lo, hi) of [0, n) of
// chunkSize items on up to workers goroutines. fn must write only state owned
// by chunk c.
func forChunks(n, workers int, fn func(c, lo, hi int)) {
	forBlocks(n, chunkSize, workers, fn)
}

// forBlocks is forChunks with an explicit block size.
func forBlocks(n, size, workers int, fn func(c, lo, hi int)) {
	nc := (n + size - 1) / size
	if workers <= 1 || nc <= 1 {
		for c := range nc {
			fn(c, c*size, min(n, (c+1)*size))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, nc) {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= nc {
					return
				}
				fn(c, c*size, min(n, (c+1)*size))
			}
		})
	}
	wg.Wait()
}

// dot is the float32 dot product of a and b (len(b) ≥ len(a)).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
