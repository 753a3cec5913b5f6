package llamacpp

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Tokenize returns the tokens of text. addSpecial adds BOS (and EOS) as the model is configured to;
// parseSpecial turns control-token text such as <|im_start|> into those tokens.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	n := len(text) + 8
	for {
		buf := make([]C.llama_token, n)
		got := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)), &buf[0], C.int32_t(n), C.bool(addSpecial), C.bool(parseSpecial))
		if got == C.INT32_MIN {
			return nil, errors.New("tokenize: text too long")
		}
		if got < 0 {
			n = int(-got)
			continue
		}
		out := make([]int32, got)
		for i := range out {
			out[i] = int32(buf[i])
		}
		return out, nil
	}
}

// Detokenize returns the text of tokens (special tokens rendered as text when renderSpecial).
func (m *Model) Detokenize(tokens []int32, renderSpecial bool) string {
	if len(tokens) == 0 {
		return ""
	}
	n := len(tokens)*8 + 16
	for {
		buf := make([]byte, n)
		got := C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n), false, C.bool(renderSpecial))
		if got < 0 {
			n = int(-got)
			continue
		}
		return string(buf[:got])
	}
}

// EOS is the model's end-of-sequence token.
func (m *Model) EOS() int32 { return int32(C.llama_vocab_eos(m.vocab)) }

// piece is the text of one token, as generation appends it.
func (m *Model) piece(tok C.llama_token) []byte {
	var buf [256]byte
	n := C.llama_token_to_piece(m.vocab, tok, (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, false)
	if n < 0 {
		big := make([]byte, -n)
		n = C.llama_token_to_piece(m.vocab, tok, (*C.char)(unsafe.Pointer(&big[0])), C.int32_t(len(big)), 0, false)
		return big[:n]
	}
	return append([]byte(nil), buf[:n]...)
}
