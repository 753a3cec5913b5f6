package modelcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

func defaultCreate() CreateOptions {
	d := tinymodel.DefaultConfig()
	return CreateOptions{Output: "m.gguf", Vocab: d.VocabSize, Embd: d.NEmbd, Layers: d.NLayer, Heads: d.NHead,
		KVHeads: d.NHeadKV, FF: d.NFF, Ctx: d.ContextLength, Weights: "f16"}
}

func TestValidateCreate(t *testing.T) {
	clitest.Validate(t, defaultCreate, []clitest.Case[CreateOptions]{
		{Name: "no output", Edit: func(o *CreateOptions) { o.Output = "" }, Want: "no output: give -o MODEL.gguf"},
		{Name: "arguments", Edit: func(o *CreateOptions) { o.Args = []string{"x.gguf"} }, Want: "create takes no arguments"},
		{Name: "vocab 0", Edit: func(o *CreateOptions) { o.Vocab = 0 }, Want: "--vocab 0: want an integer in [258, 1048576]"},
		{Name: "vocab negative", Edit: func(o *CreateOptions) { o.Vocab = -5 }, Want: "--vocab -5: want an integer in [258, 1048576]"},
		{Name: "vocab below the byte tokens", Edit: func(o *CreateOptions) { o.Vocab = 257 }, Want: "--vocab 257"},
		{Name: "chat vocab below the byte tokens", Edit: func(o *CreateOptions) { o.Vocab, o.Chat = 259, true }, Want: "--vocab 259: want an integer in [260, 1048576]"},
		{Name: "vocab huge", Edit: func(o *CreateOptions) { o.Vocab = 1 << 40 }, Want: "--vocab 1099511627776"},
		{Name: "embd 0", Edit: func(o *CreateOptions) { o.Embd = 0 }, Want: "--embd 0: want an integer in [1, 65536]"},
		{Name: "embd negative", Edit: func(o *CreateOptions) { o.Embd = -64 }, Want: "--embd -64"},
		{Name: "embd huge", Edit: func(o *CreateOptions) { o.Embd = 1 << 20 }, Want: "--embd 1048576"},
		{Name: "layers 0", Edit: func(o *CreateOptions) { o.Layers = 0 }, Want: "--layers 0: want an integer in [1, 1024]"},
		{Name: "layers huge", Edit: func(o *CreateOptions) { o.Layers = 5000 }, Want: "--layers 5000"},
		{Name: "heads 0", Edit: func(o *CreateOptions) { o.Heads = 0 }, Want: "--heads 0: want an integer in [1, 64]"},
		{Name: "heads above embd", Edit: func(o *CreateOptions) { o.Heads = 128 }, Want: "--heads 128: want an integer in [1, 64]"},
		{Name: "heads not dividing embd", Edit: func(o *CreateOptions) { o.Heads, o.KVHeads = 3, 0 }, Want: "--heads 3: must divide --embd 64"},
		{Name: "odd head size", Edit: func(o *CreateOptions) { o.Embd, o.Heads, o.KVHeads = 60, 4, 0 }, Want: "--embd 60 / --heads 4 = 15: the head size must be even"},
		{Name: "kv-heads negative", Edit: func(o *CreateOptions) { o.KVHeads = -1 }, Want: "--kv-heads -1: want an integer in [0, 4]"},
		{Name: "kv-heads above heads", Edit: func(o *CreateOptions) { o.KVHeads = 8 }, Want: "--kv-heads 8"},
		{Name: "kv-heads not dividing heads", Edit: func(o *CreateOptions) { o.KVHeads = 3 }, Want: "--kv-heads 3: must divide --heads 4"},
		{Name: "ff 0", Edit: func(o *CreateOptions) { o.FF = 0 }, Want: "--ff 0: want an integer in [1, 262144]"},
		{Name: "ctx 0", Edit: func(o *CreateOptions) { o.Ctx = 0 }, Want: "--ctx 0: want an integer in [1, 16777216]"},
		{Name: "ctx negative", Edit: func(o *CreateOptions) { o.Ctx = -1 }, Want: "--ctx -1"},
		{Name: "weights", Edit: func(o *CreateOptions) { o.Weights = "q4" }, Want: `--weights "q4": want f32, f16 or bf16`},
		{Name: "too many parameters", Edit: func(o *CreateOptions) { o.Embd, o.FF, o.Layers, o.Heads, o.KVHeads = 8192, 32768, 1024, 64, 0 }, Want: "parameters, more than 4294967296"},
		{Name: "output is the corpus", Edit: func(o *CreateOptions) { o.Corpus = "m.gguf" }, Want: "-o m.gguf is also an input (--corpus)"},
	})
	o := defaultCreate()
	o.Weights, o.Chat, o.Vocab, o.KVHeads = "BF16", true, 260, 0
	if err := o.Validate(); err != nil {
		t.Errorf("BF16, chat, vocab 260, kv-heads 0: %v", err)
	}
}

