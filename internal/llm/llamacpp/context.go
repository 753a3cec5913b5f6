package llamacpp

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/vec"
)

// DefaultThreads is the thread count of a model loaded without Options.Threads: the physical cores
// (at most runtime.NumCPU) less those the machine's other work keeps busy, at least 1. ggml's worker
// threads spin at barriers, so a thread that shares its core with other work stalls every other
// thread at every operation: on a busy 2-core machine 2 threads run up to 60x slower than 1. Busy
// cores are the 1-minute load average rounded half down (ceil(load - 0.5)): a core counts as
// busy once other work keeps it more than half busy. Erring low costs at most the share of the
// cores left unused; erring high costs the cliff.
func DefaultThreads() int {
	return threadsFor(physicalCores(), loadAverage())
}

// threadsFor is DefaultThreads for a machine of cores physical cores at load average load (NaN:
// unknown, taken as idle).
func threadsFor(cores int, load float64) int {
	n := cores
	if !math.IsNaN(load) {
		n -= max(0, int(math.Ceil(load-0.5)))
	}
	return min(max(n, 1), MaxThreads)
}

// physicalCores is the number of distinct (physical id, core id) pairs of /proc/cpuinfo, at most
// runtime.NumCPU (the CPUs this process may run on); runtime.NumCPU when cpuinfo says nothing.
func physicalCores() int {
	n := runtime.NumCPU()
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return n
	}
	defer f.Close()
	cores := map[[2]string]bool{}
	var phys string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); {
		case !ok:
		case k == "physical id":
			phys = v
		case k == "core id":
			cores[[2]string{phys, v}] = true
		}
	}
	if len(cores) == 0 {
		return n
	}
	return min(n, len(cores))
}

// loadAverage is the 1-minute load average of /proc/loadavg, NaN when it cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || v < 0 {
		return math.NaN()
	}
	return v
}

// pinThread locks the calling goroutine to its OS thread until the returned function is called.
// llama_decode computes on the calling thread and ggml's worker threads: a goroutine that moves to
// another thread between decodes moves ggml's main thread from core to core, and with 2 threads on
// 2 cores that halved the rate at batch 1 (measured: 576 CPU migrations a run instead of 25).
func pinThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// lctx is a llama.cpp context with its batch.
type lctx struct {
	ctx      *C.struct_llama_context
	batch    C.struct_llama_batch
	nBatch   int
	nSeq     int
	seqCtx   int // tokens per sequence
	nVocab   int
	memory   C.llama_memory_t
	embedDim int
	path     string // PathFast, PathFastNoFlash or PathExact
}

// Context kinds: generation on the fast path, F32 (scoring, and generation with Options.Exact),
// and embeddings (F32, mean pooling).
type ctxKind int

const (
	kindFast ctxKind = iota
	kindExact
	kindEmbed
)

// Generation paths, as GenerationPath reports them.
const (
	// PathFast is llama.cpp's fast path: flash attention and an F16 KV cache.
	PathFast = "fast"
	// PathFastNoFlash is the fast path on a backend without flash attention: an F16 KV cache.
	PathFastNoFlash = "fast-no-flash-attn"
	// PathExact is F32 attention and an F32 KV cache, as for scoring (Options.Exact).
	PathExact = "exact"
)

func (m *Model) newContext(kind ctxKind) (*lctx, error) {
	o := m.opts
	nCtx := o.Ctx * o.Parallel
	embeddings := kind == kindEmbed
	clearLogErrors()
	c := C.mbd_context(m.model, C.uint32_t(nCtx), C.uint32_t(o.Batch), C.uint32_t(o.Parallel), C.int32_t(o.Threads),
		C.bool(embeddings), C.bool(kind == kindFast))
	if c == nil {
		return nil, fmt.Errorf("%s: cannot create a llama.cpp context (ctx %d x %d sequences): %s", o.Path, o.Ctx, o.Parallel, lastLogError())
	}
	path := PathExact
	if kind == kindFast {
		// llama.cpp resolves flash_attn=auto while creating the context and says so only in its log.
		path = PathFast
		if strings.Contains(lastLogError(), "Flash Attention was auto, set to disabled") {
			path = PathFastNoFlash
		}
	}
	if m.lora != nil && C.llama_set_adapter_lora(c, m.lora, C.float(o.LoRAScale)) != 0 {
		C.llama_free(c)
		return nil, fmt.Errorf("%s: cannot apply the LoRA adapter %s", o.Path, o.LoRA)
	}
	if !embeddings {
		if err := m.applySteering(c); err != nil {
			C.llama_free(c)
			return nil, err
		}
	}
	// llama.cpp caps the batch at the context it was asked for (n_batch <= n_ctx) and asserts on
	// a larger decode, so the batch is what it reports; it rounds each sequence's context up
	// (to 256 tokens), and the sequences get what was asked for, so that a run does not depend on
	// llama.cpp's rounding.
	nBatch := int(C.llama_n_batch(c))
	cx := &lctx{
		ctx:    c,
		batch:  C.llama_batch_init(C.int32_t(nBatch), 0, 1),
		nBatch: nBatch,
		nSeq:   o.Parallel,
		seqCtx: min(o.Ctx, int(C.llama_n_ctx(c))/o.Parallel),
		nVocab: int(C.llama_vocab_n_tokens(m.vocab)),
		memory: C.llama_get_memory(c),
		path:   path,
	}
	if embeddings {
		cx.embedDim = int(C.llama_model_n_embd(m.model))
	}
	return cx, nil
}

