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
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// validateCase edits a valid set of options and wants an error containing want.
type validateCase[O any] struct {
	name string
	edit func(*O)
	want string
}

func checkValidate[O cli.Validator](t *testing.T, valid func() O, cases []validateCase[O]) {
	t.Helper()
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range cases {
		o := valid()
		tc.edit(&o)
		clitest.CheckErr(t, tc.name, o.Validate(), tc.want)
	}
}

func defaultCreate() CreateOptions {
	d := tinymodel.DefaultConfig()
	return CreateOptions{Output: "m.gguf", Vocab: d.VocabSize, Embd: d.NEmbd, Layers: d.NLayer, Heads: d.NHead,
		KVHeads: d.NHeadKV, FF: d.NFF, Ctx: d.ContextLength, Weights: "f16"}
}

func TestValidateCreate(t *testing.T) {
	checkValidate(t, defaultCreate, []validateCase[CreateOptions]{
		{"no output", func(o *CreateOptions) { o.Output = "" }, "no output: give -o MODEL.gguf"},
		{"arguments", func(o *CreateOptions) { o.Args = []string{"x.gguf"} }, "create takes no arguments"},
		{"vocab 0", func(o *CreateOptions) { o.Vocab = 0 }, "--vocab 0: want an integer in [258, 1048576]"},
		{"vocab negative", func(o *CreateOptions) { o.Vocab = -5 }, "--vocab -5: want an integer in [258, 1048576]"},
		{"vocab below the byte tokens", func(o *CreateOptions) { o.Vocab = 257 }, "--vocab 257"},
		{"chat vocab below the byte tokens", func(o *CreateOptions) { o.Vocab, o.Chat = 259, true }, "--vocab 259: want an integer in [260, 1048576]"},
		{"vocab huge", func(o *CreateOptions) { o.Vocab = 1 << 40 }, "--vocab 1099511627776"},
		{"embd 0", func(o *CreateOptions) { o.Embd = 0 }, "--embd 0: want an integer in [1, 65536]"},
		{"embd negative", func(o *CreateOptions) { o.Embd = -64 }, "--embd -64"},
		{"embd huge", func(o *CreateOptions) { o.Embd = 1 << 20 }, "--embd 1048576"},
		{"layers 0", func(o *CreateOptions) { o.Layers = 0 }, "--layers 0: want an integer in [1, 1024]"},
		{"layers huge", func(o *CreateOptions) { o.Layers = 5000 }, "--layers 5000"},
		{"heads 0", func(o *CreateOptions) { o.Heads = 0 }, "--heads 0: want an integer in [1, 64]"},
		{"heads above embd", func(o *CreateOptions) { o.Heads = 128 }, "--heads 128: want an integer in [1, 64]"},
		{"heads not dividing embd", func(o *CreateOptions) { o.Heads, o.KVHeads = 3, 0 }, "--heads 3: must divide --embd 64"},
		{"odd head size", func(o *CreateOptions) { o.Embd, o.Heads, o.KVHeads = 60, 4, 0 }, "--embd 60 / --heads 4 = 15: the head size must be even"},
		{"kv-heads negative", func(o *CreateOptions) { o.KVHeads = -1 }, "--kv-heads -1: want an integer in [0, 4]"},
		{"kv-heads above heads", func(o *CreateOptions) { o.KVHeads = 8 }, "--kv-heads 8"},
		{"kv-heads not dividing heads", func(o *CreateOptions) { o.KVHeads = 3 }, "--kv-heads 3: must divide --heads 4"},
		{"ff 0", func(o *CreateOptions) { o.FF = 0 }, "--ff 0: want an integer in [1, 262144]"},
		{"ctx 0", func(o *CreateOptions) { o.Ctx = 0 }, "--ctx 0: want an integer in [1, 16777216]"},
		{"ctx negative", func(o *CreateOptions) { o.Ctx = -1 }, "--ctx -1"},
		{"weights", func(o *CreateOptions) { o.Weights = "q4" }, `--weights "q4": want f32, f16 or bf16`},
		{"too many parameters", func(o *CreateOptions) { o.Embd, o.FF, o.Layers, o.Heads, o.KVHeads = 8192, 32768, 1024, 64, 0 }, "parameters, more than 4294967296"},
		{"output is the corpus", func(o *CreateOptions) { o.Corpus = "m.gguf" }, "-o m.gguf is also an input (--corpus)"},
	})
	o := defaultCreate()
	o.Weights, o.Chat, o.Vocab, o.KVHeads = "BF16", true, 260, 0
	if err := o.Validate(); err != nil {
		t.Errorf("BF16, chat, vocab 260, kv-heads 0: %v", err)
	}
}

