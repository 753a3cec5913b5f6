package bpe

import (
	"container/heap"
	"errors"
	"fmt"
	"sort"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the size of the vocabulary to reach, counting the special tokens and the 256
	// byte tokens. Training stops earlier when no adjacent pair is left in the corpus.
	VocabSize int
	// Chat adds the control tokens "<|im_start|>" and "<|im_end|>" for ChatML.
	Chat bool
}

// Train learns a byte-level BPE vocabulary from corpus.
//
// The vocabulary is laid out as: "<s>" (0), "</s>" (1), with Chat "<|im_start|>" (2) and
// "<|im_end|>" (3), then the 256 byte tokens in byte order, then one token per merge. The corpus is
// split into words with PreTokenize; each merge joins the adjacent pair of tokens that occurs most
// often (weighted by word frequency), ties going to the pair whose left and then right token
// string sorts first, so training is deterministic. Pair counts are updated incrementally, only in
// the words that contain the merged pair. A merge whose result equals an existing token (the same
// bytes reached by another split) reuses that token, so vocabulary strings stay unique as llama.cpp
// requires.
func Train(corpus string, opts TrainOptions) (*Tokenizer, error) {
	tokens := []string{BOS, EOS}
	if opts.Chat {
		tokens = append(tokens, ImStart, ImEnd)
	}
	base := len(tokens)
	if opts.VocabSize < base+256 {
		return nil, fmt.Errorf("bpe: vocabulary size %d is below the %d special and byte tokens", opts.VocabSize, base+256)
	}
	types := make([]TokenType, base, opts.VocabSize)
	for i := range types {
		types[i] = TokenControl
	}
	for b := 0; b < 256; b++ {
		tokens = append(tokens, string(byteToRune[b]))
		types = append(types, TokenNormal)
	}
	ids := make(map[string]int, opts.VocabSize)
	for i, s := range tokens {
		ids[s] = i
	}

	// unique words with their counts, in sorted order for determinism
	counts := map[string]int64{}
	for _, w := range PreTokenize(corpus) {
		counts[w]++
	}
	if len(counts) == 0 {
		return nil, errors.New("bpe: empty training corpus")
	}
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	type word struct {
		syms  []int32
		count int64
		stamp int32
	}
	words := make([]word, len(keys))
	for i, k := range keys {
		syms := make([]int32, len(k))
		for j := 0; j < len(k); j++ {
			syms[j] = int32(base + int(k[j]))
		}
		words[i] = word{syms: syms, count: counts[k], stamp: -1}
	}

	pairCount := map[uint64]int64{}
	where := map[uint64][]int32{}
	for i, w := range words {
		for j := 1; j < len(w.syms); j++ {
			k := pairKey(int(w.syms[j-1]), int(w.syms[j]))
			pairCount[k] += w.count
			if l := where[k]; len(l) == 0 || l[len(l)-1] != int32(i) {
				where[k] = append(l, int32(i))
			}
		}
	}
	q := &trainQueue{tokens: &tokens}
	for k, c := range pairCount {
		q.items = append(q.items, trainItem{count: c, key: k})
	}
	heap.Init(q)

	var merges []string
	merged := map[uint64]bool{}
	delta := map[uint64]int64{}
	for step := int32(0); len(tokens) < opts.VocabSize && q.Len() > 0; step++ {
		it := heap.Pop(q).(trainItem)
		if c := pairCount[it.key]; c != it.count || c <= 0 {
			continue // stale
		}
		a, b := int32(it.key>>32), int32(uint32(it.key))
		text := tokens[a] + tokens[b]
		c, ok := ids[text]
		if !ok {
			c = len(tokens)
			ids[text] = c
			tokens = append(tokens, text)
			types = append(types, TokenNormal)
		}
		if !merged[it.key] {
			merged[it.key] = true
			merges = append(merges, tokens[a]+" "+tokens[b])
		}
		clear(delta)
		for _, wi := range where[it.key] {
			w := &words[wi]
			if w.stamp == step {
				continue
			}
			w.stamp = step
			// apply the merge left to right, non-overlapping; adjust the counts of the pairs around it
			out := w.syms[:0:0]
			changed := false
			for j := 0; j < len(w.syms); j++ {
				if j+1 < len(w.syms) && w.syms[j] == a && w.syms[j+1] == b {
					out = append(out, int32(c))
					j++
					changed = true
					continue
				}
				out = append(out, w.syms[j])
			}
			if !changed {
				continue
			}
			for j := 1; j < len(w.syms); j++ {
				delta[pairKey(int(w.syms[j-1]), int(w.syms[j]))] -= w.count
			}
			for j := 1; j < len(out); j++ {
				k := pairKey(int(out[j-1]), int(out[j]))
				delta[k] += w.count
				if out[j-1] == int32(c) || out[j] == int32(c) {
					where[k] = append(where[k], wi)
				}
			}
			w.syms = out
		}
		delete(where, it.key)
		for k, d := range delta {
			if d == 0 {
				continue
			}
			n := pairCount[k] + d
			if n <= 0 {
				delete(pairCount, k)
				continue
			}
			pairCount[k] = n
			heap.Push(q, trainItem{count: n, key: k})
		}
	}
	return New(tokens, types, merges)
}

type trainItem struct {
	count int64
	key   uint64
}

// trainQueue is a max-heap of pair counts with a fixed tie order.
type trainQueue struct {
	items  []trainItem
	tokens *[]string
}

func (q *trainQueue) Len() int { return len(q.items) }
func (q *trainQueue) Less(i, j int) bool {
	x, y := q.items[i], q.items[j]
	if x.count != y.count {
		return x.count > y.count
	}
	if x.key == y.key {
		return false
	}
	t := *q.tokens
	xa, ya := t[x.key>>32], t[y.key>>32]
	if xa != ya {
		return xa < ya
	}
	return t[uint32(x.key)] < t[uint32(y.key)]
}
func (q *trainQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *trainQueue) Push(x any)    { q.items = append(q.items, x.(trainItem)) }
func (q *trainQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}