func (c *lctx) free() {
	C.llama_batch_free(c.batch)
	C.llama_free(c.ctx)
}

func (c *lctx) clearSeq(seq int) { C.llama_memory_seq_rm(c.memory, C.llama_seq_id(seq), -1, -1) }

func (c *lctx) add(tok int32, pos, seq int, logits bool) int {
	i := int(c.batch.n_tokens)
	C.mbd_batch_add(&c.batch, C.llama_token(tok), C.llama_pos(pos), C.llama_seq_id(seq), C.bool(logits))
	return i
}

func (c *lctx) decode() error {
	if c.batch.n_tokens == 0 {
		return nil
	}
	switch rc := C.llama_decode(c.ctx, c.batch); {
	case rc == 1:
		return errors.New("llama_decode: no room in the KV cache (raise the context size)")
	case rc != 0:
		return fmt.Errorf("llama_decode failed (%d): %s", int(rc), lastLogError())
	}
	return nil
}

func (c *lctx) logprob(batchIndex int, tok int32) float64 {
	logits := C.llama_get_logits_ith(c.ctx, C.int32_t(batchIndex))
	return float64(C.mbd_logprob(logits, C.int32_t(c.nVocab), C.llama_token(tok)))
}

// genContext is the context for generation, created on first use: on the fast path, or F32 with
// Options.Exact.
func (m *Model) genContext() (*lctx, error) {
	if m.opts.Exact {
		return m.lazyContext(&m.gen, kindExact)
	}
	return m.lazyContext(&m.gen, kindFast)
}

// scoreContext is the F32 context for scoring, created on first use; with Options.Exact it is the
// generation context.
func (m *Model) scoreContext() (*lctx, error) {
	if m.opts.Exact {
		return m.genContext()
	}
	return m.lazyContext(&m.score, kindExact)
}

// freeGen frees the generation and scoring contexts; they are rebuilt on their next use.
func (m *Model) freeGen() {
	if m.score != nil && m.score != m.gen {
		m.score.free()
	}
	if m.gen != nil {
		m.gen.free()
	}
	m.gen, m.score = nil, nil
}

// GenerationPath says how Generate computes: PathFast, PathFastNoFlash or PathExact. The fast
// path's flash attention depends on the backend, so it is known once the generation context
// exists; GenerationPath creates it when it does not.
func (m *Model) GenerationPath() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.genContext()
	if err != nil {
		return "", err
	}
	return c.path, nil
}

// lazyContext returns *c, creating it of kind on first use.
func (m *Model) lazyContext(c **lctx, kind ctxKind) (*lctx, error) {
	if m.model == nil {
		return nil, errors.New("model is closed")
	}
	if *c == nil {
		nc, err := m.newContext(kind)
		if err != nil {
			return nil, err
		}
		*c = nc
	}
	return *c, nil
}

// slot is one sequence being generated.
type slot struct {
	req      llm.GenRequest
	prompt   []int32
	fed      int // prompt tokens already in the KV cache
	pos      int // next position
	next     int32
	hasNext  bool // next is a sampled token still to be fed
	logitIdx int  // batch index of this sequence's logits after the last decode, -1 for none
	sampler  *C.struct_llama_sampler
	text     []byte
	ntok     int
	lpSum    float64
}