func TestValidateQuantize(t *testing.T) {
	valid := func() QuantizeOptions { return QuantizeOptions{Type: "q8_0", Args: []string{"in.gguf", "out.gguf"}} }
	clitest.Validate(t, valid, []clitest.Case[QuantizeOptions]{
		{Name: "one argument", Edit: func(o *QuantizeOptions) { o.Args = o.Args[:1] }, Want: "want IN.gguf OUT.gguf"},
		{Name: "unknown type", Edit: func(o *QuantizeOptions) { o.Type = "Q9" }, Want: `--type "Q9": want one of F16, Q8_0`},
		{Name: "threads negative", Edit: func(o *QuantizeOptions) { o.Threads = -2 }, Want: "--threads -2: want an integer in [0, 1024]"},
		{Name: "output is the input", Edit: func(o *QuantizeOptions) { o.Args[1] = "./in.gguf" }, Want: "OUT.gguf ./in.gguf is also an input (IN.gguf)"},
	})
}

func TestValidateScore(t *testing.T) {
	valid := func() ScoreOptions {
		return ScoreOptions{Model: "gguf:m.gguf?threads=1&system=sys.txt", Output: "s.parquet", Batch: 32, Inputs: []string{"g.parquet"}}
	}
	clitest.Validate(t, valid, []clitest.Case[ScoreOptions]{
		{Name: "no model", Edit: func(o *ScoreOptions) { o.Model = "" }, Want: "no model: give --model REF"},
		{Name: "no output", Edit: func(o *ScoreOptions) { o.Output = "" }, Want: "no output: give -o PATH (or -o - for stdout)"},
		{Name: "no input", Edit: func(o *ScoreOptions) { o.Inputs = nil }, Want: "want one GENERATIONS table"},
		{Name: "two inputs", Edit: func(o *ScoreOptions) { o.Inputs = []string{"g.parquet", "h.parquet"} }, Want: "want one GENERATIONS table"},
		{Name: "batch 0", Edit: func(o *ScoreOptions) { o.Batch = 0 }, Want: "--batch 0: want an integer in [1, 65536]"},
		{Name: "batch negative", Edit: func(o *ScoreOptions) { o.Batch = -3 }, Want: "--batch -3"},
		{Name: "batch huge", Edit: func(o *ScoreOptions) { o.Batch = 1 << 40 }, Want: "--batch 1099511627776"},
		{Name: "output is the input", Edit: func(o *ScoreOptions) { o.Output = "g.parquet" }, Want: "-o g.parquet is also an input (GENERATIONS)"},
		{Name: "output is the model", Edit: func(o *ScoreOptions) { o.Output = "m.gguf" }, Want: "-o m.gguf is also an input (--model)"},
		{Name: "output is the system prompt", Edit: func(o *ScoreOptions) { o.Output = "sys.txt" }, Want: "-o sys.txt is also an input (--model)"},
		{Name: "output is the adapter", Edit: func(o *ScoreOptions) { o.Model, o.Output = "gguf:m.gguf?lora=a.gguf", "./a.gguf" }, Want: "-o ./a.gguf is also an input (--model)"},
		{Name: "unknown scheme", Edit: func(o *ScoreOptions) { o.Model = "nonsense:x" }, Want: `--model: model reference "nonsense:x": unknown scheme "nonsense"`},
		{Name: "bad option", Edit: func(o *ScoreOptions) { o.Model = "gguf:m.gguf?colour=red" }, Want: `--model: model reference "gguf:m.gguf?colour=red": unknown option "colour"`},
	})
}

