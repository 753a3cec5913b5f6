package cluster

import (
	"math"
	"sync"
	"testing"
	"time"
)

// naiveLloyd is the reference for BenchmarkKMeans: a plain single-threaded
// Lloyd's k-means in float64 with cosine assignment and renormalised means,
// started from the first k points and run for exactly iters iterations. It
// is what one would write without thinking about speed.
func naiveLloyd(data [][]float32, k, iters int) []int {
	d := len(data[0])
	cent := make([][]float64, k)
	for c := range cent {
		cent[c] = make([]float64, d)
		for t := range d {
			cent[c][t] = float64(data[c][t])
		}
	}
	assign := make([]int, len(data))
	for range iters {
		for i, x := range data {
			best, bs := 0, math.Inf(-1)
			for c := range k {
				var s float64
				for t := range d {
					s += float64(x[t]) * cent[c][t]
				}
				if s > bs {
					best, bs = c, s
				}
			}
			assign[i] = best
		}
		for c := range k {
			clear(cent[c])
		}
		for i, x := range data {
			for t := range d {
				cent[assign[i]][t] += float64(x[t])
			}
		}
		for c := range k {
			var s float64
			for _, v := range cent[c] {
				s += v * v
			}
			if s > 0 {
				s = 1 / math.Sqrt(s)
				for t := range cent[c] {
					cent[c][t] *= s
				}
			}
		}
	}
	return assign
}

var benchData = sync.OnceValues(func() ([][]float32, []int) {
	return blobs(42, 20, 5000, 384, 0.05) // 100,000 × 384
})

// BenchmarkKMeans clusters 100,000 × 384 blob data into k = 20 and reports
// points/s (n / wall time of one KMeans call, seeding included) and the
// speedup over naiveLloyd run for the same number of iterations in the same
// process (measured outside the timer). Run with -benchtime=1x.
func BenchmarkKMeans(b *testing.B) {
	data, labels := benchData()
	n := float64(len(data))
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"lloyd", Options{K: 20, Seed: 1, Restarts: 1, MaxIter: 30}},
		{"minibatch", Options{K: 20, Seed: 1, Restarts: 1, MiniBatch: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ours, ref time.Duration
			var r *Result
			for b.Loop() {
				start := time.Now()
				var err error
				r, err = KMeans(data, tc.opt)
				if err != nil {
					b.Fatal(err)
				}
				ours += time.Since(start)
				if ref == 0 {
					b.StopTimer()
					// Same number of full-data iterations as our
					// Lloyd run (for mini-batch: as many as a full
					// Lloyd run on this data needed).
					iters := r.Iterations
					if tc.opt.MiniBatch {
						full, _ := KMeans(data, Options{K: 20, Seed: 1, Restarts: 1, MaxIter: 30})
						iters = full.Iterations
					}
					t0 := time.Now()
					naiveLloyd(data, 20, iters)
					ref = time.Since(t0)
					b.ReportMetric(float64(iters), "ref-iters")
					b.StartTimer()
				}
			}
			per := ours.Seconds() / float64(b.N)
			b.ReportMetric(n/per, "points/s")
			b.ReportMetric(n/ref.Seconds(), "ref-points/s")
			b.ReportMetric(ref.Seconds()/per, "speedup")
			b.ReportMetric(float64(r.Iterations), "iters")
			b.ReportMetric(AdjustedRand(labels, r.Assign), "ARI")
		})
	}
}
