// Package bpe trains and applies byte-level BPE tokenizers compatible with llama.cpp's "gpt2"
// tokenizer model (LLAMA_VOCAB_TYPE_BPE) with the "default" pre-tokenizer.
//
// Byte-pair encoding (Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words with
// Subword Units", ACL 2016) starts from single symbols and repeatedly merges the most frequent
// adjacent pair of symbols in a training corpus into a new symbol; the ordered list of merges is the
// model. Encoding a word replays the merges: of all adjacent pairs in the word, the one merged
// earliest in training (lowest rank) is merged first, ties going to the leftmost pair, until no
// adjacent pair has a rank.
//
// Byte level, as in GPT-2 (Radford et al. 2019, openai/gpt-2 src/encoder.py bytes_to_unicode):
// symbols are bytes, so every input can be encoded without an unknown token. Token strings are
// stored with each byte replaced by a printable code point: the bytes '!'..'~', '¡'..'¬' and
// '®'..'ÿ' stand for themselves and the remaining 68 bytes (controls, space, DEL, NBSP, soft hyphen)
// map in order to U+0100, U+0101, … — so a space is "Ġ" and a newline "Ċ". A merge is stored as the
// two token strings separated by one space (which cannot occur inside a token string).
//
// Before merging, text is split into words that merges never cross. This package implements the
// split llama.cpp applies for tokenizer.ggml.pre = "default" (LLAMA_VOCAB_PRE_TYPE_DEFAULT in
// llama-vocab.cpp), a sequence of four regular expressions each applied within the pieces the
// previous one produced:
//
//  1. [\p{P}\$\+<=>\^~\|]+ — runs of punctuation and the ASCII symbols $+<=>^~| are cut out;
//  2. 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) — GPT-2's pattern;
//  3. \p{N}+ — runs of digits are cut out (separating a digit run from its leading space);
//  4. [0-9][0-9][0-9] — ASCII digit runs are cut into groups of three from the left.
//
// Go's regexp has no lookahead, so the split is written by hand after llama.cpp's unicode.cpp,
// including its quirks: expressions 1, 3 and 4 go through std::regex on a "collapsed" text in which
// every non-ASCII code point stands for its category, so only ASCII digits and the listed ASCII
// punctuation count as such below U+0080; expression 2 is llama.cpp's hand-written GPT-2 splitter.
// Code point categories come from llama.cpp's own tables (unicode_tables.go is generated from
// unicode-data.cpp by gen_unicode.go), and invalid UTF-8 is decoded as llama.cpp does (each bad
// byte becomes U+FFFD), so Encode returns exactly the ids llama_tokenize returns for the same
// vocabulary.
package bpe

import (
	"errors"
	"fmt"
	"strings"
)

//go:generate go run gen_unicode.go

// TokenType is llama.cpp's llama_token_type, stored in tokenizer.ggml.token_type.
type TokenType int32

// Token types used here.
const (
	TokenNormal  TokenType = 1
	TokenControl TokenType = 3
)

// Special token texts.
const (
	BOS     = "<s>"
	EOS     = "</s>"
	ImStart = "<|im_start|>"
	ImEnd   = "<|im_end|>"
)

// Tokenizer is a byte-level BPE vocabulary with its merges. Build one with Train or New; it is
// safe for concurrent use.
type Tokenizer struct {
	// Tokens maps id to token text: byte-encoded (see the package comment) for normal tokens, the
	// literal text for control tokens.
	Tokens []string
	// Types holds each token's type.
	Types []TokenType
	// Merges lists the merges in rank order as "left right".
	Merges []string
	// BOSID and EOSID are the ids of "<s>" and "</s>".
	BOSID, EOSID int
	// ImStartID and ImEndID are the ids of "<|im_start|>" and "<|im_end|>", or -1.
	ImStartID, ImEndID int

	ids     map[string]int
	byteID  [256]int
	merges  map[uint64]mergeInfo // (left id, right id) -> rank and result
	control []int                // control token ids, longest text first
}

