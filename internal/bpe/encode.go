package bpe

import (
	"container/heap"
	"strings"
)

// Encode returns the token ids of text as llama_tokenize does with add_special = false and
// parse_special = false: special-token texts such as "<s>" in text are encoded as ordinary text.
// No BOS is added.
func (t *Tokenizer) Encode(text string) []int {
	return t.encodeText(nil, text)
}

// EncodeSpecial is Encode with parse_special = true: occurrences of control-token texts ("<s>",
// "<|im_start|>", …) become those tokens.
func (t *Tokenizer) EncodeSpecial(text string) []int {
	var out []int
	for len(text) > 0 {
		// the earliest occurrence of any control token, longest first at equal positions; llama.cpp
		// partitions token by token (longest first), which gives the same result because no control
		// text here contains another
		at, id := -1, -1
		for _, c := range t.control {
			if i := strings.Index(text, t.Tokens[c]); i >= 0 && (at < 0 || i < at) {
				at, id = i, c
			}
		}
		if at < 0 {
			break
		}
		out = t.encodeText(out, text[:at])
		out = append(out, id)
		text = text[at+len(t.Tokens[id]):]
	}
	return t.encodeText(out, text)
}

func (t *Tokenizer) encodeText(out []int, text string) []int {
	cpts, spans := preTokenizeSpans(text)
	var word []byte
	var m merger
	for _, s := range spans {
		word = word[:0]
		for _, c := range cpts[s.start:s.end] {
			word = appendCpt(word, c)
		}
		out = m.encodeWord(t, out, word)
	}
	return out
}

// merger applies the merges to one word the way llama.cpp's llm_tokenizer_bpe_session does: a
// priority queue of adjacent pairs ordered by rank and then position, skipping pairs made stale by
// earlier merges.
type merger struct {
	syms []sym
	q    pairQueue
}

type sym struct {
	id         int
	prev, next int // -1 at the ends
	alive      bool
}

type pair struct {
	rank, left, right int
	leftID, rightID   int
}

type pairQueue []pair

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(i, j int) bool {
	return q[i].rank < q[j].rank || (q[i].rank == q[j].rank && q[i].left < q[j].left)
}
func (q pairQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(pair)) }
func (q *pairQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func (m *merger) addPair(t *Tokenizer, left, right int) {
	if left < 0 || right < 0 {
		return
	}
	a, b := m.syms[left].id, m.syms[right].id
	if mi, ok := t.merges[pairKey(a, b)]; ok {
		heap.Push(&m.q, pair{rank: int(mi.rank), left: left, right: right, leftID: a, rightID: b})
	}
}

func (m *merger) encodeWord(t *Tokenizer, out []int, word []byte) []int {
	if len(word) == 0 {
		return out
	}
	if len(word) == 1 {
		return append(out, t.byteID[word[0]])
	}
	m.syms = m.syms[:0]
	m.q = m.q[:0]
	for i, b := range word {
		next := i + 1
		if next == len(word) {
			next = -1
		}
		m.syms = append(m.syms, sym{id: t.byteID[b], prev: i - 1, next: next, alive: true})
	}
	for i := 1; i < len(m.syms); i++ {
		m.addPair(t, i-1, i)
	}
	for m.q.Len() > 0 {
		p := heap.Pop(&m.q).(pair)
		l, r := &m.syms[p.left], &m.syms[p.right]
		// stale: one side merged away or grown since the pair was queued
		if !l.alive || !r.alive || l.id != p.leftID || r.id != p.rightID || l.next != p.right {
			continue
		}
		l.id = int(t.merges[pairKey(p.leftID, p.rightID)].result)
		r.alive = false
		l.next = r.next
		if r.next >= 0 {
			m.syms[r.next].prev = p.left
		}
		m.addPair(t, l.prev, p.left)
		m.addPair(t, p.left, l.next)
	}
	for i := 0; i >= 0; i = m.syms[i].next {
		out = append(out, m.syms[i].id)
	}
	return out
}
