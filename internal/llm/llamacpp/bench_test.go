package llamacpp

// Throughput benchmarks for batched generation and scoring on a small random-weight model:
//
//	go test ./internal/llm/llamacpp -run '^$' -bench . -benchtime 1x
//
// Each benchmark runs batch sizes 1, 8 and 32 (Options.Parallel) as sub-benchmarks, in that order,
// and reports tok/s and speedup-vs-b1: the rate divided by the batch-1 rate measured earlier in the
// same process (the metric is left out when the batch-1 sub-benchmark was filtered away; with -count,
// the latest batch-1 run is the base). Run with -v to see the model's size.
//
// Threads: the default (DefaultThreads: the physical cores other work leaves idle);
// MBD_BENCH_THREADS=n sets another count. ggml's worker threads spin at barriers, so on a busy
// machine with as many threads as cores a descheduled thread stalls every other one; batch 1 (many
// small decodes) suffers most, which inflates the speedups. Compare ratios from a quiet machine, or
// from runs with fewer threads than cores. Generation runs on the default (fast) path;
// MBD_BENCH_EXACT=1 runs it in F32 (exact=1). scripts/bench/llama.sh compares both with a C program.
//
// What the times include: model loading and context creation are excluded (a warm-up call creates
// the context and faults the weights in before the timer starts). Prompt processing is included:
// BenchmarkGenerate's time covers tokenizing and prefilling the prompts (short, ~5-10 tokens each,
// reported as prompt-tok/op) as well as generating, but tok/s counts only the generated completion
// tokens (CompletionTokens from the results). BenchmarkScore's time covers the 16-token prompts
// decoded together with the completions, but tok/s counts only the scored completion tokens.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/mbd-dev/mbd/internal/bpe"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

var (
	benchOnce  sync.Once
	benchPath  string
	benchTok   *bpe.Tokenizer
	benchErr   error
	benchBase1 = map[string]float64{} // batch-1 tok/s per benchmark, for speedup-vs-b1
)

// benchBatches are the batch sizes (Options.Parallel) each benchmark measures, batch 1 first.
var benchBatches = []int{1, 8, 32}

// benchModelConfig is the small benchmark model: 8 layers of width 512, 8 heads, feed-forward 1408,
// F16 weights, a vocabulary trained to at most 2048 tokens on the default corpus (which gives 1765):
// 27.5 M parameters, a 55 MB file, created in a few seconds.
func benchModelConfig() tinymodel.Config {
	cfg := tinymodel.DefaultConfig()
	cfg.Name = "mbd-bench"
	cfg.VocabSize = 2048
	cfg.NEmbd, cfg.NLayer, cfg.NHead, cfg.NHeadKV, cfg.NFF = 512, 8, 8, 8, 1408
	return cfg
}

// benchModel creates the benchmark model once per test binary, in the tiny models' temporary
// directory, which TestMain removes at the end.
func benchModel(b *testing.B) (string, *bpe.Tokenizer) {
	b.Helper()
	plain, _, _ := tinyModels(b)
	benchOnce.Do(func() {
		benchPath = filepath.Join(filepath.Dir(plain), "bench.gguf")
		cfg := benchModelConfig()
		if benchTok, benchErr = tinymodel.TrainAndCreate(benchPath, "", cfg, 1); benchErr != nil {
			return
		}
		fi, err := os.Stat(benchPath)
		if benchErr = err; err == nil {
			b.Logf("bench model: %.1f M parameters, vocabulary %d, %.1f MB file",
				float64(cfg.ParamCount(len(benchTok.Tokens)))/1e6, len(benchTok.Tokens), float64(fi.Size())/1e6)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath, benchTok
}

// runBatches runs one sub-benchmark per batch size: it loads the model with opts and that batch size,
// calls warm (untimed), then times b.N calls of work, which returns the tokens it counts (and the
// prompt tokens, reported separately when non-zero).
func runBatches(b *testing.B, name string, opts Options, warm func(*Model) error, work func(*Model) (tokens, promptTokens int, err error)) {
	path, _ := benchModel(b)
	delete(benchBase1, name)
	for _, par := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", par), func(b *testing.B) {
			o := opts
			o.Path, o.Parallel = path, par
			if n, err := strconv.Atoi(os.Getenv("MBD_BENCH_THREADS")); err == nil {
				o.Threads = n
			}
			o.Exact = os.Getenv("MBD_BENCH_EXACT") == "1"
			m, err := Load(o)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if err := warm(m); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var tokens, prompt int
			for range b.N {
				n, p, err := work(m)
				if err != nil {
					b.Fatal(err)
				}
				tokens += n
				prompt += p
			}
			b.StopTimer()
			rate := float64(tokens) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "tok/s")
			b.ReportMetric(float64(tokens)/float64(b.N), "tok/op")
			if prompt > 0 {
				b.ReportMetric(float64(prompt)/float64(b.N), "prompt-tok/op")
			}
			if par == 1 {
				benchBase1[name] = rate
			}
			if base := benchBase1[name]; base > 0 {
				b.ReportMetric(rate/base, "speedup-vs-b1")
			}
		})
	}
}

