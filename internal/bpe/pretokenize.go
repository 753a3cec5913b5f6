package bpe

import "sort"

// Category flags of llama.cpp's unicode_cpt_flags (unicode.h).
const (
	flagUndefined   = 0x01
	flagNumber      = 0x02
	flagLetter      = 0x04
	flagSeparator   = 0x08
	flagAccentMark  = 0x10
	flagPunctuation = 0x20
	flagSymbol      = 0x40
	flagControl     = 0x80
)

const maxCodepoints = 0x110000

// cptFlags returns the category flag of c from llama.cpp's tables.
func cptFlags(c rune) uint8 {
	if c < 0 || c >= maxCodepoints {
		return flagUndefined
	}
	i := sort.Search(len(cptRangeStart), func(i int) bool { return cptRangeStart[i] > uint32(c) }) - 1
	return cptRangeFlags[i]
}

// decodeCpts decodes UTF-8 the way llama.cpp's unicode_cpts_from_utf8 does: lead and continuation
// bytes are checked but overlong forms and surrogates are accepted; an invalid byte becomes U+FFFD
// and decoding resumes at the next byte. (llama.cpp would also accept four-byte forms above
// U+10FFFF and then fail to re-encode them; those bytes become U+FFFD here.)
func decodeCpts(s string) []rune {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		b0 := s[i]
		cont := func(k int) bool { return i+k < len(s) && s[i+k]&0xc0 == 0x80 }
		switch {
		case b0&0x80 == 0:
			out = append(out, rune(b0))
			i++
			continue
		case b0&0x40 == 0:
		case b0&0x20 == 0:
			if cont(1) {
				out = append(out, rune(b0&0x1f)<<6|rune(s[i+1]&0x3f))
				i += 2
				continue
			}
		case b0&0x10 == 0:
			if cont(1) && cont(2) {
				out = append(out, rune(b0&0x0f)<<12|rune(s[i+1]&0x3f)<<6|rune(s[i+2]&0x3f))
				i += 3
				continue
			}
		case b0&0x08 == 0:
			if cont(1) && cont(2) && cont(3) {
				c := rune(b0&0x07)<<18 | rune(s[i+1]&0x3f)<<12 | rune(s[i+2]&0x3f)<<6 | rune(s[i+3]&0x3f)
				if c < maxCodepoints {
					out = append(out, c)
					i += 4
					continue
				}
			}
		}
		out = append(out, 0xfffd)
		i++
	}
	return out
}

// appendCpt appends the UTF-8 encoding of c as llama.cpp's unicode_cpt_to_utf8 does (surrogates
// are encoded like any other code point).
func appendCpt(b []byte, c rune) []byte {
	switch {
	case c <= 0x7f:
		return append(b, byte(c))
	case c <= 0x7ff:
		return append(b, 0xc0|byte(c>>6), 0x80|byte(c)&0x3f)
	case c <= 0xffff:
		return append(b, 0xe0|byte(c>>12), 0x80|byte(c>>6)&0x3f, 0x80|byte(c)&0x3f)
	}
	return append(b, 0xf0|byte(c>>18), 0x80|byte(c>>12)&0x3f, 0x80|byte(c>>6)&0x3f, 0x80|byte(c)&0x3f)
}

// span is a piece [start, end) of the code point slice.
type span struct{ start, end int }

// splitBy splits each span at the matches that next(cpts, pos, end) finds (it returns the next
// match at or after pos within the span, or ok = false); unmatched stretches become spans too, as in
// llama.cpp's unicode_regex_split_stl.
func splitBy(cpts []rune, spans []span, next func(cpts []rune, pos, end int) (ms, me int, ok bool)) []span {
	out := make([]span, 0, len(spans)+len(spans)/2)
	for _, s := range spans {
		pos := s.start
		for pos < s.end {
			ms, me, ok := next(cpts, pos, s.end)
			if !ok {
				break
			}
			if ms > pos {
				out = append(out, span{pos, ms})
			}
			out = append(out, span{ms, me})
			pos = me
		}
		if pos < s.end {
			out = append(out, span{pos, s.end})
		}
	}
	return out
}

// runsOf returns a next function matching maximal runs of code points satisfying in.
func runsOf(in func(rune) bool) func([]rune, int, int) (int, int, bool) {
	return func(cpts []rune, pos, end int) (int, int, bool) {
		for pos < end && !in(cpts[pos]) {
			pos++
		}
		if pos == end {
			return 0, 0, false
		}
		e := pos
		for e < end && in(cpts[e]) {
			e++
		}
		return pos, e, true
	}
}

