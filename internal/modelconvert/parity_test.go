package modelconvert

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/modelconvert/hfref"
	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
)

// parityTol is the largest |Δ log-prob| allowed between llama.cpp on a converted checkpoint (F32
// weights) and hfref's float64 forward pass on the checkpoint itself.
const parityTol = 1e-3

// parityReqs are scored by both; past 8 tokens they reach beyond the checkpoints' sliding window.
var parityReqs = []llm.ScoreRequest{
	{ID: "fox", Prompt: "The quick brown fox", Completion: " jumps over the lazy dog, and then it runs back home again."},
	{ID: "story", Prompt: "Once upon a time", Completion: ", there was a model converted from safetensors to GGUF by a tool."},
	{ID: "digits", Prompt: "Numbers: 12345, 3.14!", Completion: "\nnew line: don't stop, naïve café"},
}

// parityCases are the architectures with a tested conversion: hftest's short name and the
// general.architecture llama.cpp sees in the converted file.
var parityCases = []struct {
	arch, llamaArch string
	gelu            bool // GELU feed-forward: llama.cpp's CPU GELU rounds to float16
}{
	{"llama", "llama", false},
	{"mistral", "llama", false},
	{"qwen2", "qwen2", false},
	{"phi3", "phi3", false},
	{"phi3-partial", "phi3", false},
	{"gemma2", "gemma2", true},
	{"gemma3", "gemma3", true},
}

// TestParity converts a tiny random checkpoint of each architecture, loads it in llama.cpp with
// F32 weights and compares the per-token log-probs of a few sequences with hfref's forward pass
// over the Hugging Face checkpoint. ggml's CPU GELU looks its result up in a float16 table (input
// and output rounded to float16), which alone moves Gemma's log-probs by about 1e-3 at these sizes;
// for GELU models the bound applies against the reference with that rounding, and the exact
// difference is logged beside it.
func TestParity(t *testing.T) {
	for _, c := range parityCases {
		t.Run(c.arch, func(t *testing.T) {
			f32, ref := convertTiny(t, c.arch)
			d, err := parity(f32, ref, c.llamaArch)
			if err != nil {
				t.Fatal(err)
			}
			check := d
			line := fmt.Sprintf("parity %-13s max |Δ log-prob| = %.2e", c.arch, d)
			if c.gelu {
				ref.GELUF16 = true
				if check, err = parity(f32, ref, c.llamaArch); err != nil {
					t.Fatal(err)
				}
				line += fmt.Sprintf(" (%.2e against float16 GELU)", check)
			}
			t.Log(line)
			if check > parityTol {
				t.Errorf("max |Δ log-prob| = %.3g, want ≤ %g", check, parityTol)
			}
		})
	}
}

// TestParityNeedsFixes checks that each of mbd's fixes to the converter's output is needed: without
// them, llama.cpp refuses the file or computes something else.
func TestParityNeedsFixes(t *testing.T) {
	for _, c := range []struct{ arch, llamaArch, fix, want string }{
		{"mistral", "llama", "alias", "unsupported architecture"},
		{"mistral", "llama", "head_dim", "invalid n_rot"},
		{"phi3", "phi3", "rope_factors", "rope_factors_long.weight' has wrong shape"},
		{"phi3-partial", "phi3", "partial_rotary", "differ"},
		{"gemma3", "gemma3", "linear_rope", "differ"},
	} {
		t.Run(c.arch+"/"+c.fix, func(t *testing.T) {
			skipFix = func(name string) bool { return name == c.fix }
			defer func() { skipFix = func(string) bool { return false } }()
			dir := t.TempDir()
			ck, err := hftest.WriteArch(filepath.Join(dir, "hf"), c.arch, 1)
			if err != nil {
				t.Fatal(err)
			}
			err = Convert(ck.Dir, filepath.Join(dir, "converted.gguf"))
			if err == nil {
				f32 := filepath.Join(dir, "f32.gguf")
				if err := hftest.ToF32(filepath.Join(dir, "converted.gguf"), f32); err != nil {
					t.Fatal(err)
				}
				ref, rerr := hfref.Load(ck.Dir)
				if rerr != nil {
					t.Fatal(rerr)
				}
				ref.GELUF16 = true
				var d float64
				if d, err = parity(f32, ref, c.llamaArch); err == nil && d > 0.01 {
					err = fmt.Errorf("log-probs differ by %.3g", d)
				}
			}
			t.Logf("without %s: %v", c.fix, err)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("without fixes: %v, want an error with %q", err, c.want)
			}
		})
	}
}

