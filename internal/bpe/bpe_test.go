package bpe

import (
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func corpus(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../tinymodel/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestByteMapping(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] || r == ' ' {
			t.Fatalf("byte %#02x maps to %q twice or to a space", b, r)
		}
		seen[r] = true
	}
	for _, tc := range []struct{ raw, enc string }{
		{" ", "Ġ"}, {"\n", "Ċ"}, {"\t", "ĉ"}, {"a", "a"}, {"\x00", "Ā"}, {"\x7f", "ġ"}, {"\xad", "Ń"},
		{" hello\n", "ĠhelloĊ"}, {"é", "Ã©"},
	} {
		if got := EncodeBytes(tc.raw); got != tc.enc {
			t.Errorf("EncodeBytes(%q) = %q, want %q", tc.raw, got, tc.enc)
		}
		if got, ok := DecodeToken(tc.enc); !ok || got != tc.raw {
			t.Errorf("DecodeToken(%q) = %q %v", tc.enc, got, ok)
		}
	}
	if _, ok := DecodeToken("<s>x"); ok {
		// '<', 's', '>' are printable ASCII and stand for themselves, so this is valid
	} else {
		t.Error("DecodeToken rejected printable ASCII")
	}
	if _, ok := DecodeToken("a b"); ok {
		t.Error("DecodeToken accepted a space")
	}
}

