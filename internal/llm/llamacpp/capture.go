package llamacpp

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// Hidden-state capture. llama.cpp names the output of each transformer block "l_out-N" (the
// residual stream after block N, 0-based) in its compute graph; a context created with an eval
// callback (llama_context_params.cb_eval) is shown every graph tensor it asks to observe. Our
// callback (mbd_capture_cb, in C: a callback into Go per tensor would be slow) copies the rows of
// the chosen layers into a buffer with ggml_backend_tensor_get, so it works for offloaded layers
// too. Texts are tokenized as plain text — the model's BOS token when it adds one, no chat template
// — and only their first Positions tokens are decoded (the model is causal, so later tokens cannot
// change them); positions count from the first token of the text, BOS excluded (BOS's state is the
// same for every text). Several texts are decoded per llama_decode as separate sequences of one
// KV cache, which llama.cpp splits into micro-batches in batch order.

// CaptureOptions choose what Capture and Activations read.
type CaptureOptions struct {
	// Layers are the blocks whose outputs are read, 0-based, distinct.
	Layers []int
	// Positions is K: the first K tokens of each text (after BOS) are read; texts with fewer tokens
	// are skipped.
	Positions int
	// Flips is the number of sign patterns for a sign-flip (paired permutation) null; Sign gives
	// the sign (+1 or -1) of text i in pattern f. Capture only.
	Flips int
	Sign  func(f, i int) float64
	// Chat reads each text as the user's turn of a chat, as generation formats a prompt (the
	// chat template, the hidden system prompt first): the positions are still the text's first
	// K tokens, after that fixed prefix. Without it a text is read plainly after BOS.
	Chat bool
}

// Limits of CaptureOptions.
const (
	MaxPositions = 4096
	MaxFlips     = 100000
	// maxCaptureFloats bounds Capture's sums (Flips+1 vectors per layer and position): 2 GiB.
	maxCaptureFloats = 1 << 28
	// maxOutputBytes bounds the logits llama.cpp keeps when the last layer is read (its output
	// rows only exist for tokens that ask for logits).
	maxOutputBytes = 256 << 20
)

// Layers is the number of transformer blocks of the model.
func (m *Model) Layers() int { return int(C.llama_model_n_layer(m.model)) }

// Dim is the width of the residual stream.
func (m *Model) Dim() int { return int(C.llama_model_n_embd(m.model)) }

// CheckCapture refuses options that llama.cpp would assert on or that would not fit in memory.
func (m *Model) CheckCapture(o CaptureOptions) error {
	if m.model == nil {
		return errors.New("model is closed")
	}
	nl := m.Layers()
	if len(o.Layers) == 0 {
		return errors.New("capture: no layers")
	}
	seen := map[int]bool{}
	for _, l := range o.Layers {
		if l < 0 || l >= nl {
			return fmt.Errorf("layer %d: the model has %d layers (0 to %d)", l, nl, nl-1)
		}
		if seen[l] {
			return fmt.Errorf("layer %d: given twice", l)
		}
		seen[l] = true
	}
	if o.Positions < 1 || o.Positions > MaxPositions {
		return fmt.Errorf("positions %d: want a whole number in [1, %d]", o.Positions, MaxPositions)
	}
	if o.Flips < 0 || o.Flips > MaxFlips {
		return fmt.Errorf("flips %d: want a whole number in [0, %d]", o.Flips, MaxFlips)
	}
	if o.Flips > 0 && o.Sign == nil {
		return errors.New("capture: flips without a sign function")
	}
	if n := int64(o.Flips+1) * int64(len(o.Layers)) * int64(o.Positions) * int64(m.Dim()); n > maxCaptureFloats {
		return fmt.Errorf("capture: %d layers x %d positions x %d flips of width %d need %.1f GiB of sums; read fewer", len(o.Layers), o.Positions, o.Flips, m.Dim(), float64(n*8)/(1<<30))
	}
	return nil
}