// Generate implements llm.Model. Sequences are decoded together, up to Options.Parallel at a time, in
// an order that depends only on reqs, so results are reproducible for the same requests and seeds.
// Every prompt is tokenized first: a request that does not fit fails the call before any decoding.
func (m *Model) Generate(ctx context.Context, reqs []llm.GenRequest, s llm.Sampling, yield func(llm.GenResult) error) error {
	if err := s.Check(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer pinThread()()
	c, err := m.genContext()
	if err != nil {
		return err
	}
	prompts := make([][]int32, len(reqs))
	for i, r := range reqs {
		if prompts[i], err = m.promptTokens(r.Prompt); err != nil {
			return err
		}
		if len(prompts[i])+s.MaxTokens > c.seqCtx {
			return &llm.ContextError{ID: r.ID, Prompt: len(prompts[i]), NewTokens: s.MaxTokens, Context: c.seqCtx}
		}
	}
	slots := make([]*slot, c.nSeq)
	defer func() {
		for i, sl := range slots {
			if sl != nil {
				C.llama_sampler_free(sl.sampler)
				c.clearSeq(i)
			}
		}
	}()
	next := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Fill free slots with the next requests.
		for i := range slots {
			if slots[i] != nil || next >= len(reqs) {
				continue
			}
			r, toks := reqs[next], prompts[next]
			next++
			seed := uint32(r.Seed ^ r.Seed>>32)
			slots[i] = &slot{req: r, prompt: toks, logitIdx: -1,
				sampler: C.mbd_sampler(C.uint32_t(seed), C.float(s.Temperature), C.int32_t(s.TopK), C.float(s.TopP), C.float(s.MinP), C.float(s.RepetitionPenalty))}
		}
		// Build the batch: sampled tokens first (one each), then prompt chunks in slot order.
		C.mbd_batch_clear(&c.batch)
		active := false
		for i, sl := range slots {
			if sl == nil {
				continue
			}
			active = true
			sl.logitIdx = -1
			if sl.hasNext {
				sl.logitIdx = c.add(sl.next, sl.pos, i, true)
				sl.pos++
				sl.hasNext = false
			}
		}
		if !active {
			return nil
		}
		for i, sl := range slots {
			if sl == nil || sl.fed == len(sl.prompt) {
				continue
			}
			for sl.fed < len(sl.prompt) && int(c.batch.n_tokens) < c.nBatch {
				last := sl.fed == len(sl.prompt)-1
				idx := c.add(sl.prompt[sl.fed], sl.pos, i, last)
				if last {
					sl.logitIdx = idx
				}
				sl.fed++
				sl.pos++
			}
		}
		if err := c.decode(); err != nil {
			return err
		}
		// Sample, and finish the sequences that are done.
		for i, sl := range slots {
			if sl == nil || sl.logitIdx < 0 {
				continue
			}
			tok := int32(C.llama_sampler_sample(sl.sampler, c.ctx, C.int32_t(sl.logitIdx)))
			finish := ""
			if bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(tok))) {
				finish = "stop"
			} else {
				sl.lpSum += c.logprob(sl.logitIdx, tok)
				sl.ntok++
				sl.text = append(sl.text, m.piece(C.llama_token(tok))...)
				if cut, ok := stopAt(sl.text, s.Stop); ok {
					sl.text = sl.text[:cut]
					finish = "stop"
				} else if sl.ntok >= s.MaxTokens {
					finish = "length"
				}
			}
			if finish == "" {
				sl.next, sl.hasNext = tok, true
				continue
			}
			res := llm.GenResult{ID: sl.req.ID, Completion: strings.ToValidUTF8(string(sl.text), "\uFFFD"),
				PromptTokens: len(sl.prompt), CompletionTokens: sl.ntok, FinishReason: finish, LogprobSum: sl.lpSum, HasLogprob: true}
			C.llama_sampler_free(sl.sampler)
			c.clearSeq(i)
			slots[i] = nil
			if err := yield(res); err != nil {
				return err
			}
		}
	}
}

// Fit implements llm.Fitter: when the longest prompt, formatted and tokenized, does not leave room
// for maxTokens new tokens in a sequence's Options.Ctx tokens, it returns a *llm.ContextError for
// that prompt (so its Prompt+NewTokens is the least context that fits every prompt).
func (m *Model) Fit(prompts []string, maxTokens int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	longest := 0
	for _, p := range prompts {
		toks, err := m.promptTokens(p)
		if err != nil {
			return err
		}
		longest = max(longest, len(toks))
	}
	if longest+maxTokens > m.opts.Ctx {
		return &llm.ContextError{Prompt: longest, NewTokens: maxTokens, Context: m.opts.Ctx}
	}
	return nil
}

