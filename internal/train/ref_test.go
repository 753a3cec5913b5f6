package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/mbd-dev/mbd/internal/gguf"
)

// refOptions select which of llama.cpp's CPU float16 roundings the reference forward pass
// reproduces.
type refOptions struct {
	// f16Act names the weights stored as F16 in the file llama.cpp runs: the input of a matrix
	// product with them is rounded to float16 (ggml converts src1 to the weight's vec_dot_type).
	f16Act map[string]bool
	// flashAttn reproduces ggml's CPU flash attention with an F16 KV cache: Q, K and V rounded to
	// float16, and the V accumulator kept in float16, rounded after every key.
	flashAttn bool
}

func f16(x float32) float32 { return gguf.Float16ToFloat32(gguf.Float32ToFloat16(x)) }

// refLogProbs is a plain-Go forward pass (loops, float32 with float64 sums), independent of GoMLX,
// returning the same as Model.LogProbs.
func refLogProbs(m *Model, toks []int32, o refOptions) ([]float64, error) {
	hp := m.hp
	w := map[string][]float32{}
	for _, t := range m.tensors {
		v, err := m.Weight(t.name)
		if err != nil {
			return nil, err
		}
		w[t.name] = v
	}
	T, E, D := len(toks), hp.nEmbd, hp.headDim
	matvec := func(name string, x []float32) []float32 {
		wt := w[name]
		in := len(x)
		out := len(wt) / in
		if o.f16Act[name] {
			xr := make([]float32, in)
			for i := range x {
				xr[i] = f16(x[i])
			}
			x = xr
		}
		y := make([]float32, out)
		for r := 0; r < out; r++ {
			var s float64
			for c := 0; c < in; c++ {
				s += float64(wt[r*in+c]) * float64(x[c])
			}
			y[r] = float32(s)
		}
		// The q/k/v biases (qwen2), added in float32 after the product as ggml_add does.
		if bias := w[strings.TrimSuffix(name, ".weight")+".bias"]; bias != nil {
			for r := range y {
				y[r] += bias[r]
			}
		}
		return y
	}
	norm := func(x []float32, name string) []float32 {
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		sc := float32(1 / math.Sqrt(ss/float64(len(x))+hp.eps))
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = v * sc * w[name][i]
		}
		return y
	}
	rope := func(x []float32, pos int) {
		// ggml: theta = pos; theta *= theta_scale per pair, in float32. Pair i is (2i, 2i+1)
		// (GGML_ROPE_TYPE_NORM) or (i, i+D/2) (GGML_ROPE_TYPE_NEOX).
		scale := float32(math.Pow(hp.ropeBase, -2/float64(D)))
		for h := 0; h < len(x)/D; h++ {
			theta := float32(pos)
			for i := 0; i < D/2; i++ {
				c, s := float32(math.Cos(float64(theta))), float32(math.Sin(float64(theta)))
				i0, i1 := h*D+2*i, h*D+2*i+1
				if hp.ropeNeox {
					i0, i1 = h*D+i, h*D+i+D/2
				}
				a, b := x[i0], x[i1]
				x[i0] = a*c - b*s
				x[i1] = a*s + b*c
				theta *= scale
			}
		}
	}
	xs := make([][]float32, T)
	for t, tok := range toks {
		xs[t] = append([]float32(nil), w["token_embd.weight"][int(tok)*E:int(tok+1)*E]...)
	}
	grp := hp.nHead / hp.nHeadKV
	for l := 0; l < hp.nLayer; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		qs, ks, vs := make([][]float32, T), make([][]float32, T), make([][]float32, T)
		for t := range xs {
			h := norm(xs[t], p+"attn_norm.weight")
			qs[t], ks[t], vs[t] = matvec(p+"attn_q.weight", h), matvec(p+"attn_k.weight", h), matvec(p+"attn_v.weight", h)
			rope(qs[t], t)
			rope(ks[t], t)
			if o.flashAttn {
				for _, v := range [][]float32{qs[t], ks[t], vs[t]} {
					for i := range v {
						v[i] = f16(v[i])
					}
				}
			}
		}
		for t := range xs {
			att := make([]float32, E)
			for h := 0; h < hp.nHead; h++ {
				kvh := h / grp
				q := qs[t][h*D : (h+1)*D]
				scores := make([]float32, t+1)
				for s := 0; s <= t; s++ {
					k := ks[s][kvh*D : (kvh+1)*D]
					var d float64
					for i := range q {
						d += float64(q[i]) * float64(k[i])
					}
					scores[s] = float32(d) * float32(1/math.Sqrt(float64(D)))
				}
				out := att[h*D : (h+1)*D]
				if o.flashAttn {
					// ggml_compute_forward_flash_attn_ext_f16_one_chunk with V in F16.
					acc := make([]float32, D) // float16 values
					M, S := float32(math.Inf(-1)), float32(0)
					for s := 0; s <= t; s++ {
						ms, vsc := float32(1), float32(1)
						if scores[s] > M {
							old := M
							M = scores[s]
							ms = float32(math.Exp(float64(old - M)))
							for i := range acc {
								acc[i] = f16(acc[i] * ms)
							}
						} else {
							vsc = float32(math.Exp(float64(scores[s] - M)))
						}
						v := vs[s][kvh*D : (kvh+1)*D]
						for i := range acc {
							acc[i] = f16(acc[i] + v[i]*vsc)
						}
						S = S*ms + vsc
					}
					for i := range out {
						out[i] = acc[i] / S
					}
				} else {
					mx := math.Inf(-1)
					for _, s := range scores {
						mx = max(mx, float64(s))
					}
					var sum float64
					pr := make([]float64, len(scores))
					for s, sc := range scores {
						pr[s] = math.Exp(float64(sc) - mx)
						sum += pr[s]
					}
					for i := range out {
						var a float64
						for s := range scores {
							a += pr[s] / sum * float64(vs[s][kvh*D+i])
						}
						out[i] = float32(a)
					}
				}
			}
			o := matvec(p+"attn_output.weight", att)
			for i := range xs[t] {
				xs[t][i] += o[i]
			}
		}
		for t := range xs {
			h := norm(xs[t], p+"ffn_norm.weight")
			g, u := matvec(p+"ffn_gate.weight", h), matvec(p+"ffn_up.weight", h)
			for i := range g {
				g[i] = g[i] / (1 + float32(math.Exp(-float64(g[i])))) * u[i]
			}
			d := matvec(p+"ffn_down.weight", g)
			for i := range xs[t] {
				xs[t][i] += d[i]
			}
		}
	}
	outName := "output.weight"
	if hp.tiedOutput {
		outName = "token_embd.weight"
	}
	res := make([]float64, T-1)
	for t := 0; t < T-1; t++ {
		logits := matvec(outName, norm(xs[t], "output_norm.weight"))
		mx := math.Inf(-1)
		for _, v := range logits {
			mx = max(mx, float64(v))
		}
		var sum float64
		for _, v := range logits {
			sum += math.Exp(float64(v) - mx)
		}
		res[t] = float64(logits[toks[t+1]]) - mx - math.Log(sum)
	}
	return res, nil
}
