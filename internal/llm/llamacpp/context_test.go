package llamacpp

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

func TestThreadsFor(t *testing.T) {
	for _, tt := range []struct {
		cores int
		load  float64
		want  int
	}{
		{2, math.NaN(), 2}, {2, 0, 2}, {2, 0.4, 2}, {2, 0.6, 1}, {2, 1.5, 1}, {2, 6.5, 1},
		{16, 3.2, 13}, {16, 40, 1}, {1, 0, 1}, {1024, 0, MaxThreads},
	} {
		if got := threadsFor(tt.cores, tt.load); got != tt.want {
			t.Errorf("threadsFor(%d, %v) = %d, want %d", tt.cores, tt.load, got, tt.want)
		}
	}
	if n := DefaultThreads(); n < 1 || n > runtime.NumCPU() {
		t.Errorf("DefaultThreads() = %d on %d CPUs", n, runtime.NumCPU())
	}
}

func TestGenerationPath(t *testing.T) {
	plain, _, _ := tinyModels(t)
	for _, tt := range []struct {
		exact bool
		want  string
	}{{false, PathFast}, {true, PathExact}} {
		m := loadT(t, Options{Path: plain, Ctx: 128, Parallel: 2, Exact: tt.exact})
		got, err := m.GenerationPath()
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("exact=%v: path %q, want %q", tt.exact, got, tt.want)
		}
	}
}

// forcedLogprobs teacher-forces toks through c as sequence 0 and returns log p(toks[i+1] | toks[:i+1]).
func forcedLogprobs(t *testing.T, c *lctx, toks []int32) []float64 {
	t.Helper()
	defer c.clearSeq(0)
	var out []float64
	for start := 0; start < len(toks)-1; start += c.nBatch {
		end := min(start+c.nBatch, len(toks)-1)
		c.batch.n_tokens = 0
		for p := start; p < end; p++ {
			c.add(toks[p], p, 0, true)
		}
		if err := c.decode(); err != nil {
			t.Fatal(err)
		}
		for i := range end - start {
			out = append(out, c.logprob(i, toks[start+i+1]))
		}
	}
	return out
}

// pathModel is the model the path comparison runs on, and a text to teacher-force: the tiny random
// model, or the GGUF file named by MBD_PATH_MODEL with the text of the file MBD_PATH_TEXT (to
// measure a trained model on its own corpus).
func pathModel(t *testing.T) (string, string) {
	if p := os.Getenv("MBD_PATH_MODEL"); p != "" {
		text, err := os.ReadFile(os.Getenv("MBD_PATH_TEXT"))
		if err != nil {
			t.Fatal(err)
		}
		return p, string(text[:min(len(text), 4000)])
	}
	plain, _, _ := tinyModels(t)
	return plain, tinymodel.DefaultCorpus()[:400]
}

// TestGenerationPathsLogprobs compares the two generation paths: teacher-forced per-token
// log-probs of the fast context against the F32 one, and sampled completions with the same seeds.
// Scores do not depend on the path: Score runs in F32 either way, before and after generating.
func TestGenerationPathsLogprobs(t *testing.T) {
	path, text := pathModel(t)
	fast := loadT(t, Options{Path: path, Ctx: 256, Parallel: 4})
	exact := loadT(t, Options{Path: path, Ctx: 256, Parallel: 4, Exact: true})

	toks, err := fast.Tokenize(text, true, false)
	if err != nil {
		t.Fatal(err)
	}
	toks = toks[:min(len(toks), 250)]
	fc, err := fast.genContext()
	if err != nil {
		t.Fatal(err)
	}
	ec, err := exact.genContext()
	if err != nil {
		t.Fatal(err)
	}
	if fc.path == PathExact || ec.path != PathExact {
		t.Fatalf("paths %q and %q", fc.path, ec.path)
	}
	lf, le := forcedLogprobs(t, fc, toks), forcedLogprobs(t, ec, toks)
	var maxD, sumD float64
	for i := range lf {
		d := math.Abs(lf[i] - le[i])
		maxD = max(maxD, d)
		sumD += d
	}
	t.Logf("teacher-forced, %d tokens: |fast - exact| per token mean %.2e, max %.2e", len(lf), sumD/float64(len(lf)), maxD)
	if maxD > 0.1 {
		t.Errorf("fast path's log-probs differ from F32's by up to %.3g per token", maxD)
	}

	var reqs []llm.GenRequest
	for i := range 32 {
		reqs = append(reqs, llm.GenRequest{ID: fmt.Sprint(i), Prompt: "Q: Which month comes after May?\nA:", Seed: uint64(i)})
	}
	s := llm.Sampling{Temperature: 0.8, MaxTokens: 48}
	gf, ge := genAll(t, fast, reqs, s), genAll(t, exact, reqs, s)
	same, ntok := 0, 0
	var maxSeq, sumSeq float64
	var lpF, lpE, nF, nE float64
	for id, a := range gf {
		b := ge[id]
		lpF, nF = lpF+a.LogprobSum, nF+float64(a.CompletionTokens)
		lpE, nE = lpE+b.LogprobSum, nE+float64(b.CompletionTokens)
		if a.Completion != b.Completion {
			continue
		}
		same++
		d := math.Abs(a.LogprobSum - b.LogprobSum)
		maxSeq = max(maxSeq, d/float64(max(a.CompletionTokens, 1)))
		sumSeq += d
		ntok += a.CompletionTokens
	}
	t.Logf("sampled, %d completions: %d identical; on those |fast - exact| of the log-prob sum per token mean %.2e, max %.2e",
		len(reqs), same, sumSeq/float64(max(ntok, 1)), maxSeq)
	t.Logf("sampled: mean log-prob per token %.4f fast, %.4f exact", lpF/max(nF, 1), lpE/max(nE, 1))

	// Scores are the same on both models, and after generating on the fast path.
	sreqs := []llm.ScoreRequest{{ID: "a", Prompt: "The weather today is", Completion: " sunny and warm with a light wind"}}
	a, b := scoreT(t, fast, sreqs), scoreT(t, exact, sreqs)
	if a[0].Sum != b[0].Sum {
		t.Errorf("Score: %v on the default model, %v with exact=1", a[0].Sum, b[0].Sum)
	}
}