// convertTiny writes arch's tiny checkpoint, converts it and widens it to F32; it returns the F32
// file and the reference.
func convertTiny(t *testing.T, arch string) (string, *hfref.Model) {
	t.Helper()
	dir := t.TempDir()
	ck, err := hftest.WriteArch(filepath.Join(dir, "hf"), arch, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Check(ck.Dir); err != nil {
		t.Fatalf("Check: %v", err)
	}
	out := filepath.Join(dir, "converted.gguf")
	if err := Convert(ck.Dir, out); err != nil {
		t.Fatalf("Convert: %v", err)
	}
	f32 := filepath.Join(dir, "f32.gguf")
	if err := hftest.ToF32(out, f32); err != nil {
		t.Fatal(err)
	}
	ref, err := hfref.Load(ck.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return f32, ref
}

// parity scores parityReqs with the GGUF file at path and with ref and returns the largest
// difference of a token's log-prob.
func parity(path string, ref *hfref.Model, arch string) (float64, error) {
	m, err := llamacpp.Load(llamacpp.Options{Path: path, Threads: 1, Parallel: 1, Ctx: 128, Chat: "off"})
	if err != nil {
		return 0, err
	}
	defer m.Close()
	if got := m.Info().Arch; got != arch {
		return 0, fmt.Errorf("llama.cpp sees architecture %q, want %q", got, arch)
	}
	res, err := m.Score(context.Background(), parityReqs)
	if err != nil {
		return 0, err
	}
	var worst, spread float64
	for i, r := range parityReqs {
		prompt, err := m.Tokenize(r.Prompt, true, false)
		if err != nil {
			return 0, err
		}
		toks := toInts(append(prompt, res[i].Tokens...))
		want := ref.LogProbs(toks, len(prompt))
		got := res[i].Logprobs
		if len(got) != len(want) || len(got) < 8 {
			return 0, fmt.Errorf("%s: %d log-probs from llama.cpp, %d from the reference", r.ID, len(got), len(want))
		}
		for j := range got {
			worst = max(worst, math.Abs(got[j]-want[j]))
			spread = max(spread, math.Abs(want[j]-want[0]))
		}
	}
	// The log-probs must vary, or agreement would say little.
	if spread < 0.5 {
		return 0, fmt.Errorf("reference log-probs vary by only %.3g", spread)
	}
	return worst, nil
}

// TestCheckWarnings: the tiny checkpoints (real models' settings) convert without warnings; settings
// that llama.cpp fixes rather than reads get one each.
func TestCheckWarnings(t *testing.T) {
	for _, c := range []struct {
		arch, key string
		value     any
		want      string // "" for none
	}{
		{"mistral", "", nil, ""},
		{"mistral", "sliding_window", 4096, "sliding_window 4096 is not applied"},
		{"gemma2", "", nil, ""},
		{"gemma2", "query_pre_attn_scalar", 16, "llama.cpp scales queries by 1/sqrt(32)"},
		{"gemma2", "layer_types", []string{"full_attention", "sliding_attention"}, "llama.cpp makes layer 0 sliding"},
		{"gemma3", "", nil, ""},
		{"gemma3", "rope_local_base_freq", 20000, "rope_local_base_freq 20000: llama.cpp uses 10000"},
		{"gemma3", "layer_types", []string{"sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention", "full_attention"}, "llama.cpp makes layer 1 sliding"},
		{"qwen2", "", nil, ""},
		{"phi3", "", nil, ""},
	} {
		t.Run(c.arch+"/"+c.key, func(t *testing.T) {
			ck, err := hftest.WriteArch(t.TempDir(), c.arch, 1)
			if err != nil {
				t.Fatal(err)
			}
			if c.key != "" {
				ck.Config[c.key] = c.value
				writeJSON(t, filepath.Join(ck.Dir, "config.json"), ck.Config)
			}
			_, warnings, err := Check(ck.Dir)
			switch {
			case err != nil:
				t.Fatal(err)
			case c.want == "" && len(warnings) != 0:
				t.Errorf("warnings %q, want none", warnings)
			case c.want != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.want)):
				t.Errorf("warnings %q, want one with %q", warnings, c.want)
			}
		})
	}
}

