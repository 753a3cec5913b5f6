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

	"github.com/mbd-dev/mbd/internal/llm"
)

// ChatMessage is one turn of a conversation: role is system, user or assistant.
type ChatMessage struct {
	Role    string
	Content string
}

// FormatChat renders a conversation for generation, ending with the assistant's turn to speak: with
// the model's chat template through llama_chat_apply_template, or as ChatML when the model has no
// template (or was loaded with chat off). The hidden system prompt of Options.System, if any, is
// put first as a system message. The text is meant to be tokenized with special tokens parsed.
func (m *Model) FormatChat(msgs []ChatMessage) (string, error) {
	if len(msgs) == 0 {
		return "", errors.New("format chat: no messages")
	}
	if m.opts.System != "" {
		msgs = append([]ChatMessage{{Role: "system", Content: m.opts.System}}, msgs...)
	}
	if m.tmpl == "" {
		var b strings.Builder
		for _, mm := range msgs {
			fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", mm.Role, mm.Content)
		}
		b.WriteString("<|im_start|>assistant\n")
		return b.String(), nil
	}
	return m.applyTemplate(msgs)
}

// applyTemplate renders msgs with the model's chat template (llama_chat_apply_template), ending
// with the assistant's turn to speak.
func (m *Model) applyTemplate(msgs []ChatMessage) (string, error) {
	cmsgs := make([]C.struct_llama_chat_message, len(msgs))
	var frees []unsafe.Pointer
	defer func() {
		for _, p := range frees {
			C.free(p)
		}
	}()
	total := 0
	for i, mm := range msgs {
		r, c := C.CString(mm.Role), C.CString(mm.Content)
		frees = append(frees, unsafe.Pointer(r), unsafe.Pointer(c))
		cmsgs[i] = C.struct_llama_chat_message{role: r, content: c}
		total += len(mm.Role) + len(mm.Content)
	}
	ctmpl := C.CString(m.tmpl)
	frees = append(frees, unsafe.Pointer(ctmpl))
	n := 2*total + 256
	for {
		buf := make([]byte, n)
		got := C.llama_chat_apply_template(ctmpl, &cmsgs[0], C.size_t(len(cmsgs)), true, (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n))
		if got < 0 {
			return "", fmt.Errorf("%s: llama.cpp does not support this model's chat template; run with chat off", m.opts.Path)
		}
		if int(got) > n {
			n = int(got)
			continue
		}
		return string(buf[:got]), nil
	}
}

// GenerateChat generates the assistant's answer to a conversation (formatted by FormatChat) with
// sampling s and seed. It decodes one sequence; calls are serialised with the other uses of the
// model. The result has no ID.
func (m *Model) GenerateChat(ctx context.Context, msgs []ChatMessage, s llm.Sampling, seed uint64) (llm.GenResult, error) {
	if err := s.Check(); err != nil {
		return llm.GenResult{}, err
	}
	text, err := m.FormatChat(msgs)
	if err != nil {
		return llm.GenResult{}, err
	}
	prompt, err := m.Tokenize(text, true, true)
	if err != nil {
		return llm.GenResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.genContext()
	if err != nil {
		return llm.GenResult{}, err
	}
	if len(prompt)+s.MaxTokens > c.seqCtx {
		return llm.GenResult{}, fmt.Errorf("%s: %w", m.opts.Path, &llm.ContextError{Prompt: len(prompt), NewTokens: s.MaxTokens, Context: c.seqCtx})
	}
	const seq = 0
	defer c.clearSeq(seq)
	sampler := C.mbd_sampler(C.uint32_t(uint32(seed^seed>>32)), C.float(s.Temperature), C.int32_t(s.TopK), C.float(s.TopP), C.float(s.MinP), C.float(s.RepetitionPenalty))
	defer C.llama_sampler_free(sampler)

	// Feed the prompt in batches; only its last token needs logits.
	pos, logitIdx := 0, -1
	for pos < len(prompt) {
		if err := ctx.Err(); err != nil {
			return llm.GenResult{}, err
		}
		C.mbd_batch_clear(&c.batch)
		for pos < len(prompt) && int(c.batch.n_tokens) < c.nBatch {
			last := pos == len(prompt)-1
			idx := c.add(prompt[pos], pos, seq, last)
			if last {
				logitIdx = idx
			}
			pos++
		}
		if err := c.decode(); err != nil {
			return llm.GenResult{}, err
		}
	}
	res := llm.GenResult{PromptTokens: len(prompt), HasLogprob: true}
	var out []byte
	for {
		tok := int32(C.llama_sampler_sample(sampler, c.ctx, C.int32_t(logitIdx)))
		if bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(tok))) {
			res.FinishReason = "stop"
			break
		}
		res.LogprobSum += c.logprob(logitIdx, tok)
		res.CompletionTokens++
		out = append(out, m.piece(C.llama_token(tok))...)
		if cut, ok := stopAt(out, s.Stop); ok {
			out = out[:cut]
			res.FinishReason = "stop"
			break
		}
		if res.CompletionTokens >= s.MaxTokens {
			res.FinishReason = "length"
			break
		}
		if err := ctx.Err(); err != nil {
			return llm.GenResult{}, err
		}
		C.mbd_batch_clear(&c.batch)
		logitIdx = c.add(tok, pos, seq, true)
		pos++
		if err := c.decode(); err != nil {
			return llm.GenResult{}, err
		}
	}
	res.Completion = strings.ToValidUTF8(string(out), "\uFFFD")
	return res, nil
}