func TestValidateConvert(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(dir, "hf")
	os.Mkdir(hf, 0o755)
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		os.WriteFile(filepath.Join(hf, f), []byte("{}"), 0o644)
	}
	valid := func() ConvertOptions {
		return ConvertOptions{Output: filepath.Join(hf, "model.gguf"), Dirs: []string{hf}}
	}
	clitest.Validate(t, valid, []clitest.Case[ConvertOptions]{
		{Name: "no directory", Edit: func(o *ConvertOptions) { o.Dirs = nil }, Want: "want one HF_DIR"},
		{Name: "no output", Edit: func(o *ConvertOptions) { o.Output = "" }, Want: "no output: give -o MODEL.gguf"},
		{Name: "output is the directory", Edit: func(o *ConvertOptions) { o.Output = hf + "/" }, Want: "is also an input (HF_DIR)"},
		{Name: "output is the weights", Edit: func(o *ConvertOptions) { o.Output = filepath.Join(hf, "model.safetensors") }, Want: "model.safetensors is also an input (HF_DIR)"},
		{Name: "output is the tokenizer", Edit: func(o *ConvertOptions) { o.Output = filepath.Join(hf, "tokenizer.json") }, Want: "tokenizer.json is also an input (HF_DIR)"},
	})
}

func TestValidateDiff(t *testing.T) {
	valid := func() DiffOptions {
		return DiffOptions{Top: 8, Limit: 30, ExactMax: 1024, Sketch: 64, PowerIters: 2, Seed: 1, Models: []string{"a.gguf", "b.gguf"}}
	}
	clitest.Validate(t, valid, []clitest.Case[DiffOptions]{
		{Name: "one model", Edit: func(o *DiffOptions) { o.Models = o.Models[:1] }, Want: "want A.gguf B.gguf"},
		{Name: "top 0", Edit: func(o *DiffOptions) { o.Top = 0 }, Want: "--top 0: want at least 1"},
		{Name: "sketch below top", Edit: func(o *DiffOptions) { o.Top, o.Sketch = 9, 8 }, Want: "--sketch 8: want at least --top (9)"},
		{Name: "exact-max negative", Edit: func(o *DiffOptions) { o.ExactMax = -1 }, Want: "--exact-max -1: want at least 0"},
		{Name: "power-iters negative", Edit: func(o *DiffOptions) { o.PowerIters = -1 }, Want: "--power-iters -1: want an integer in [0, 100]"},
		{Name: "power-iters huge", Edit: func(o *DiffOptions) { o.PowerIters = 1e9 }, Want: "--power-iters 1000000000"},
		{Name: "limit negative", Edit: func(o *DiffOptions) { o.Limit = -1 }, Want: "--limit -1: want at least 0"},
		{Name: "stdout twice", Edit: func(o *DiffOptions) { o.Output, o.JSON = "-", true }, Want: "-o - and --json both want stdout"},
		{Name: "bad regexp", Edit: func(o *DiffOptions) { o.Tensors = "(" }, Want: "--tensors: error parsing regexp"},
		{Name: "output is A", Edit: func(o *DiffOptions) { o.Output = "a.gguf" }, Want: "-o a.gguf is also an input (A.gguf)"},
		{Name: "output is B", Edit: func(o *DiffOptions) { o.Output = "b.gguf" }, Want: "-o b.gguf is also an input (B.gguf)"},
		{Name: "output is the model compared with itself", Edit: func(o *DiffOptions) { o.Models[1], o.Output = "a.gguf", "a.gguf" }, Want: "-o a.gguf is also an input"},
	})
	o := valid()
	o.Models[1], o.Output = "./a.gguf", "d.parquet"
	if err := o.Validate(); err != nil {
		t.Errorf("a model compared with itself: %v", err)
	}
}