// Activations decodes the first o.Positions tokens of each text and calls yield for each text that
// has that many tokens, in order, with its index and its block outputs: acts[(l*K+k)*Dim+j] is
// element j at position k of layer o.Layers[l]. acts is reused after yield returns.
func (m *Model) Activations(ctx context.Context, texts []string, o CaptureOptions, yield func(i int, acts []float32) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.model == nil {
		return errors.New("model is closed")
	}
	if err := m.CheckCapture(o); err != nil {
		return err
	}
	nl, dim, K, L := m.Layers(), m.Dim(), o.Positions, len(o.Layers)
	prefix, err := m.capturePrefix(o.Chat)
	if err != nil {
		return err
	}
	T := len(prefix) + K // tokens per sequence
	lastOut := false     // the last block's rows exist only for tokens with logits
	for _, l := range o.Layers {
		lastOut = lastOut || l == nl-1
	}
	S := max(1, min(MaxParallel, m.opts.Batch/T))
	if nv := int(C.llama_vocab_n_tokens(m.vocab)); lastOut {
		S = max(1, min(S, maxOutputBytes/(T*nv*4)))
	}
	rows := S * T

	// The capture state lives in C memory: llama.cpp keeps the pointer.
	cp := (*C.struct_mbd_capture)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_mbd_capture{}))))
	defer C.free(unsafe.Pointer(cp))
	slot := (*C.int32_t)(C.malloc(C.size_t(4 * nl)))
	defer C.free(unsafe.Pointer(slot))
	buf := (*C.float)(C.malloc(C.size_t(4 * L * rows * dim)))
	defer C.free(unsafe.Pointer(buf))
	nrows := (*C.int64_t)(C.calloc(C.size_t(L), 8))
	defer C.free(unsafe.Pointer(nrows))
	slots := unsafe.Slice((*int32)(unsafe.Pointer(slot)), nl)
	for i := range slots {
		slots[i] = -1
	}
	for s, l := range o.Layers {
		slots[l] = int32(s)
	}
	*cp = C.struct_mbd_capture{n_layer: C.int32_t(nl), slot: slot, n_embd: C.int32_t(dim), cap_rows: C.int64_t(rows), buf: buf, rows: nrows}
	got := unsafe.Slice((*int64)(unsafe.Pointer(nrows)), L)
	data := unsafe.Slice((*float32)(unsafe.Pointer(buf)), L*rows*dim)

	cctx := C.mbd_capture_context(m.model, C.uint32_t(rows), C.uint32_t(S), C.int32_t(m.opts.Threads), cp)
	if cctx == nil {
		return fmt.Errorf("%s: cannot create a llama.cpp context for capture (%d sequences of %d tokens): %s", m.opts.Path, S, T, lastLogError())
	}
	defer C.llama_free(cctx)
	if m.lora != nil && C.llama_set_adapter_lora(cctx, m.lora, C.float(m.opts.LoRAScale)) != 0 {
		return fmt.Errorf("%s: cannot apply the LoRA adapter %s", m.opts.Path, m.opts.LoRA)
	}
	c := &lctx{ctx: cctx, batch: C.llama_batch_init(C.int32_t(rows), 0, 1), nBatch: rows, nSeq: S, memory: C.llama_get_memory(cctx)}
	defer C.llama_batch_free(c.batch)

	acts := make([]float32, L*K*dim)
	var group []int // texts in the batch
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		defer func() { group = group[:0]; C.llama_memory_clear(c.memory, true) }()
		for s := range got {
			got[s] = 0
		}
		cp.bad = 0
		if err := c.decode(); err != nil {
			return err
		}
		n := int64(c.batch.n_tokens)
		switch {
		case cp.bad == 1:
			return fmt.Errorf("%s: a block output is not a float32 matrix of width %d", m.opts.Path, dim)
		case cp.bad != 0:
			return fmt.Errorf("%s: llama.cpp showed more block-output rows than the %d tokens decoded", m.opts.Path, n)
		}
		for s, g := range got {
			if g != n {
				return fmt.Errorf("%s: layer %d: captured %d rows for %d tokens (the architecture may not name its block outputs l_out)", m.opts.Path, o.Layers[s], g, n)
			}
		}
		for j, i := range group {
			for s := range L {
				for k := range K {
					r := j*T + len(prefix) + k
					copy(acts[(s*K+k)*dim:(s*K+k+1)*dim], data[(s*rows+r)*dim:(s*rows+r+1)*dim])
				}
			}
			if err := yield(i, acts); err != nil {
				return err
			}
		}
		return nil
	}
	C.mbd_batch_clear(&c.batch)
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return err
		}
		toks, err := m.Tokenize(text, false, false)
		if err != nil {
			return err
		}
		if len(toks) < K {
			continue
		}
		seq := len(group)
		for p, t := range append(append([]int32(nil), prefix...), toks[:K]...) {
			c.add(t, p, seq, lastOut || p == T-1)
		}
		group = append(group, i)
		if len(group) == S {
			if err := flush(); err != nil {
				return err
			}
			C.mbd_batch_clear(&c.batch)
		}
	}
	return flush()
}