// TestParityDetects checks that the parity test sees the features it claims to cover: with one of
// them removed from the reference, the log-probs differ by far more than the bound.
func TestParityDetects(t *testing.T) {
	for _, c := range []struct {
		arch, llamaArch, what string
		change                func(*hfref.Config)
	}{
		{"qwen2", "qwen2", "rope_theta 10000", func(c *hfref.Config) { c.RopeTheta = 10000 }},
		{"mistral", "llama", "rope over hidden/heads dimensions", func(c *hfref.Config) { c.PartialRotaryFactor = 0.5 }},
		{"phi3-partial", "phi3", "full rotary", func(c *hfref.Config) { c.PartialRotaryFactor = 1 }},
		{"gemma2", "gemma2", "no sliding window", func(c *hfref.Config) { c.SlidingWindow = 0 }},
		{"gemma2", "gemma2", "no attention soft-capping", func(c *hfref.Config) { c.AttnLogitSoftcapping = 0 }},
		{"gemma2", "gemma2", "no final soft-capping", func(c *hfref.Config) { c.FinalLogitSoftcapping = 0 }},
		{"gemma2", "gemma2", "query_pre_attn_scalar = hidden/heads", func(c *hfref.Config) { c.QueryPreAttnScalar = 16 }},
		{"gemma3", "gemma3", "no sliding window", func(c *hfref.Config) { c.SlidingWindow = 0 }},
		{"gemma3", "gemma3", "global rope base on local layers", func(c *hfref.Config) { c.RopeLocalBaseFreq = c.RopeTheta }},
		{"gemma3", "gemma3", "no rope scaling", func(c *hfref.Config) { c.RopeScaling = nil }},
	} {
		t.Run(c.arch+"/"+c.what, func(t *testing.T) {
			f32, ref := convertTiny(t, c.arch)
			ref.GELUF16 = true
			c.change(&ref.Cfg)
			d, err := parity(f32, ref, c.llamaArch)
			if err != nil {
				t.Fatal(err)
			}
			if d < 0.01 {
				t.Errorf("reference with %s: max |Δ log-prob| = %.3g, want > 0.01", c.what, d)
			}
		})
	}
}

// TestReferenceOnDirectGGUF checks hfref without the converter: on hftest's Llama checkpoint it
// agrees with llama.cpp running the GGUF file written directly from the same weights.
func TestReferenceOnDirectGGUF(t *testing.T) {
	m := makeTinyLlama(t)
	f32 := filepath.Join(t.TempDir(), "ref32.gguf")
	if err := hftest.ToF32(m.Ref, f32); err != nil {
		t.Fatal(err)
	}
	ref, err := hfref.Load(m.HFDir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := parity(f32, ref, "llama")
	if err != nil {
		t.Fatal(err)
	}
	if d > parityTol {
		t.Errorf("max |Δ log-prob| = %.3g, want ≤ %g", d, parityTol)
	}
}