type mergeInfo struct {
	rank   int32
	result int32
}

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// New builds a Tokenizer from a vocabulary as stored in a GGUF file (tokenizer.ggml.tokens,
// token_type and merges). Every byte must have a normal token, every merge must join two tokens
// into a third, and "<s>" and "</s>" must be control tokens.
func New(tokens []string, types []TokenType, merges []string) (*Tokenizer, error) {
	if len(types) != len(tokens) {
		return nil, fmt.Errorf("bpe: %d tokens but %d token types", len(tokens), len(types))
	}
	t := &Tokenizer{
		Tokens:    tokens,
		Types:     types,
		Merges:    merges,
		ImStartID: -1,
		ImEndID:   -1,
		ids:       make(map[string]int, len(tokens)),
		merges:    make(map[uint64]mergeInfo, len(merges)),
	}
	for i, s := range tokens {
		if s == "" {
			return nil, fmt.Errorf("bpe: token %d is empty", i)
		}
		if _, dup := t.ids[s]; dup {
			return nil, fmt.Errorf("bpe: duplicate token %q", s)
		}
		t.ids[s] = i
		switch types[i] {
		case TokenNormal:
			if _, ok := DecodeToken(s); !ok {
				return nil, fmt.Errorf("bpe: normal token %d %q is not byte-encoded", i, s)
			}
		case TokenControl:
			t.control = append(t.control, i)
		default:
			return nil, fmt.Errorf("bpe: token %d has unsupported type %d", i, types[i])
		}
	}
	for b := 0; b < 256; b++ {
		id, ok := t.ids[string(byteToRune[b])]
		if !ok || types[id] != TokenNormal {
			return nil, fmt.Errorf("bpe: no token for byte %#02x", b)
		}
		t.byteID[b] = id
	}
	for r, m := range merges {
		left, right, ok := strings.Cut(m, " ")
		if !ok || left == "" || right == "" {
			return nil, fmt.Errorf("bpe: merge %d %q is not two tokens", r, m)
		}
		a, okA := t.ids[left]
		b, okB := t.ids[right]
		c, okC := t.ids[left+right]
		if !okA || !okB || !okC {
			return nil, fmt.Errorf("bpe: merge %d %q joins tokens not in the vocabulary", r, m)
		}
		k := pairKey(a, b)
		if _, dup := t.merges[k]; !dup { // llama.cpp keeps the first rank of a repeated merge
			t.merges[k] = mergeInfo{rank: int32(r), result: int32(c)}
		}
	}
	var ok bool
	if t.BOSID, ok = t.ids[BOS]; !ok || types[t.BOSID] != TokenControl {
		return nil, errors.New("bpe: no control token " + BOS)
	}
	if t.EOSID, ok = t.ids[EOS]; !ok || types[t.EOSID] != TokenControl {
		return nil, errors.New("bpe: no control token " + EOS)
	}
	if id, ok := t.ids[ImStart]; ok {
		t.ImStartID = id
	}
	if id, ok := t.ids[ImEnd]; ok {
		t.ImEndID = id
	}
	// llama.cpp tries special tokens longest first
	for i := 1; i < len(t.control); i++ {
		for j := i; j > 0 && len(tokens[t.control[j]]) > len(tokens[t.control[j-1]]); j-- {
			t.control[j], t.control[j-1] = t.control[j-1], t.control[j]
		}
	}
	return t, nil
}

// HasChatTokens reports whether the vocabulary has "<|im_start|>" and "<|im_end|>".
func (t *Tokenizer) HasChatTokens() bool { return t.ImStartID >= 0 && t.ImEndID >= 0 }

// TokenID returns the id of a token text (byte-encoded for normal tokens).
func (t *Tokenizer) TokenID(text string) (int, bool) {
	id, ok := t.ids[text]
	return id, ok
}

// byteToRune is GPT-2's bytes_to_unicode table; runeToByte is its inverse.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// EncodeBytes returns the GPT-2 byte-encoded form of raw bytes (the form of token strings).
func EncodeBytes(raw string) string {
	var sb strings.Builder
	sb.Grow(2 * len(raw))
	for i := 0; i < len(raw); i++ {
		sb.WriteRune(byteToRune[raw[i]])
	}
	return sb.String()
}

// DecodeToken returns the raw bytes of a byte-encoded token string; ok is false if it contains a
// code point that does not stand for a byte.
func DecodeToken(s string) (raw string, ok bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := runeToByte[r]
		if !ok {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}

// Decode returns the bytes the tokens stand for; control tokens are rendered as their text (as
// llama_token_to_piece does with special = true).
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var sb strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(t.Tokens) {
			return "", fmt.Errorf("bpe: token id %d out of range [0, %d)", id, len(t.Tokens))
		}
		if t.Types[id] == TokenControl {
			sb.WriteString(t.Tokens[id])
			continue
		}
		for _, r := range t.Tokens[id] {
			sb.WriteByte(runeToByte[r])
		}
	}
	return sb.String(), nil
}