// isPunctExpr is the class [\p{P}\$\+<=>\^~\|] as llama.cpp evaluates it on the collapsed text:
// below U+0080 only the ASCII characters its table lists as \p{P}, plus $+<=>^~|; above, code
// points whose only category is punctuation and that are not whitespace (those collapse to 0x0B).
func isPunctExpr(c rune) bool {
	if c < 0x80 {
		switch c {
		case '!', '"', '#', '%', '&', '\'', '(', ')', '*', ',', '-', '.', '/', ':', ';', '?', '@',
			'[', '\\', ']', '_', '{', '}', '$', '+', '<', '=', '>', '^', '~', '|':
			return true
		}
		return false
	}
	return !whitespaceCpts[c] && cptFlags(c) == flagPunctuation
}

// isNumberExpr is \p{N} as llama.cpp evaluates it on the collapsed text.
func isNumberExpr(c rune) bool {
	if c < 0x80 {
		return c >= '0' && c <= '9'
	}
	return !whitespaceCpts[c] && cptFlags(c) == flagNumber
}

// digitTriples matches [0-9][0-9][0-9].
func digitTriples(cpts []rune, pos, end int) (int, int, bool) {
	isDigit := func(c rune) bool { return c >= '0' && c <= '9' }
	for ; pos+3 <= end; pos++ {
		if isDigit(cpts[pos]) && isDigit(cpts[pos+1]) && isDigit(cpts[pos+2]) {
			return pos, pos + 3, true
		}
	}
	return 0, 0, false
}

// gpt2Split is llama.cpp's unicode_regex_split_custom_gpt2: the pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) applied within each span
// with unicode flags.
func gpt2Split(cpts []rune, spans []span) []span {
	out := make([]span, 0, len(spans)*2)
	type flags struct {
		in                                  bool // inside the span (as_uint() != 0 in llama.cpp)
		letter, number, whitespace, present bool
	}
	for _, s := range spans {
		get := func(pos int) flags {
			if pos < s.start || pos >= s.end {
				return flags{}
			}
			c := cpts[pos]
			f := cptFlags(c)
			return flags{in: true, letter: f&flagLetter != 0, number: f&flagNumber != 0, whitespace: whitespaceCpts[c]}
		}
		cpt := func(pos int) rune {
			if pos < s.start || pos >= s.end {
				return -1
			}
			return cpts[pos]
		}
		prev := s.start
		add := func(end int) {
			if end > prev {
				out = append(out, span{prev, end})
			}
			prev = end
		}
		for pos := s.start; pos < s.end; {
			c := cpt(pos)
			f := get(pos)
			if c == '\'' && pos+1 < s.end {
				n := cpt(pos + 1)
				if n == 's' || n == 't' || n == 'm' || n == 'd' {
					pos += 2
					add(pos)
					continue
				}
				if pos+2 < s.end {
					nn := cpt(pos + 2)
					if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
						pos += 3
						add(pos)
						continue
					}
				}
			}
			f2 := f
			if c == ' ' {
				f2 = get(pos + 1)
			}
			if f2.letter {
				if c == ' ' {
					pos++
				}
				for f2.letter {
					pos++
					f2 = get(pos)
				}
				add(pos)
				continue
			}
			if f2.number {
				if c == ' ' {
					pos++
				}
				for f2.number {
					pos++
					f2 = get(pos)
				}
				add(pos)
				continue
			}
			if !(f2.whitespace || f2.letter || f2.number) && f2.in {
				if c == ' ' {
					pos++
				}
				for !(f2.whitespace || f2.letter || f2.number) && f2.in {
					pos++
					f2 = get(pos)
				}
				add(pos)
				continue
			}
			nws := 0
			for get(pos + nws).whitespace {
				nws++
			}
			if nws > 1 && cpt(pos+nws) != -1 {
				pos += nws - 1
				add(pos)
				continue
			}
			if nws > 0 {
				pos += nws
				add(pos)
				continue
			}
			pos++
			add(pos)
		}
	}
	return out
}

// PreTokenize splits text into the words llama.cpp's "default" BPE pre-tokenizer produces (see the
// package comment). Invalid UTF-8 bytes come back as U+FFFD, as in llama.cpp.
func PreTokenize(text string) []string {
	cpts, spans := preTokenizeSpans(text)
	words := make([]string, len(spans))
	var buf []byte
	for i, s := range spans {
		buf = buf[:0]
		for _, c := range cpts[s.start:s.end] {
			buf = appendCpt(buf, c)
		}
		words[i] = string(buf)
	}
	return words
}

func preTokenizeSpans(text string) ([]rune, []span) {
	cpts := decodeCpts(text)
	if len(cpts) == 0 {
		return cpts, nil
	}
	spans := []span{{0, len(cpts)}}
	spans = splitBy(cpts, spans, runsOf(isPunctExpr))
	spans = gpt2Split(cpts, spans)
	spans = splitBy(cpts, spans, runsOf(isNumberExpr))
	spans = splitBy(cpts, spans, digitTriples)
	return cpts, spans
}