func TestValidateInfo(t *testing.T) {
	clitest.Validate(t, func() InfoOptions { return InfoOptions{Args: []string{"m.gguf"}} }, []clitest.Case[InfoOptions]{
		{Name: "no model", Edit: func(o *InfoOptions) { o.Args = nil }, Want: "want one MODEL.gguf"},
		{Name: "two models", Edit: func(o *InfoOptions) { o.Args = []string{"a", "b"} }, Want: "want one MODEL.gguf"},
	})
}

// fixture makes a tiny model, a text file and a generations table in a new folder.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := tinymodel.TrainAndCreate(filepath.Join(dir, "tiny.gguf"), "", tinymodel.DefaultConfig(), 1); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(strings.Repeat("The otter swims in the river. ", 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	clitest.Write(t, filepath.Join(dir, "g.parquet"),
		schema.Generation{ID: "g1", Model: "A", PromptID: "p1", Split: schema.SplitDiscovery, Prompt: "Hi", Completion: "Hello there."},
		schema.Generation{ID: "g2", Model: "A", PromptID: "p2", Split: schema.SplitDiscovery, Prompt: "Bye", Completion: "Goodbye."})
	return dir
}

// TestManifestInputs runs the subcommands that write manifests and checks that each records every
// input with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := fixture(t)
	for _, tc := range []struct {
		args   []string
		out    string
		inputs []string
	}{
		{[]string{"create", "--corpus", "notes.txt", "--vocab", "300", "-o", "c.gguf"}, "c.gguf", []string{"notes.txt"}},
		{[]string{"create", "-o", "d.gguf"}, "d.gguf", nil},
		{[]string{"quantize", "--threads", "1", "tiny.gguf", "q.gguf"}, "q.gguf", []string{"tiny.gguf"}},
		{[]string{"diff", "-o", "same.parquet", "tiny.gguf", "tiny.gguf"}, "same.parquet", []string{"tiny.gguf", "tiny.gguf"}},
		{[]string{"diff", "-o", "w.parquet", "tiny.gguf", "q.gguf"}, "w.parquet", []string{"tiny.gguf", "q.gguf"}},
		{[]string{"score", "--model", "gguf:tiny.gguf?threads=1", "g.parquet", "-o", "s.parquet"}, "s.parquet", []string{"g.parquet", "tiny.gguf"}},
	} {
		clitest.OK(t, Main, dir, tc.args...)
		clitest.Inputs(t, tc.out+".json", dir, tc.inputs...)
	}
	m, _ := manifest.Read(filepath.Join(dir, "s.parquet.json"))
	if m.Inputs[0].Table != schema.Generations.ID() || m.Inputs[0].Rows != 2 {
		t.Errorf("score's table input: %+v", m.Inputs[0])
	}
}