// capturePrefix is the tokens before each text: BOS (where the vocabulary adds one) or, for a
// chat, what FormatPrompt puts before the prompt.
func (m *Model) capturePrefix(chat bool) ([]int32, error) {
	if !chat {
		if bool(C.llama_vocab_get_add_bos(m.vocab)) {
			return []int32{int32(C.llama_vocab_bos(m.vocab))}, nil
		}
		return nil, nil
	}
	const mark = "\x1fmbd-capture-text\x1f"
	full, err := m.FormatPrompt(mark)
	if err != nil {
		return nil, err
	}
	before, _, ok := strings.Cut(full, mark)
	if !ok {
		return nil, fmt.Errorf("%s: the chat template does not keep the prompt as given; read plain text", m.opts.Path)
	}
	return m.Tokenize(before, true, m.tmpl != "")
}

// Capture is the reduction of the block outputs of many texts that a mean-difference lens needs:
// sums over texts per layer and position, signed sums for a sign-flip null, and each text's mean
// over the positions. Memory is (Flips+2)·layers·positions·Dim doubles plus layers·Dim floats per
// text, whatever the texts' lengths.
type Capture struct {
	Layers    []int
	Positions int
	Dim       int
	Flips     int
	// Used are the indexes of the texts read (those with at least Positions tokens), in order.
	Used []int
	// Sum[(l*K+k)*Dim+j] is the sum over the texts of element j at position k of layer Layers[l].
	Sum []float64
	// SumSq[l*K+k] is the sum over the texts of the squared norm at position k of layer Layers[l].
	SumSq []float64
	// Flipped[f] is Sum with text i's vectors multiplied by Sign(f, i).
	Flipped [][]float64
	// TextMeans[u][l*Dim+j] is element j of the mean over the positions of text Used[u] at layer
	// Layers[l].
	TextMeans [][]float32
}

// Capture reads texts as Activations does and reduces them as they stream.
func (m *Model) Capture(ctx context.Context, texts []string, o CaptureOptions) (*Capture, error) {
	m.mu.Lock()
	if m.model == nil {
		m.mu.Unlock()
		return nil, errors.New("model is closed")
	}
	err := m.CheckCapture(o)
	dim := m.Dim()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	L, K := len(o.Layers), o.Positions
	c := &Capture{Layers: append([]int(nil), o.Layers...), Positions: K, Dim: dim, Flips: o.Flips,
		Sum: make([]float64, L*K*dim), SumSq: make([]float64, L*K), Flipped: make([][]float64, o.Flips)}
	for f := range c.Flipped {
		c.Flipped[f] = make([]float64, L*K*dim)
	}
	signs := make([]float64, o.Flips)
	err = m.Activations(ctx, texts, o, func(i int, acts []float32) error {
		c.Used = append(c.Used, i)
		for f := range signs {
			signs[f] = o.Sign(f, i)
		}
		mean := make([]float32, L*dim)
		for l := range L {
			acc := make([]float64, dim)
			for k := range K {
				off := (l*K + k) * dim
				x := acts[off : off+dim]
				var ss float64
				for j, v := range x {
					w := float64(v)
					c.Sum[off+j] += w
					acc[j] += w
					ss += w * w
				}
				c.SumSq[l*K+k] += ss
				for f, s := range signs {
					fl := c.Flipped[f][off : off+dim]
					for j, v := range x {
						fl[j] += s * float64(v)
					}
				}
			}
			for j, a := range acc {
				mean[l*dim+j] = float32(a / float64(K))
			}
		}
		c.TextMeans = append(c.TextMeans, mean)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// TokenTexts returns the text of every token of the vocabulary, control tokens rendered as their
// text (<|im_end|>), for reading token lists.
func (m *Model) TokenTexts() []string {
	n := int(C.llama_vocab_n_tokens(m.vocab))
	out := make([]string, n)
	var buf [256]byte
	for t := range out {
		k := C.llama_token_to_piece(m.vocab, C.llama_token(t), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, true)
		if k < 0 {
			big := make([]byte, -k)
			k = C.llama_token_to_piece(m.vocab, C.llama_token(t), (*C.char)(unsafe.Pointer(&big[0])), C.int32_t(len(big)), 0, true)
			out[t] = strings.ToValidUTF8(string(big[:max(k, 0)]), "\uFFFD")
			continue
		}
		out[t] = strings.ToValidUTF8(string(buf[:k]), "\uFFFD")
	}
	return out
}
