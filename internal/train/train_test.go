package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

var (
	tinyOnce sync.Once
	tinyDir  string
)

// tinyConfig is a small model with peaky random weights (InitStd 0.2), so that log-probs vary.
func tinyConfig() tinymodel.Config {
	cfg := tinymodel.DefaultConfig()
	cfg.InitStd = 0.2
	cfg.ContextLength = 256
	return cfg
}

// tinyModel creates, once per test binary, the tiny models: "f16.gguf" (the default F16 weights)
// and "f32.gguf".
func tinyModel(t testing.TB, name string) string {
	t.Helper()
	tinyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mbd-train-test-*")
		if err != nil {
			t.Fatal(err)
		}
		tinyDir = dir
		cfg := tinyConfig()
		if _, err := tinymodel.TrainAndCreate(filepath.Join(dir, "f16.gguf"), "", cfg, 1); err != nil {
			t.Fatal(err)
		}
		cfg.WeightType = gguf.TensorF32
		if _, err := tinymodel.TrainAndCreate(filepath.Join(dir, "f32.gguf"), "", cfg, 2); err != nil {
			t.Fatal(err)
		}
	})
	return filepath.Join(tinyDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{tinyDir, qwenDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func loadLlama(t *testing.T, path string) *llamacpp.Model {
	t.Helper()
	lm, err := llamacpp.Load(llamacpp.Options{Path: path, Chat: "off", Threads: 1, Parallel: 1, Ctx: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	return lm
}

func mustOpen(t testing.TB, path string) *Model {
	t.Helper()
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tokenize returns the tokens of prompt (after BOS) and of completion.
func tokenize(t *testing.T, lm *llamacpp.Model, prompt, completion string) (p, c []int32) {
	t.Helper()
	p, err := lm.Tokenize(prompt, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = lm.Tokenize(completion, false, false); err != nil {
		t.Fatal(err)
	}
	return p, c
}

// maxAbsDiff returns max |a[i]-b[i]|.
func maxAbsDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// checkParity compares, on prompt+completion's completion tokens, the trainer's log-probs (GoMLX)
// with llama.cpp's Score and with the plain-Go reference forward pass (exact float64 math).
//
// Our llama.cpp contexts run attention in F32 with an F32 KV cache (flash attention on the CPU and
// the default F16 cache round Q, K, V and the attention sums to float16, moving log-probs by ~1e-2),
// so for models with F32 weights trainer and llama.cpp agree within 1e-3 — the gate. With
// F16 weights ggml multiplies in float16 and the gap is a few 1e-3; tol bounds it.
func checkParity(t *testing.T, m *Model, llamaPath string, prompt, completion string, tol float64) {
	t.Helper()
	lm := loadLlama(t, llamaPath)
	gf, err := gguf.Open(llamaPath)
	if err != nil {
		t.Fatal(err)
	}
	f16Weights := map[string]bool{}
	for _, ti := range gf.Tensors {
		f16Weights[ti.Name] = ti.Type == gguf.TensorF16
	}
	gf.Close()
	p, c := tokenize(t, lm, prompt, completion)
	res, err := lm.Score(context.Background(), []llm.ScoreRequest{{ID: "x", Prompt: prompt, Completion: completion}})
	if err != nil {
		t.Fatal(err)
	}
	llama := res[0].Logprobs
	if len(llama) != len(c) {
		t.Fatalf("llama.cpp scored %d tokens, tokenizer gave %d", len(llama), len(c))
	}
	all := append(append([]int32{}, p...), c...)
	got, err := m.LogProbs(all)
	if err != nil {
		t.Fatal(err)
	}
	got = got[len(p)-1:]
	ref, err := refLogProbs(m, all, refOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref = ref[len(p)-1:]
	var sum float64
	for _, v := range llama {
		sum += v
	}
	dRef, dLlama := maxAbsDiff(got, ref), maxAbsDiff(got, llama)
	t.Logf("%d tokens, mean log-prob %.4f; max |Δ|: trainer-reference %.1e, trainer-llama.cpp %.1e",
		len(llama), sum/float64(len(llama)), dRef, dLlama)
	if dRef > 1e-4 {
		t.Errorf("trainer and the plain-Go reference differ by %.1e", dRef)
	}
	allF32 := true
	for _, f16 := range f16Weights {
		allF32 = allF32 && !f16
	}
	if allF32 {
		tol = min(tol, 1e-3)
	}
	if dLlama > tol {
		for i := range llama {
			t.Logf("%3d tok %4d trainer %.5f llama.cpp %.5f", i, c[i], got[i], llama[i])
		}
		t.Errorf("trainer and llama.cpp differ by %.1e > %.0e", dLlama, tol)
	}
}

// parityTol bounds |trainer - llama.cpp| for models with F16 weights (see checkParity).
const parityTol = 1e-2

const parityPrompt = "The quick brown fox"
const parityCompletion = " jumps over the lazy dog, and then it runs into the forest to find its friends."

func TestParity(t *testing.T) {
	for _, name := range []string{"f16.gguf", "f32.gguf"} {
		t.Run(name, func(t *testing.T) {
			path := tinyModel(t, name)
			checkParity(t, mustOpen(t, path), path, parityPrompt, parityCompletion, parityTol)
		})
	}
}

// TestOverfit trains a tiny model on one short sequence until it has memorised it, exports it and
// checks the memorisation under llama.cpp, then the parity on held-out text.
func TestOverfit(t *testing.T) {
	path := tinyModel(t, "f16.gguf")
	m := mustOpen(t, path)
	seq := memorisedTokens(t, loadLlama(t, path))
	cfg := Config{LR: 3e-3, Warmup: 10, Steps: 80, Batch: 1, Context: len(seq) - 1, ClipNorm: 1, Seed: 1}
	if last, _ := trainLogged(t, m, [][]int32{seq}, cfg, 25); last > 0.05 {
		t.Errorf("final loss %.4f, want < 0.05", last)
	}
	out := filepath.Join(t.TempDir(), "trained.gguf")
	if err := m.Export(out, ExportOptions{F32: true}); err != nil {
		t.Fatal(err)
	}
	checkMemorised(t, m, out, -0.1)
}

// memPrompt and memCompletion are the text the overfitting tests memorise.
const memPrompt, memCompletion = "Once upon a time", " there was a small robot who loved to paint the sky."

// memorisedTokens returns the tokens of memPrompt followed by memCompletion.
func memorisedTokens(t *testing.T, lm *llamacpp.Model) []int32 {
	t.Helper()
	p, c := tokenize(t, lm, memPrompt, memCompletion)
	return append(append([]int32{}, p...), c...)
}

// trainLogged trains m, logging the loss at step 1 and every `every` steps, and returns the last
// step's loss and tokens per second.
func trainLogged(t *testing.T, m *Model, docs [][]int32, cfg Config, every int) (loss, tps float64) {
	t.Helper()
	err := m.Train(context.Background(), docs, cfg, func(step int, l, tp float64) {
		if step%every == 0 || step == 1 {
			t.Logf("step %d loss %.4f (%.0f tok/s)", step, l, tp)
		}
		loss, tps = l, tp
	})
	if err != nil {
		t.Fatal(err)
	}
	return loss, tps
}

// checkMemorised checks that llama.cpp, running the model m exported to out, gives memCompletion
// after memPrompt a mean log-prob of at least minMean, and the trainer/llama.cpp parity on
// held-out text.
func checkMemorised(t *testing.T, m *Model, out string, minMean float64) {
	t.Helper()
	res, err := loadLlama(t, out).Score(context.Background(), []llm.ScoreRequest{{ID: "x", Prompt: memPrompt, Completion: memCompletion}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("llama.cpp mean log-prob of the memorised completion: %.4f", res[0].Mean)
	if res[0].Mean < minMean {
		t.Errorf("mean log-prob %.4f under llama.cpp, want > %g", res[0].Mean, minMean)
	}
	checkParity(t, m, out, "The old lighthouse keeper", " watched the ships sail past the rocks every evening.", parityTol)
}

// unigramEntropy is the entropy (nats) of the training tokens' unigram distribution, evaluated as
// the cross-entropy of the held-out tokens under it (add-one smoothed).
func unigramCrossEntropy(train, held []int32, vocab int) float64 {
	counts := make([]float64, vocab)
	for _, t := range train {
		counts[t]++
	}
	total := float64(len(train) + vocab)
	var h float64
	for _, t := range held[1:] {
		h -= math.Log((counts[t] + 1) / total)
	}
	return h / float64(len(held)-1)
}

// TestCorpus trains the tiny model on 90% of the default corpus briefly and checks that the
// held-out loss beats the unigram baseline.
//
// bigramCrossEntropy is the held-out cross-entropy of an add-k smoothed bigram model fitted on the
// training tokens: what a linear probe from the current token (one-hot) to the next can reach at
// best, the "linear-probe baseline".
func bigramCrossEntropy(train, held []int32, vocab int) float64 {
	const k = 0.1
	pair := map[[2]int32]float64{}
	from := make([]float64, vocab)
	for i := 1; i < len(train); i++ {
		pair[[2]int32{train[i-1], train[i]}]++
		from[train[i-1]]++
	}
	var nll float64
	for i := 1; i < len(held); i++ {
		p := (pair[[2]int32{held[i-1], held[i]}] + k) / (from[held[i-1]] + k*float64(vocab))
		nll -= math.Log(p)
	}
	return nll / float64(len(held)-1)
}

func TestCorpus(t *testing.T) {
	path := tinyModel(t, "f32.gguf")
	m := mustOpen(t, path)
	lm := loadLlama(t, path)
	text := tinymodel.DefaultCorpus()
	cut := len(text) * 9 / 10
	train, err := lm.Tokenize(text[:cut], true, false)
	if err != nil {
		t.Fatal(err)
	}
	held, err := lm.Tokenize(text[cut:cut+4000], true, false)
	if err != nil {
		t.Fatal(err)
	}
	base := unigramCrossEntropy(train, held, m.Vocab())
	cfg := Config{LR: 1e-2, MinLR: 1e-3, Warmup: 10, Steps: 300, Batch: 8, Context: 64, ClipNorm: 1, Seed: 1, WeightDecay: 0.01}
	_, tps := trainLogged(t, m, [][]int32{train}, cfg, 20)
	heldLoss, err := m.Loss([][]int32{held}, cfg.Context)
	if err != nil {
		t.Fatal(err)
	}
	probe := bigramCrossEntropy(train, held, m.Vocab())
	t.Logf("held-out loss %.3f nats/token, unigram baseline %.3f, bigram (linear-probe) baseline %.3f; %.0f training tok/s", heldLoss, base, probe, tps)
	if heldLoss >= base {
		t.Errorf("held-out loss %.3f does not beat the unigram baseline %.3f", heldLoss, base)
	}
	if heldLoss >= probe {
		t.Errorf("held-out loss %.3f does not beat the bigram (linear-probe) baseline %.3f", heldLoss, probe)
	}
}

// TestCheckpointResume checks that training interrupted, checkpointed and resumed in a new Model
// ends with the same weights as uninterrupted training.
func TestCheckpointResume(t *testing.T) {
	path := tinyModel(t, "f16.gguf")
	cfg := Config{LR: 5e-3, Warmup: 2, Steps: 8, Batch: 2, Context: 32, ClipNorm: 1, Seed: 7, WeightDecay: 0.1,
		Train: []string{"blk.1.*", "output*"}}
	full, resumed := trainTwice(t, path, resumeDocs(t, path), cfg)
	checkResumed(t, path, full, resumed, func(name string) bool { return trainable(name, cfg.Train) })
}

// BenchmarkTrain measures training throughput on the default tiny model (context 128, batch 8).
func BenchmarkTrain(b *testing.B) {
	path := tinyModel(b, "f16.gguf")
	m := mustOpen(b, path)
	toks := make([]int32, 20000)
	for i := range toks {
		toks[i] = int32(i*7919) % int32(m.Vocab())
	}
	cfg := Config{LR: 1e-3, Warmup: 1, Steps: b.N + 1, Batch: 8, Context: 128, ClipNorm: 1}
	var tps float64
	b.ResetTimer()
	if err := m.Train(context.Background(), [][]int32{toks}, cfg, func(step int, _, t float64) { tps = t }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(tps, "tok/s")
}

func TestOpenQuantized(t *testing.T) {
	q := filepath.Join(t.TempDir(), "q8.gguf")
	if err := llamacpp.Quantize(tinyModel(t, "f16.gguf"), q, "Q8_0", 1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(q)
	if err == nil || !strings.Contains(err.Error(), "quantized models cannot be trained") {
		t.Fatalf("Open(Q8_0 model) = %v, want the quantized-model error", err)
	}
}

// trainTwice trains a model from path uninterrupted, and another one interrupted at step 5,
// checkpointed, restored into a fresh model and finished, for resume tests.
func trainTwice(t *testing.T, path string, docs [][]int32, cfg Config) (full, resumed *Model) {
	t.Helper()
	full = mustOpen(t, path)
	if err := full.Train(context.Background(), docs, cfg, nil); err != nil {
		t.Fatal(err)
	}
	part := mustOpen(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	err := part.Train(ctx, docs, cfg, func(step int, _, _ float64) {
		if step == 5 {
			cancel()
		}
	})
	if err != context.Canceled || part.Step() != 5 {
		t.Fatalf("interrupted training: err %v at step %d, want context.Canceled at 5", err, part.Step())
	}
	ckpt := filepath.Join(t.TempDir(), "ckpt.gguf")
	if err := part.SaveCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	resumed = mustOpen(t, path)
	if err := resumed.LoadCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Train(context.Background(), docs, cfg, nil); err != nil {
		t.Fatal(err)
	}
	return full, resumed
}

// resumeDocs is the resume tests' training data: the start of the default corpus as two documents.
func resumeDocs(t *testing.T, path string) [][]int32 {
	t.Helper()
	toks, err := loadLlama(t, path).Tokenize(tinymodel.DefaultCorpus()[:3000], true, false)
	if err != nil {
		t.Fatal(err)
	}
	return [][]int32{toks[:300], toks[300:]}
}

// checkResumed checks that the resumed model has the weights of the uninterrupted one, and that
// these differ from the model at path in exactly the tensors trained says.
func checkResumed(t *testing.T, path string, full, resumed *Model, trained func(name string) bool) {
	t.Helper()
	orig := mustOpen(t, path)
	for _, name := range full.TensorNames() {
		a, _ := full.Weight(name)
		b, _ := resumed.Weight(name)
		o, _ := orig.Weight(name)
		changed := false
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: uninterrupted %g, resumed %g", name, i, a[i], b[i])
			}
			changed = changed || a[i] != o[i]
		}
		if changed != trained(name) {
			t.Errorf("%s: changed %v, trained %v", name, changed, trained(name))
		}
	}
}

func TestWindowsPack(t *testing.T) {
	doc := func(n int) []int32 { return make([]int32, n) }
	for _, tc := range []struct {
		name string
		lens []int
		ctx  int
		want []window
	}{
		{"one short", []int{5}, 8, []window{{{0, 0, 5}}}},
		{"two fit", []int{4, 5}, 8, []window{{{0, 0, 4}, {1, 0, 5}}}},
		{"second does not fit", []int{5, 5}, 8, []window{{{0, 0, 5}}, {{1, 0, 5}}}},
		{"exactly ctx+1", []int{3, 6}, 8, []window{{{0, 0, 3}, {1, 0, 6}}}},
		{"long cut, tail packed", []int{12, 2}, 8, []window{{{0, 0, 9}}, {{0, 8, 12}, {1, 0, 2}}}},
		{"single tokens skipped", []int{1, 3}, 8, []window{{{1, 0, 3}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var docs [][]int32
			for _, n := range tc.lens {
				docs = append(docs, doc(n))
			}
			got := windows(docs, tc.ctx)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("windows = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPackedLoss checks that packing changes nothing a piece computes: the loss of documents
// packed several to a window equals the mean of each piece's own log-probs, read alone from
// position 0 — attention does not cross pieces and RoPE sees only relative positions.
func TestPackedLoss(t *testing.T) {
	m := mustOpen(t, tinyModel(t, "f32.gguf"))
	rng := rand.New(rand.NewPCG(1, 2))
	var docs [][]int32
	for _, n := range []int{7, 20, 3, 40, 2, 15, 31, 9, 11} { // 40 > ctx+1: cut in two
		d := make([]int32, n)
		for i := range d {
			d[i] = int32(rng.IntN(m.Vocab()))
		}
		docs = append(docs, d)
	}
	const ctx = 32
	ws := windows(docs, ctx)
	if len(ws) >= len(docs) {
		t.Fatalf("%d windows for %d documents: nothing packed", len(ws), len(docs))
	}
	var sum float64
	var n int
	for _, w := range ws {
		for _, p := range w {
			lp, err := m.LogProbs(docs[p.doc][p.start:p.end])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range lp {
				sum -= v
			}
			n += len(lp)
		}
	}
	got, err := m.Loss(docs, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := sum / float64(n); math.Abs(got-want) > 1e-5 {
		t.Errorf("packed loss %.7f, pieces alone %.7f", got, want)
	}
}
