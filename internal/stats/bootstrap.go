package stats

import (
	"math/rand/v2"
	"slices"
)

// BootstrapMeanCI returns the percentile bootstrap confidence interval of the mean of x (Efron &
// Tibshirani 1993, ch. 13): nResamples resamples of len(x) draws with replacement, seeded, and
// the (1−conf)/2 and (1+conf)/2 quantiles of their means (linear interpolation between order
// statistics, numpy's default). It is deterministic per seed. Used for the paired AUC of a
// discriminative test and the effect of a generative one, where no closed form fits.
func BootstrapMeanCI(x []float64, conf float64, nResamples int, seed uint64) (lo, hi float64, err error) {
	if err := checkBootstrap(conf, nResamples, x); err != nil {
		return 0, 0, err
	}
	r := rand.New(rand.NewPCG(seed, 0xb0075))
	means := make([]float64, nResamples)
	n := len(x)
	for i := range means {
		s := 0.0
		for range n {
			s += x[r.IntN(n)]
		}
		means[i] = s / float64(n)
	}
	slices.Sort(means)
	return quantile(means, (1-conf)/2), quantile(means, (1+conf)/2), nil
}

// BootstrapMeanDiffCI is BootstrapMeanCI for mean(x) − mean(y), resampling each sample on its own.
func BootstrapMeanDiffCI(x, y []float64, conf float64, nResamples int, seed uint64) (lo, hi float64, err error) {
	if err := checkBootstrap(conf, nResamples, x, y); err != nil {
		return 0, 0, err
	}
	r := rand.New(rand.NewPCG(seed, 0xb0076))
	diffs := make([]float64, nResamples)
	mean := func(v []float64) float64 {
		s := 0.0
		for range v {
			s += v[r.IntN(len(v))]
		}
		return s / float64(len(v))
	}
	for i := range diffs {
		diffs[i] = mean(x) - mean(y)
	}
	slices.Sort(diffs)
	return quantile(diffs, (1-conf)/2), quantile(diffs, (1+conf)/2), nil
}

// checkBootstrap checks the arguments of the bootstrap functions: non-empty finite samples, a
// confidence level in (0, 1), at least 100 resamples.
func checkBootstrap(conf float64, nResamples int, samples ...[]float64) error {
	if !(conf > 0 && conf < 1) {
		return invalidf("confidence level %v not in (0, 1)", conf)
	}
	if nResamples < 100 {
		return invalidf("%d resamples: want at least 100", nResamples)
	}
	for i, x := range samples {
		if len(x) == 0 {
			return invalidf("bootstrap of an empty sample")
		}
		if err := checkFinite(string(rune('x'+i)), x); err != nil {
			return err
		}
	}
	return nil
}

// quantile of sorted values at q in [0, 1], interpolating linearly between order statistics.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}