// stopAt returns where the first stop string starts in text.
func stopAt(text []byte, stops []string) (int, bool) {
	best := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(string(text), s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best, best >= 0
}

// Score implements llm.Model: log p(completion | formatted prompt) per completion token, the
// completion tokenized on its own (no special tokens) after the prompt's tokens.
func (m *Model) Score(ctx context.Context, reqs []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer pinThread()()
	c, err := m.scoreContext()
	if err != nil {
		return nil, err
	}
	type seq struct {
		res     llm.ScoreResult
		toks    []int32
		nPrompt int
		fed     int
	}
	out := make([]llm.ScoreResult, len(reqs))
	seqs := make([]*seq, len(reqs))
	for i, r := range reqs {
		p, err := m.promptTokens(r.Prompt)
		if err != nil {
			return nil, err
		}
		comp, err := m.Tokenize(r.Completion, false, false)
		if err != nil {
			return nil, err
		}
		if len(p)+len(comp) > c.seqCtx {
			return nil, fmt.Errorf("score %s: %d tokens exceed the context of %d tokens per sequence", r.ID, len(p)+len(comp), c.seqCtx)
		}
		seqs[i] = &seq{res: llm.ScoreResult{ID: r.ID, Tokens: comp, Logprobs: make([]float64, 0, len(comp))}, toks: append(p, comp...), nPrompt: len(p)}
	}
	// Up to nSeq sequences at a time; each is fed in chunks until done.
	for start := 0; start < len(seqs); start += c.nSeq {
		group := seqs[start:min(start+c.nSeq, len(seqs))]
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			C.mbd_batch_clear(&c.batch)
			type want struct {
				s   *seq
				idx int
				tok int32
			}
			var wants []want
			for gi, s := range group {
				for s.fed < len(s.toks) && int(c.batch.n_tokens) < c.nBatch {
					// The logits at position p predict token p+1; completion tokens start at nPrompt.
					need := s.fed >= s.nPrompt-1 && s.fed+1 < len(s.toks)
					idx := c.add(s.toks[s.fed], s.fed, gi, need)
					if need {
						wants = append(wants, want{s, idx, s.toks[s.fed+1]})
					}
					s.fed++
				}
			}
			if c.batch.n_tokens == 0 {
				break
			}
			if err := c.decode(); err != nil {
				return nil, err
			}
			for _, w := range wants {
				w.s.res.Logprobs = append(w.s.res.Logprobs, c.logprob(w.idx, w.tok))
			}
		}
		for gi := range group {
			c.clearSeq(gi)
		}
	}
	for i, s := range seqs {
		for _, lp := range s.res.Logprobs {
			s.res.Sum += lp
		}
		if n := len(s.res.Logprobs); n > 0 {
			s.res.Mean = s.res.Sum / float64(n)
		}
		out[i] = s.res
	}
	return out, nil
}

// Embed implements llm.Model: the mean of the last hidden states over each text's tokens,
// L2-normalised.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer pinThread()()
	c, err := m.lazyContext(&m.emb, kindEmbed)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	i := 0
	for i < len(texts) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		C.mbd_batch_clear(&c.batch)
		first := i
		for i < len(texts) && i-first < c.nSeq {
			toks, err := m.Tokenize(texts[i], true, false)
			if err != nil {
				return nil, err
			}
			if len(toks) > c.nBatch || len(toks) > c.seqCtx {
				return nil, fmt.Errorf("embed: text %d has %d tokens, more than the batch (%d) or context (%d)", i, len(toks), c.nBatch, c.seqCtx)
			}
			if int(c.batch.n_tokens)+len(toks) > c.nBatch {
				break
			}
			for p, t := range toks {
				c.add(t, p, i-first, true)
			}
			i++
		}
		if err := c.decode(); err != nil {
			return nil, err
		}
		for j := first; j < i; j++ {
			e := C.llama_get_embeddings_seq(c.ctx, C.llama_seq_id(j-first))
			if e == nil {
				return nil, errors.New("embed: llama.cpp returned no pooled embedding")
			}
			v := make([]float32, c.embedDim)
			copy(v, unsafe.Slice((*float32)(unsafe.Pointer(e)), c.embedDim))
			vec.Normalize(v)
			out[j] = v
			c.clearSeq(j - first)
		}
	}
	return out, nil
}

// rawLogits decodes tokens as one sequence in the scoring context and returns the logits at every
// position (for tests that check Score against a direct log-softmax).
func (m *Model) rawLogits(tokens []int32) ([][]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.scoreContext()
	if err != nil {
		return nil, err
	}
	defer c.clearSeq(0)
	out := make([][]float32, 0, len(tokens))
	for start := 0; start < len(tokens); start += c.nBatch {
		C.mbd_batch_clear(&c.batch)
		end := min(start+c.nBatch, len(tokens))
		for p := start; p < end; p++ {
			c.add(tokens[p], p, 0, true)
		}
		if err := c.decode(); err != nil {
			return nil, err
		}
		for i := range end - start {
			l := C.llama_get_logits_ith(c.ctx, C.int32_t(i))
			out = append(out, append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(l)), c.nVocab)...))
		}
	}
	return out, nil
}