// TestExitCodes checks that bad input ends with status 2 and one line naming the problem, and
// that nothing is written.
func TestExitCodes(t *testing.T) {
	dir := fixture(t)
	os.WriteFile(filepath.Join(dir, "fake.gguf"), []byte("GGUF\x03\x00\x00\x00garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644)
	clitest.Refuses(t, Main, dir, nil, []string{"x.gguf", "x.parquet"}, []clitest.Refusal{
		{Args: []string{"create", "--vocab", "0", "-o", "x.gguf"}, Want: "--vocab 0: want an integer in [258, 1048576]"},
		{Args: []string{"create", "--heads", "3", "-o", "x.gguf"}, Want: "--heads 3: must divide --embd 64"},
		{Args: []string{"create", "--corpus", "empty.txt", "-o", "x.gguf"}, Want: "--corpus empty.txt: no text"},
		{Args: []string{"create", "--corpus", "missing.txt", "-o", "x.gguf"}, Want: "missing.txt"},
		{Args: []string{"create", "--corpus", "notes.txt", "-o", "notes.txt"}, Want: "-o notes.txt is also an input (--corpus)"},
		{Args: []string{"info", "notes.txt"}, Want: "notes.txt: not a GGUF file"},
		{Args: []string{"info", "fake.gguf"}, Want: "fake.gguf"},
		{Args: []string{"info", "missing.gguf"}, Want: "missing.gguf: no such file"},
		{Args: []string{"quantize", "notes.txt", "x.gguf"}, Want: "notes.txt: not a GGUF file"},
		{Args: []string{"quantize", "fake.gguf", "x.gguf"}, Want: "fake.gguf"},
		{Args: []string{"quantize", "tiny.gguf", "tiny.gguf"}, Want: "OUT.gguf tiny.gguf is also an input (IN.gguf)"},
		{Args: []string{"quantize", "--type", "Q9", "tiny.gguf", "x.gguf"}, Want: `--type "Q9": want one of F16, Q8_0`},
		{Args: []string{"score", "--model", "gguf:notes.txt", "g.parquet", "-o", "x.parquet"}, Want: "notes.txt: not a GGUF file"},
		{Args: []string{"score", "--model", "gguf:fake.gguf", "g.parquet", "-o", "x.parquet"}, Want: "fake.gguf"},
		{Args: []string{"score", "--model", "nonsense", "g.parquet", "-o", "x.parquet"}, Want: `model reference "nonsense"`},
		{Args: []string{"score", "--model", "gguf:tiny.gguf", "notes.txt", "-o", "x.parquet"}, Want: "notes.txt"},
		{Args: []string{"score", "--model", "gguf:tiny.gguf", "g.parquet", "-o", "g.parquet"}, Want: "-o g.parquet is also an input (GENERATIONS)"},
		{Args: []string{"score", "--batch", "0", "--model", "gguf:tiny.gguf", "g.parquet", "-o", "x.parquet"}, Want: "--batch 0: want an integer in [1, 65536]"},
		{Args: []string{"convert", "notes.txt", "-o", "x.gguf"}, Want: "not a directory"},
		{Args: []string{"convert", ".", "-o", "x.gguf"}, Want: "no config.json"},
		{Args: []string{"diff", "-o", "x.parquet", "tiny.gguf", "notes.txt"}, Want: "notes.txt: not a GGUF file"},
		{Args: []string{"diff", "-o", "x.parquet", "missing.gguf", "tiny.gguf"}, Want: "missing.gguf: no such file"},
		{Args: []string{"diff", "-o", "x.parquet", "fake.gguf", "tiny.gguf"}, Want: "fake.gguf"},
		{Args: []string{"diff", "-o", "x.parquet", "tiny.gguf"}, Want: "want A.gguf B.gguf"},
		{Args: []string{"diff", "-o", "x.parquet", "--tensors", "(", "tiny.gguf", "tiny.gguf"}, Want: "--tensors"},
		{Args: []string{"diff", "-o", "x.parquet", "--tensors", "zzz", "tiny.gguf", "tiny.gguf"}, Want: `no tensor matches --tensors "zzz"`},
		{Args: []string{"diff", "-o", "x.parquet", "--top", "9", "--sketch", "8", "tiny.gguf", "tiny.gguf"}, Want: "--sketch 8: want at least --top (9)"},
		{Args: []string{"diff", "-o", "tiny.gguf", "tiny.gguf", "tiny.gguf"}, Want: "-o tiny.gguf is also an input (A.gguf)"},
		{Args: []string{"diff", "--power-iters", "-1", "tiny.gguf", "tiny.gguf"}, Want: "--power-iters -1"},
	})
	if rc, _, stderr := clitest.Run(t, Main, dir, "diff", "tiny.gguf", "tiny.gguf"); rc != 0 || stderr == "" {
		t.Errorf("a model against itself: exit %d: %s", rc, stderr)
	}
}

// TestQuantizeToDevice writes through /dev/null rather than replacing it.
func TestQuantizeToDevice(t *testing.T) {
	st, err := os.Stat(os.DevNull)
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Skip("no /dev/null device")
	}
	dir := fixture(t)
	clitest.OK(t, Main, dir, "quantize", "tiny.gguf", os.DevNull)
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("left files: %v", ents)
	}
}

// TestIntegerFlagsRefuseNaN: mbd-model has only integer flags; NaN is refused when they are parsed.
func TestIntegerFlagsRefuseNaN(t *testing.T) {
	rc, _, stderr := clitest.Run(t, Main, t.TempDir(), "create", "--vocab", "NaN", "-o", "x.gguf")
	if rc != cli.ExitUsage || !strings.Contains(stderr, "NaN") {
		t.Errorf("exit %d: %s", rc, stderr)
	}
}
