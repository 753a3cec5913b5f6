package llamacpp

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/gguf"
)

// refHidden is a plain-Go forward pass of a tiny F32 llama (loops, float64 sums) returning the
// output of every block at every position: out[layer][pos].
func refHidden(t *testing.T, path string, toks []int32) [][][]float32 {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := func(key string) int {
		v, ok := gguf.Get[uint32](f, key)
		if !ok {
			t.Fatalf("no %s", key)
		}
		return int(v)
	}
	E, nL, nH, nKV := u("llama.embedding_length"), u("llama.block_count"), u("llama.attention.head_count"), u("llama.attention.head_count_kv")
	eps64, _ := gguf.Get[float32](f, "llama.attention.layer_norm_rms_epsilon")
	base, _ := gguf.Get[float32](f, "llama.rope.freq_base")
	eps := float64(eps64)
	D := E / nH
	w := func(name string) []float32 {
		v, err := f.ReadFloat32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	matvec := func(wt, x []float32) []float32 {
		in := len(x)
		y := make([]float32, len(wt)/in)
		for r := range y {
			var s float64
			for c := range in {
				s += float64(wt[r*in+c]) * float64(x[c])
			}
			y[r] = float32(s)
		}
		return y
	}
	norm := func(x, g []float32) []float32 {
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		sc := float32(1 / math.Sqrt(ss/float64(len(x))+eps))
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = v * sc * g[i]
		}
		return y
	}
	rope := func(x []float32, pos int) {
		scale := float32(math.Pow(float64(base), -2/float64(D)))
		for h := 0; h < len(x)/D; h++ {
			theta := float32(pos)
			for i := 0; i < D/2; i++ {
				c, s := float32(math.Cos(float64(theta))), float32(math.Sin(float64(theta)))
				a, b := x[h*D+2*i], x[h*D+2*i+1]
				x[h*D+2*i], x[h*D+2*i+1] = a*c-b*s, a*s+b*c
				theta *= scale
			}
		}
	}
	emb := w("token_embd.weight")
	T := len(toks)
	xs := make([][]float32, T)
	for p, tok := range toks {
		xs[p] = append([]float32(nil), emb[int(tok)*E:int(tok+1)*E]...)
	}
	out := make([][][]float32, nL)
	for l := range nL {
		pre := fmt.Sprintf("blk.%d.", l)
		an, wq, wk, wv, wo := w(pre+"attn_norm.weight"), w(pre+"attn_q.weight"), w(pre+"attn_k.weight"), w(pre+"attn_v.weight"), w(pre+"attn_output.weight")
		qs, ks, vs := make([][]float32, T), make([][]float32, T), make([][]float32, T)
		for p := range xs {
			h := norm(xs[p], an)
			qs[p], ks[p], vs[p] = matvec(wq, h), matvec(wk, h), matvec(wv, h)
			rope(qs[p], p)
			rope(ks[p], p)
		}
		for p := range xs {
			att := make([]float32, E)
			for h := range nH {
				kvh := h / (nH / nKV)
				q := qs[p][h*D : (h+1)*D]
				sc := make([]float64, p+1)
				mx := math.Inf(-1)
				for s := 0; s <= p; s++ {
					var d float64
					for i := range q {
						d += float64(q[i]) * float64(ks[s][kvh*D+i])
					}
					sc[s] = d / math.Sqrt(float64(D))
					mx = max(mx, sc[s])
				}
				var sum float64
				for s := range sc {
					sc[s] = math.Exp(sc[s] - mx)
					sum += sc[s]
				}
				for i := range D {
					var a float64
					for s := range sc {
						a += sc[s] / sum * float64(vs[s][kvh*D+i])
					}
					att[h*D+i] = float32(a)
				}
			}
			o := matvec(wo, att)
			for i := range xs[p] {
				xs[p][i] += o[i]
			}
		}
		fn, wg, wu, wd := w(pre+"ffn_norm.weight"), w(pre+"ffn_gate.weight"), w(pre+"ffn_up.weight"), w(pre+"ffn_down.weight")
		out[l] = make([][]float32, T)
		for p := range xs {
			h := norm(xs[p], fn)
			g, up := matvec(wg, h), matvec(wu, h)
			for i := range g {
				g[i] = g[i] / (1 + float32(math.Exp(-float64(g[i])))) * up[i]
			}
			d := matvec(wd, g)
			for i := range xs[p] {
				xs[p][i] += d[i]
			}
			out[l][p] = append([]float32(nil), xs[p]...)
		}
	}
	return out
}

var captureTexts = []string{
	"The weather today is mild and clear, with a light wind from the west.",
	"Hi", // fewer tokens than the positions read: skipped
	"Once upon a time there was a small house by the river.",
	"To make bread, you need flour, water, salt and a little yeast.",
	"The capital of the country is a large city with many old buildings.",
	"Every morning she walks to the market and buys fresh fruit.",
}