// TestPreTokenize pins the "default" pre-tokenizer split; these cases (and thousands more) were
// checked against llama.cpp's tokenizer from github.com/ollama/ollama v0.17.4.
func TestPreTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"don't I'll", []string{"don", "'", "t", " I", "'", "ll"}},
		{"  two spaces", []string{" ", " two", " spaces"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"end.  ", []string{"end", ".", "  "}},
		{"12345", []string{"123", "45"}},
		{"abc 1234567", []string{"abc", " ", "123", "456", "7"}},
		{"$100 x==y", []string{"$", "100", " x", "==", "y"}},
		{"`code` €5", []string{"`", "code", "`", " €", "5"}},
		{"café 日本語 😀", []string{"café", " 日本語", " 😀"}},
		{"tabs\t\tx", []string{"tabs", "\t", "\t", "x"}},
		{"½ ²", []string{"½", " ", "²"}},
		{"e\u0301", []string{"e", "\u0301"}},
		{"a\u00a0b", []string{"a", "\u00a0", "b"}},
		{"(parens) [x]", []string{"(", "parens", ")", " ", "[", "x", "]"}},
		{"1.5", []string{"1", ".", "5"}},
		{"\r\n", []string{"\r\n"}},
		{"a  \n b", []string{"a", "  \n", " b"}},
		{"<s>", []string{"<", "s", ">"}},
		{"\x7f\x01", []string{"\x7f\x01"}},
		{"bad\xffbyte", []string{"bad", "\ufffd", "byte"}},
	} {
		if got := PreTokenize(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PreTokenize(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestDecodeCptsMatchesGoOnValidUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		s := randomText(rng, 30)
		if got, want := decodeCpts(s), []rune(s); !slices.Equal(got, want) {
			t.Fatalf("%q: %U vs %U", s, got, want)
		}
		var b []byte
		for _, c := range decodeCpts(s) {
			b = appendCpt(b, c)
		}
		if string(b) != s {
			t.Fatalf("re-encoding %q gave %q", s, b)
		}
	}
}

var pool = []rune("aAbBzZ09 \t\n\r.,;:!?'\"-_$+<=>^~|`@#%&*()[]{}/\\éüßøΩЖ日本한😀€½²\u00a0\u3000\u0301\u200b")

func randomText(rng *rand.Rand, maxLen int) string {
	var sb strings.Builder
	for j := rng.IntN(maxLen); j > 0; j-- {
		r := pool[rng.IntN(len(pool))]
		for k := 1 + rng.IntN(3)*rng.IntN(2); k > 0; k-- {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func TestTrainDeterministicAndLayout(t *testing.T) {
	c := corpus(t)
	for _, chat := range []bool{false, true} {
		a, err := Train(c, TrainOptions{VocabSize: 700, Chat: chat})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Train(c, TrainOptions{VocabSize: 700, Chat: chat})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Tokens, b.Tokens) || !reflect.DeepEqual(a.Merges, b.Merges) {
			t.Fatal("training is not deterministic")
		}
		if len(a.Tokens) != 700 {
			t.Errorf("vocab %d, want 700", len(a.Tokens))
		}
		base := 2
		if chat {
			base = 4
			if a.ImStartID != 2 || a.ImEndID != 3 || !a.HasChatTokens() {
				t.Errorf("chat ids %d %d", a.ImStartID, a.ImEndID)
			}
		} else if a.HasChatTokens() {
			t.Error("chat tokens without Chat")
		}
		if a.BOSID != 0 || a.EOSID != 1 || a.Tokens[0] != "<s>" || a.Tokens[1] != "</s>" {
			t.Errorf("special tokens %v", a.Tokens[:base])
		}
		for b := 0; b < 256; b++ {
			if a.Tokens[base+b] != string(byteToRune[b]) || a.Types[base+b] != TokenNormal {
				t.Fatalf("byte token %d is %q", b, a.Tokens[base+b])
			}
		}
		for i := base + 256; i < len(a.Tokens); i++ {
			if a.Types[i] != TokenNormal {
				t.Fatalf("token %d type %d", i, a.Types[i])
			}
		}
		if len(a.Merges) < len(a.Tokens)-base-256 {
			t.Errorf("%d merges for %d merged tokens", len(a.Merges), len(a.Tokens)-base-256)
		}
		// the first merge is the most frequent pair of the corpus
		if a.Merges[0] != "e Ġ" && a.Merges[0] != "Ġ t" && a.Merges[0] != "t h" && a.Merges[0] != "h e" {
			t.Logf("first merge %q", a.Merges[0])
		}
		// New from the stored form gives the same tokenizer
		n, err := New(a.Tokens, a.Types, a.Merges)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(n.Encode(c[:5000]), a.Encode(c[:5000])) {
			t.Error("New(Train(...)) encodes differently")
		}
	}
	other, err := Train(c[:len(c)/2], TrainOptions{VocabSize: 700})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Train(c, TrainOptions{VocabSize: 700})
	if reflect.DeepEqual(other.Merges, a.Merges) {
		t.Error("different corpora gave the same merges")
	}
}

func TestTrainSmallCorpusStopsEarly(t *testing.T) {
	tok, err := Train("ab ab ab", TrainOptions{VocabSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// words "ab" and " ab": merges a+b, Ġ+ab (or Ġ+a first), nothing else
	if got := len(tok.Tokens); got > 2+256+3 {
		t.Errorf("vocab %d", got)
	}
	if ids := tok.Encode("ab ab"); len(ids) != 2 {
		t.Errorf("Encode = %v", ids)
	}
	if _, err := Train("", TrainOptions{VocabSize: 300}); err == nil {
		t.Error("empty corpus accepted")
	}
	if _, err := Train("abc", TrainOptions{VocabSize: 257}); err == nil {
		t.Error("vocab below the byte tokens accepted")
	}
}

func TestRoundTrip(t *testing.T) {
	tok, err := Train(corpus(t), TrainOptions{VocabSize: 512, Chat: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	texts := []string{
		"", "Hello, world!", "  spaces   and\ttabs\n\n\nnewlines\r\n", "12345 3.14 1,000",
		"café naïve 日本語 😀👍🏽 e\u0301", "<s> </s> <|im_start|> text", "\x00\x01\x7f",
		corpus(t)[:3000],
	}
	for i := 0; i < 500; i++ {
		texts = append(texts, randomText(rng, 50))
	}
	for _, s := range texts {
		for _, enc := range []func(string) []int{tok.Encode, tok.EncodeSpecial} {
			ids := enc(s)
			got, err := tok.Decode(ids)
			if err != nil {
				t.Fatal(err)
			}
			if got != s {
				t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
			}
		}
	}
	// raw bytes: invalid UTF-8 comes back with each bad byte replaced by U+FFFD, as in llama.cpp
	for i := 0; i < 500; i++ {
		b := make([]byte, rng.IntN(20))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		got, _ := tok.Decode(tok.Encode(string(b)))
		want := string(b)
		if !utf8.Valid(b) {
			var w []byte
			for _, c := range decodeCpts(string(b)) {
				w = appendCpt(w, c)
			}
			want = string(w)
		}
		if got != want {
			t.Fatalf("bytes %q: got %q want %q", b, got, want)
		}
	}
	if _, err := tok.Decode([]int{len(tok.Tokens)}); err == nil {
		t.Error("out-of-range id decoded")
	}
}

func TestEncodeSpecial(t *testing.T) {
	tok, err := Train(corpus(t), TrainOptions{VocabSize: 400, Chat: true})
	if err != nil {
		t.Fatal(err)
	}
	s := "<|im_start|>user\nHi<|im_end|>\n<s>x</s>"
	ids := tok.EncodeSpecial(s)
	var specials []int
	for _, id := range ids {
		if tok.Types[id] == TokenControl {
			specials = append(specials, id)
		}
	}
	if want := []int{tok.ImStartID, tok.ImEndID, tok.BOSID, tok.EOSID}; !slices.Equal(specials, want) {
		t.Errorf("control tokens %v, want %v", specials, want)
	}
	for _, id := range tok.Encode(s) {
		if tok.Types[id] == TokenControl {
			t.Fatalf("Encode produced control token %d", id)
		}
	}
	if got, want := tok.EncodeSpecial("a<s>b"), append(append(tok.Encode("a"), tok.BOSID), tok.Encode("b")...); !slices.Equal(got, want) {
		t.Errorf("EncodeSpecial = %v, want %v", got, want)
	}
}

// naiveEncode merges the lowest-ranked adjacent pair (leftmost on ties) until none is left.
func naiveEncode(t *Tokenizer, text string) []int {
	var out []int
	for _, w := range PreTokenize(text) {
		syms := make([]int, len(w))
		for i := 0; i < len(w); i++ {
			syms[i] = t.byteID[w[i]]
		}
		for {
			best, at := -1, -1
			for i := 0; i+1 < len(syms); i++ {
				if m, ok := t.merges[pairKey(syms[i], syms[i+1])]; ok && (best < 0 || int(m.rank) < best) {
					best, at = int(m.rank), i
				}
			}
			if at < 0 {
				break
			}
			syms[at] = int(t.merges[pairKey(syms[at], syms[at+1])].result)
			syms = slices.Delete(syms, at+1, at+2)
		}
		out = append(out, syms...)
	}
	return out
}

func TestEncodeMatchesNaive(t *testing.T) {
	c := corpus(t)
	tok, err := Train(c, TrainOptions{VocabSize: 1200})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	texts := strings.Split(c, "\n\n")
	for i := 0; i < 300; i++ {
		texts = append(texts, randomText(rng, 60), strings.Repeat("ab", rng.IntN(50)), strings.Repeat(" ", rng.IntN(20))+"the")
	}
	for _, s := range texts {
		if got, want := tok.Encode(s), naiveEncode(tok, s); !slices.Equal(got, want) {
			t.Fatalf("%q: heap %v, naive %v", s, got, want)
		}
	}
}

func TestMergeOrder(t *testing.T) {
	tokens := []string{BOS, EOS}
	types := []TokenType{TokenControl, TokenControl}
	for b := 0; b < 256; b++ {
		tokens = append(tokens, string(byteToRune[b]))
		types = append(types, TokenNormal)
	}
	tokens = append(tokens, "aa", "ab", "aab", "aaa", "bb")
	types = append(types, TokenNormal, TokenNormal, TokenNormal, TokenNormal, TokenNormal)
	tok, err := New(tokens, types, []string{"a b", "a a", "a ab", "aa a", "b b"})
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int { i, _ := tok.TokenID(s); return i }
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"bbb", []string{"bb", "b"}},   // "b b" ties at positions 0 and 1: leftmost first
		{"aaa", []string{"aaa"}},       // "a a" at 0, then "aa a"
		{"aab", []string{"aab"}},       // "a b" (rank 0) before "a a", then "a ab"
		{"aaaa", []string{"aa", "aa"}}, // "aa a" has rank 3 but needs a lone "a" on the right
		{"ba", []string{"b", "a"}},
	} {
		var want []int
		for _, s := range tc.want {
			want = append(want, id(s))
		}
		if got := tok.Encode(tc.in); !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	good, err := Train("hello world", TrainOptions{VocabSize: 270})
	if err != nil {
		t.Fatal(err)
	}
	clone := func() ([]string, []TokenType, []string) {
		return slices.Clone(good.Tokens), slices.Clone(good.Types), slices.Clone(good.Merges)
	}
	for name, mod := range map[string]func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string){
		"types length": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) { return tk, ty[1:], m },
		"duplicate": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			tk[5] = tk[6]
			return tk, ty, m
		},
		"empty token": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			tk[5] = ""
			return tk, ty, m
		},
		"not byte-coded": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			tk[len(tk)-1] = "a b"
			return tk, ty, m
		},
		"missing byte": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			ty[2] = TokenControl
			return tk, ty, m
		},
		"bad merge": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			m[0] = "q z"
			return tk, ty, m
		},
		"one-part merge": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			m[0] = "ab"
			return tk, ty, m
		},
		"no BOS": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			tk[0] = "<x>"
			return tk, ty, m
		},
		"bad type": func(tk []string, ty []TokenType, m []string) ([]string, []TokenType, []string) {
			ty[0] = 7
			return tk, ty, m
		},
	} {
		if _, err := New(mod(clone())); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkTrain(b *testing.B) {
	c := corpus(b)
	b.SetBytes(int64(len(c)))
	for b.Loop() {
		if _, err := Train(c, TrainOptions{VocabSize: 512}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	c := corpus(b)
	tok, _ := Train(c, TrainOptions{VocabSize: 512})
	b.SetBytes(int64(len(c)))
	for b.Loop() {
		tok.Encode(c)
	}
}
