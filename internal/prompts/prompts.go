// Package prompts holds the default prompt bank, the loaders for user prompt files (Load), the
// stable discovery/validation split (SplitOf) and the selection of a prompts table (Select).
//
// The split is the guard against double dipping: hypotheses are written from
// discovery-split texts only and tested on validation-split prompts only. A prompt's split depends
// only on its id (the SHA-256 of its text), the split seed and the validation fraction, so it is the
// same in every run, every subset and every tool that computes it (mbd-prompts, mbd-gen import).
package prompts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/mbd-dev/mbd/internal/schema"
)

// Split names (schema.SplitDiscovery and schema.SplitValidation).
const (
	Discovery  = schema.SplitDiscovery
	Validation = schema.SplitValidation
)

// BankSource is the source of the embedded prompts.
const BankSource = "builtin:bank"

//go:embed bank.jsonl
var bankJSONL []byte

// Bank returns the embedded default prompts (written for mbd), without split.
func Bank() []schema.Prompt {
	var out []schema.Prompt
	sc := bufio.NewScanner(bytes.NewReader(bankJSONL))
	for sc.Scan() {
		var p struct{ Category, Text string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			panic(fmt.Sprintf("prompts: embedded bank is corrupt: %v", err))
		}
		out = append(out, schema.Prompt{ID: ID(p.Text), Text: p.Text, Source: BankSource, Category: p.Category})
	}
	return out
}

// ID is a prompt's stable id: the first 16 hex digits of the SHA-256 of its text.
func ID(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:8])
}

// unit maps (seed, id) to a uniform number in [0, 1).
func unit(seed uint64, id string) float64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.New()
	h.Write(b[:])
	h.Write([]byte(id))
	sum := h.Sum(nil)
	return float64(binary.LittleEndian.Uint64(sum)>>11) / (1 << 53)
}

// SplitOf returns the split of the prompt with the given id.
func SplitOf(id string, seed uint64, validationFraction float64) string {
	if unit(seed, id) < validationFraction {
		return Validation
	}
	return Discovery
}

// Rank orders prompts for a seeded, stable subsample: taking the n lowest ranks gives a sample that
// does not depend on input order and grows consistently with n.
func Rank(id string, seed uint64) float64 { return unit(seed^0x9e3779b97f4a7c15, id) }