func TestValidateQuantize(t *testing.T) {
	valid := func() QuantizeOptions { return QuantizeOptions{Type: "q8_0", Args: []string{"in.gguf", "out.gguf"}} }
	checkValidate(t, valid, []validateCase[QuantizeOptions]{
		{"one argument", func(o *QuantizeOptions) { o.Args = o.Args[:1] }, "want IN.gguf OUT.gguf"},
		{"unknown type", func(o *QuantizeOptions) { o.Type = "Q9" }, `--type "Q9": want one of F16, Q8_0`},
		{"threads negative", func(o *QuantizeOptions) { o.Threads = -2 }, "--threads -2: want an integer in [0, 1024]"},
		{"output is the input", func(o *QuantizeOptions) { o.Args[1] = "./in.gguf" }, "OUT.gguf ./in.gguf is also an input (IN.gguf)"},
	})
}

func TestValidateScore(t *testing.T) {
	valid := func() ScoreOptions {
		return ScoreOptions{Model: "gguf:m.gguf?threads=1&system=sys.txt", Output: "s.parquet", Batch: 32, Inputs: []string{"g.parquet"}}
	}
	checkValidate(t, valid, []validateCase[ScoreOptions]{
		{"no model", func(o *ScoreOptions) { o.Model = "" }, "no model: give --model REF"},
		{"no output", func(o *ScoreOptions) { o.Output = "" }, "no output: give -o PATH (or -o - for stdout)"},
		{"no input", func(o *ScoreOptions) { o.Inputs = nil }, "want one GENERATIONS table"},
		{"two inputs", func(o *ScoreOptions) { o.Inputs = []string{"g.parquet", "h.parquet"} }, "want one GENERATIONS table"},
		{"batch 0", func(o *ScoreOptions) { o.Batch = 0 }, "--batch 0: want an integer in [1, 65536]"},
		{"batch negative", func(o *ScoreOptions) { o.Batch = -3 }, "--batch -3"},
		{"batch huge", func(o *ScoreOptions) { o.Batch = 1 << 40 }, "--batch 1099511627776"},
		{"output is the input", func(o *ScoreOptions) { o.Output = "g.parquet" }, "-o g.parquet is also an input (GENERATIONS)"},
		{"output is the model", func(o *ScoreOptions) { o.Output = "m.gguf" }, "-o m.gguf is also an input (--model)"},
		{"output is the system prompt", func(o *ScoreOptions) { o.Output = "sys.txt" }, "-o sys.txt is also an input (--model)"},
		{"output is the adapter", func(o *ScoreOptions) { o.Model, o.Output = "gguf:m.gguf?lora=a.gguf", "./a.gguf" }, "-o ./a.gguf is also an input (--model)"},
		{"unknown scheme", func(o *ScoreOptions) { o.Model = "nonsense:x" }, `--model: model reference "nonsense:x": unknown scheme "nonsense"`},
		{"bad option", func(o *ScoreOptions) { o.Model = "gguf:m.gguf?colour=red" }, `--model: model reference "gguf:m.gguf?colour=red": unknown option "colour"`},
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
	checkValidate(t, valid, []validateCase[ConvertOptions]{
		{"no directory", func(o *ConvertOptions) { o.Dirs = nil }, "want one HF_DIR"},
		{"no output", func(o *ConvertOptions) { o.Output = "" }, "no output: give -o MODEL.gguf"},
		{"output is the directory", func(o *ConvertOptions) { o.Output = hf + "/" }, "is also an input (HF_DIR)"},
		{"output is the weights", func(o *ConvertOptions) { o.Output = filepath.Join(hf, "model.safetensors") }, "model.safetensors is also an input (HF_DIR)"},
		{"output is the tokenizer", func(o *ConvertOptions) { o.Output = filepath.Join(hf, "tokenizer.json") }, "tokenizer.json is also an input (HF_DIR)"},
	})
}

func TestValidateDiff(t *testing.T) {
	valid := func() DiffOptions {
		return DiffOptions{Top: 8, Limit: 30, ExactMax: 1024, Sketch: 64, PowerIters: 2, Seed: 1, Models: []string{"a.gguf", "b.gguf"}}
	}
	checkValidate(t, valid, []validateCase[DiffOptions]{
		{"one model", func(o *DiffOptions) { o.Models = o.Models[:1] }, "want A.gguf B.gguf"},
		{"top 0", func(o *DiffOptions) { o.Top = 0 }, "--top 0: want at least 1"},
		{"sketch below top", func(o *DiffOptions) { o.Top, o.Sketch = 9, 8 }, "--sketch 8: want at least --top (9)"},
		{"exact-max negative", func(o *DiffOptions) { o.ExactMax = -1 }, "--exact-max -1: want at least 0"},
		{"power-iters negative", func(o *DiffOptions) { o.PowerIters = -1 }, "--power-iters -1: want an integer in [0, 100]"},
		{"power-iters huge", func(o *DiffOptions) { o.PowerIters = 1e9 }, "--power-iters 1000000000"},
		{"limit negative", func(o *DiffOptions) { o.Limit = -1 }, "--limit -1: want at least 0"},
		{"stdout twice", func(o *DiffOptions) { o.Output, o.JSON = "-", true }, "-o - and --json both want stdout"},
		{"bad regexp", func(o *DiffOptions) { o.Tensors = "(" }, "--tensors: error parsing regexp"},
		{"output is A", func(o *DiffOptions) { o.Output = "a.gguf" }, "-o a.gguf is also an input (A.gguf)"},
		{"output is B", func(o *DiffOptions) { o.Output = "b.gguf" }, "-o b.gguf is also an input (B.gguf)"},
		{"output is the model compared with itself", func(o *DiffOptions) { o.Models[1], o.Output = "a.gguf", "a.gguf" }, "-o a.gguf is also an input"},
	})
	o := valid()
	o.Models[1], o.Output = "./a.gguf", "d.parquet"
	if err := o.Validate(); err != nil {
		t.Errorf("a model compared with itself: %v", err)
	}
}

func TestValidateInfo(t *testing.T) {
	checkValidate(t, func() InfoOptions { return InfoOptions{Args: []string{"m.gguf"}} }, []validateCase[InfoOptions]{
		{"no model", func(o *InfoOptions) { o.Args = nil }, "want one MODEL.gguf"},
		{"two models", func(o *InfoOptions) { o.Args = []string{"a", "b"} }, "want one MODEL.gguf"},
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
	w, err := table.Create[schema.Generation](filepath.Join(dir, "g.parquet"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(schema.Generation{ID: "g1", Model: "A", PromptID: "p1", Split: schema.SplitDiscovery, Prompt: "Hi", Completion: "Hello there."},
		schema.Generation{ID: "g2", Model: "A", PromptID: "p2", Split: schema.SplitDiscovery, Prompt: "Bye", Completion: "Goodbye."})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
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
		rc, _, stderr := clitest.Run(t, Main, dir, tc.args...)
		if rc != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, rc, stderr)
		}
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
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--vocab", "0", "-o", "x.gguf"}, "--vocab 0: want an integer in [258, 1048576]"},
		{[]string{"create", "--heads", "3", "-o", "x.gguf"}, "--heads 3: must divide --embd 64"},
		{[]string{"create", "--corpus", "empty.txt", "-o", "x.gguf"}, "--corpus empty.txt: no text"},
		{[]string{"create", "--corpus", "missing.txt", "-o", "x.gguf"}, "missing.txt"},
		{[]string{"create", "--corpus", "notes.txt", "-o", "notes.txt"}, "-o notes.txt is also an input (--corpus)"},
		{[]string{"info", "notes.txt"}, "notes.txt: not a GGUF file"},
		{[]string{"info", "fake.gguf"}, "fake.gguf"},
		{[]string{"info", "missing.gguf"}, "missing.gguf: no such file"},
		{[]string{"quantize", "notes.txt", "x.gguf"}, "notes.txt: not a GGUF file"},
		{[]string{"quantize", "fake.gguf", "x.gguf"}, "fake.gguf"},
		{[]string{"quantize", "tiny.gguf", "tiny.gguf"}, "OUT.gguf tiny.gguf is also an input (IN.gguf)"},
		{[]string{"quantize", "--type", "Q9", "tiny.gguf", "x.gguf"}, `--type "Q9": want one of F16, Q8_0`},
		{[]string{"score", "--model", "gguf:notes.txt", "g.parquet", "-o", "x.parquet"}, "notes.txt: not a GGUF file"},
		{[]string{"score", "--model", "gguf:fake.gguf", "g.parquet", "-o", "x.parquet"}, "fake.gguf"},
		{[]string{"score", "--model", "nonsense", "g.parquet", "-o", "x.parquet"}, `model reference "nonsense"`},
		{[]string{"score", "--model", "gguf:tiny.gguf", "notes.txt", "-o", "x.parquet"}, "notes.txt"},
		{[]string{"score", "--model", "gguf:tiny.gguf", "g.parquet", "-o", "g.parquet"}, "-o g.parquet is also an input (GENERATIONS)"},
		{[]string{"score", "--batch", "0", "--model", "gguf:tiny.gguf", "g.parquet", "-o", "x.parquet"}, "--batch 0: want an integer in [1, 65536]"},
		{[]string{"convert", "notes.txt", "-o", "x.gguf"}, "not a directory"},
		{[]string{"convert", ".", "-o", "x.gguf"}, "no config.json"},
		{[]string{"diff", "-o", "x.parquet", "tiny.gguf", "notes.txt"}, "notes.txt: not a GGUF file"},
		{[]string{"diff", "-o", "x.parquet", "missing.gguf", "tiny.gguf"}, "missing.gguf: no such file"},
		{[]string{"diff", "-o", "x.parquet", "fake.gguf", "tiny.gguf"}, "fake.gguf"},
		{[]string{"diff", "-o", "x.parquet", "tiny.gguf"}, "want A.gguf B.gguf"},
		{[]string{"diff", "-o", "x.parquet", "--tensors", "(", "tiny.gguf", "tiny.gguf"}, "--tensors"},
		{[]string{"diff", "-o", "x.parquet", "--tensors", "zzz", "tiny.gguf", "tiny.gguf"}, `no tensor matches --tensors "zzz"`},
		{[]string{"diff", "-o", "x.parquet", "--top", "9", "--sketch", "8", "tiny.gguf", "tiny.gguf"}, "--sketch 8: want at least --top (9)"},
		{[]string{"diff", "-o", "tiny.gguf", "tiny.gguf", "tiny.gguf"}, "-o tiny.gguf is also an input (A.gguf)"},
		{[]string{"diff", "--power-iters", "-1", "tiny.gguf", "tiny.gguf"}, "--power-iters -1"},
	} {
		rc, _, stderr := clitest.Run(t, Main, dir, tc.args...)
		clitest.UsageError(t, tc.args, rc, stderr, tc.want)
		clitest.Absent(t, tc.args, dir, "x.gguf", "x.parquet")
	}
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
	if rc, _, stderr := clitest.Run(t, Main, dir, "quantize", "tiny.gguf", os.DevNull); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
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