// BenchmarkGenerate: 32 requests (8 prompts x 4 seeds), temperature 0.8, up to 64 new tokens each.
func BenchmarkGenerate(b *testing.B) {
	stems := []string{"The weather today is", "Once upon a time", "To make bread, you", "The capital of",
		"Q: Which month comes after May?\nA:", "The sea turtle is a", "Kofi was a cheerful", "Every weekend, she would"}
	var reqs []llm.GenRequest
	for i := range 32 {
		reqs = append(reqs, llm.GenRequest{ID: fmt.Sprint(i), Prompt: stems[i%len(stems)], Seed: uint64(i)})
	}
	s := llm.Sampling{Temperature: 0.8, MaxTokens: 64}
	warm := func(m *Model) error {
		return m.Generate(context.Background(), reqs[:1], llm.Sampling{Temperature: 0.8, MaxTokens: 1}, func(llm.GenResult) error { return nil })
	}
	work := func(m *Model) (int, int, error) {
		var n, p, got int
		err := m.Generate(context.Background(), reqs, s, func(r llm.GenResult) error {
			n += r.CompletionTokens
			p += r.PromptTokens
			got++
			return nil
		})
		if err == nil && got != len(reqs) {
			err = fmt.Errorf("%d results for %d requests", got, len(reqs))
		}
		return n, p, err
	}
	runBatches(b, "generate", Options{Ctx: 128}, warm, work)
}

// BenchmarkScore: 64 (prompt, completion) pairs cut from the default corpus, 16 prompt tokens and
// about 100 completion tokens each (the completion is re-tokenized on its own, so the count varies a
// little).
func BenchmarkScore(b *testing.B) {
	_, tok := benchModel(b)
	ids := tok.Encode(tinymodel.DefaultCorpus())
	const nPairs, nPrompt, nComp = 64, 16, 100
	stride := (len(ids) - nPrompt - nComp) / nPairs
	if stride < 1 {
		b.Fatalf("corpus too short: %d tokens", len(ids))
	}
	var reqs []llm.ScoreRequest
	for i := range nPairs {
		at := i * stride
		p, err := tok.Decode(ids[at : at+nPrompt])
		if err != nil {
			b.Fatal(err)
		}
		c, err := tok.Decode(ids[at+nPrompt : at+nPrompt+nComp])
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, llm.ScoreRequest{ID: fmt.Sprint(i), Prompt: p, Completion: c})
	}
	warm := func(m *Model) error {
		_, err := m.Score(context.Background(), reqs[:1])
		return err
	}
	work := func(m *Model) (int, int, error) {
		res, err := m.Score(context.Background(), reqs)
		n := 0
		for _, r := range res {
			n += len(r.Logprobs)
		}
		return n, 0, err
	}
	runBatches(b, "score", Options{Ctx: 256}, warm, work)
}