// TestCaptureMatchesReference checks the captured block outputs, for every layer including the last
// (whose rows exist only for tokens with logits) and across several decode calls, against a plain-Go
// forward pass, and the reductions of Capture against sums of those.
func TestCaptureMatchesReference(t *testing.T) {
	plain, _, _ := tinyModels(t)
	const K = 5
	for _, layers := range [][]int{{0, 1}, {1}, {0}} {
		t.Run(fmt.Sprint(layers), func(t *testing.T) {
			m := loadT(t, Options{Path: plain, Batch: 2 * (K + 1)}) // two texts per decode
			sign := func(f, i int) float64 { return float64(1 - 2*((f+i)%2)) }
			o := CaptureOptions{Layers: layers, Positions: K, Flips: 2, Sign: sign}
			D := m.Dim()
			var used []int
			worst := 0.0
			refs := map[int][][][]float32{}
			err := m.Activations(context.Background(), captureTexts, o, func(i int, acts []float32) error {
				used = append(used, i)
				toks, err := m.Tokenize(captureTexts[i], true, false)
				if err != nil {
					return err
				}
				ref := refHidden(t, plain, toks[:K+1])
				refs[i] = ref
				for s, l := range layers {
					for k := range K {
						for j := range D {
							worst = max(worst, math.Abs(float64(acts[(s*K+k)*D+j]-ref[l][k+1][j])))
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(used) != "[0 2 3 4 5]" {
				t.Errorf("texts read %v, want every one but the short one", used)
			}
			if worst > 1e-4 {
				t.Errorf("captured block outputs differ from the reference forward pass by up to %g", worst)
			}
			t.Logf("largest difference from the reference: %.2g", worst)

			c, err := m.Capture(context.Background(), captureTexts, o)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(c.Used) != fmt.Sprint(used) || len(c.TextMeans) != len(used) {
				t.Fatalf("Capture read %v (%d means), Activations %v", c.Used, len(c.TextMeans), used)
			}
			bad := 0.0
			for s, l := range layers {
				for k := range K {
					var ss float64
					for j := range D {
						var sum, fl float64
						for _, i := range used {
							x := float64(refs[i][l][k+1][j])
							sum += x
							fl += sign(1, i) * x
							ss += x * x
						}
						bad = max(bad, math.Abs(c.Sum[(s*K+k)*D+j]-sum), math.Abs(c.Flipped[1][(s*K+k)*D+j]-fl))
					}
					bad = max(bad, math.Abs(c.SumSq[s*K+k]-ss)/ss)
				}
				for u, i := range used {
					for j := range D {
						var mean float64
						for k := range K {
							mean += float64(refs[i][l][k+1][j]) / K
						}
						bad = max(bad, math.Abs(float64(c.TextMeans[u][s*D+j])-mean))
					}
				}
			}
			if bad > 1e-3 {
				t.Errorf("Capture's sums differ from the reference's by up to %g", bad)
			}
		})
	}
}

func TestCaptureOptionErrors(t *testing.T) {
	plain, _, _ := tinyModels(t)
	m := loadT(t, Options{Path: plain})
	sign := func(f, i int) float64 { return 1 }
	for _, tt := range []struct {
		o    CaptureOptions
		want string
	}{
		{CaptureOptions{Positions: 4}, "no layers"},
		{CaptureOptions{Layers: []int{2}, Positions: 4}, "layer 2: the model has 2 layers (0 to 1)"},
		{CaptureOptions{Layers: []int{-1}, Positions: 4}, "layer -1: the model has 2 layers"},
		{CaptureOptions{Layers: []int{1, 1}, Positions: 4}, "layer 1: given twice"},
		{CaptureOptions{Layers: []int{0}, Positions: 0}, "positions 0: want a whole number in [1, 4096]"},
		{CaptureOptions{Layers: []int{0}, Positions: MaxPositions + 1}, "positions 4097"},
		{CaptureOptions{Layers: []int{0}, Positions: 4, Flips: -1, Sign: sign}, "flips -1"},
		{CaptureOptions{Layers: []int{0}, Positions: 4, Flips: 3}, "flips without a sign function"},
		{CaptureOptions{Layers: []int{0}, Positions: MaxPositions, Flips: MaxFlips, Sign: sign}, "read fewer"},
	} {
		_, err := m.Capture(context.Background(), captureTexts, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.o, err, tt.want)
		}
	}
}

// TestCaptureChat checks that a chat capture reads each text where generation would see it: after
// the tokens FormatPrompt puts before the prompt (the hidden system prompt included), matching the
// reference forward pass of the whole formatted prompt.
func TestCaptureChat(t *testing.T) {
	_, chat, _ := tinyModels(t)
	const K = 4
	for _, system := range []string{"", "End every answer with a question to the user."} {
		t.Run(fmt.Sprintf("system=%q", system), func(t *testing.T) {
			m := loadT(t, Options{Path: chat, System: system})
			o := CaptureOptions{Layers: []int{1}, Positions: K, Chat: true}
			D, worst, n := m.Dim(), 0.0, 0
			err := m.Activations(context.Background(), captureTexts, o, func(i int, acts []float32) error {
				n++
				full, err := m.promptTokens(captureTexts[i])
				if err != nil {
					return err
				}
				text, err := m.Tokenize(captureTexts[i], false, false)
				if err != nil {
					return err
				}
				after := trailing(full, text)
				if after < 0 {
					t.Fatalf("text %d: its tokens %v are not in the formatted prompt %v", i, text, full)
				}
				start := len(full) - len(text) - after
				ref := refHidden(t, chat, full[:start+K])
				for k := range K {
					for j := range D {
						worst = max(worst, math.Abs(float64(acts[k*D+j]-ref[1][start+k][j])))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != 5 || worst > 1e-4 {
				t.Errorf("read %d texts (want 5); largest difference from the reference: %g", n, worst)
			}
		})
	}
}

// trailing is how many tokens of full follow the text's tokens (the template's end of turn).
func trailing(full, text []int32) int {
	for end := len(full); end >= len(text); end-- {
		if slices.Equal(full[end-len(text):end], text) {
			return len(full) - end
		}
	}
	return -1
}
