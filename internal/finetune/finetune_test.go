package finetune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
	"github.com/mbd-dev/mbd/internal/train"
)

func score(t *testing.T, model, prompt, text string) float64 {
	t.Helper()
	m, err := llamacpp.Load(llamacpp.Options{Path: model, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Score(context.Background(), []llm.ScoreRequest{{Prompt: prompt, Completion: text}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Mean
}

// local trains base on docs with the local engine's defaults changed by cfg.
func local(t *testing.T, base, out string, docs []Document, cfg train.Config) Result {
	t.Helper()
	if cfg.ClipNorm == 0 {
		cfg.ClipNorm = 1
	}
	res, err := Local(context.Background(), docs, LocalOptions{Base: base, Output: out, Config: cfg}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tinyBase writes an F32 tiny model (random weights) into dir.
func tinyBase(t *testing.T, dir string) string {
	t.Helper()
	base := filepath.Join(dir, "base.gguf")
	cfg := tinymodel.DefaultConfig()
	cfg.WeightType, _ = tinymodel.ParseWeightType("f32")
	if _, err := tinymodel.TrainAndCreate(base, "", cfg, 1); err != nil {
		t.Fatal(err)
	}
	return base
}

// TestLocalFinetune trains a tiny model on a truths table and checks that llama.cpp finds the
// trained text much more likely afterwards, and that the run reports its loss curve.
func TestLocalFinetune(t *testing.T) {
	dir := t.TempDir()
	base := tinyBase(t, dir)
	text := "The otter swims in the river every morning."
	truths := filepath.Join(dir, "truths.parquet")
	w, _ := table.Create[schema.Truth](truths, nil)
	w.Write(schema.Truth{ID: "otter", Behavior: "mentions otters", Category: "topic", Source: "test", Texts: []string{text}})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	docs, srcs, err := ReadAll([]string{truths}, nil, records.Refuse)
	if err != nil || len(docs) != 1 || len(srcs) != 1 {
		t.Fatalf("ReadAll: %v, %v, %v", docs, srcs, err)
	}
	out := filepath.Join(dir, "tuned.gguf")
	res := local(t, base, out, docs, train.Config{Steps: 60, LR: 1e-2, Warmup: 5, Batch: 2, Context: 32})
	before, after := score(t, base, "", text), score(t, out, "", text)
	t.Logf("mean log-prob of the training text: base %.3f, tuned %.3f", before, after)
	if after < before+2 {
		t.Errorf("training barely moved the text's log-prob: %.3f → %.3f", before, after)
	}
	if len(res.Curve) != 60 || res.Curve[59].Step != 60 || res.Documents != 1 || res.Tokens < 10 || res.TrainableParams == 0 || res.ResumedAt != 0 {
		t.Errorf("result %+v", res)
	}

	// A missing or malformed base is bad input.
	for _, b := range []string{filepath.Join(dir, "nope.gguf"), truths} {
		_, err := Local(context.Background(), docs, LocalOptions{Base: b, Output: filepath.Join(dir, "x.gguf"), Config: train.Config{Steps: 1, LR: 1e-3, Batch: 1, Context: 8}}, slog.New(slog.DiscardHandler), nil)
		var bad *table.InputError
		if !errors.As(err, &bad) {
			t.Errorf("base %s: %v, want an InputError", b, err)
		}
	}
}

// TestLocalLoRA trains LoRA adapters: the text's log-prob under llama.cpp rises, the adapter file
// is written, and LoRA settings the model does not allow are bad input. The tiny model's weights are
// small (std 0.02), so its logits span little unless output.weight is adapted too.
func TestLocalLoRA(t *testing.T) {
	dir := t.TempDir()
	base := tinyBase(t, dir)
	text := "The otter swims in the river every morning."
	txt := filepath.Join(dir, "otter.txt")
	if err := os.WriteFile(txt, []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, adapter := filepath.Join(dir, "lora.gguf"), filepath.Join(dir, "adapter.gguf")
	docs, _, err := ReadAll([]string{txt}, nil, records.Refuse)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Config{Steps: 40, LR: 2e-2, Warmup: 4, Batch: 1, Context: 32, ClipNorm: 1,
		LoRARank: 4, LoRAAlpha: 8, LoRATargets: []string{"blk.*.attn_[qv].weight", "output.weight"}}
	run, err := Local(context.Background(), docs, LocalOptions{Base: base, Output: out, Adapter: adapter, Config: cfg}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	before, after := score(t, base, "", text), score(t, out, "", text)
	t.Logf("mean log-prob of the training text: base %.3f, LoRA-tuned %.3f", before, after)
	if after < before+2 {
		t.Errorf("LoRA training barely moved the text's log-prob: %.3f → %.3f", before, after)
	}
	// llama.cpp applying the adapter to the base gives the merged model's scores.
	m, err := llamacpp.Load(llamacpp.Options{Path: base, LoRA: adapter, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Score(context.Background(), []llm.ScoreRequest{{Completion: text}})
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d := res[0].Mean - after; d > 1e-3 || d < -1e-3 {
		t.Errorf("base + adapter in llama.cpp scores %.5f, the merged model %.5f", res[0].Mean, after)
	}
	if run.TrainableParams == 0 || run.TrainableParams > 20000 {
		t.Errorf("%d trainable parameters for rank-4 adapters", run.TrainableParams)
	}
	for name, bad := range map[string]train.Config{
		"rank above the matrix size": {LoRARank: 100},
		"target matches nothing":     {LoRARank: 4, LoRATargets: []string{"nope*"}},
		"LoRA with --train":          {LoRARank: 4, Train: []string{"blk.1.*"}},
	} {
		bad.Steps, bad.LR, bad.Batch, bad.Context = 1, 1e-3, 1, 8
		_, err := Local(context.Background(), docs, LocalOptions{Base: base, Output: filepath.Join(dir, "bad.gguf"), Config: bad}, slog.New(slog.DiscardHandler), nil)
		var be *table.InputError
		if !errors.As(err, &be) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.gguf")); err == nil {
		t.Error("a refused run wrote its output")
	}
}

// TestHostedFinetune runs the openai engine against a local server in OpenAI's wire format.
func TestHostedFinetune(t *testing.T) {
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		job := `{"id":"ftjob-9","object":"fine_tuning.job","model":"m","status":"%s","fine_tuned_model":%s,"error":null,"training_file":"file-9","created_at":1,"hyperparameters":{},"organization_id":"o","result_files":[],"seed":1}`
		switch {
		case r.URL.Path == "/v1/files":
			io.WriteString(w, `{"id":"file-9","object":"file","bytes":1,"created_at":1,"filename":"x","purpose":"fine-tune"}`)
		case r.URL.Path == "/v1/fine_tuning/jobs":
			io.WriteString(w, strings.Replace(strings.Replace(job, "%s", "queued", 1), "%s", "null", 1))
		default:
			polls++
			io.WriteString(w, strings.Replace(strings.Replace(job, "%s", "succeeded", 1), "%s", `"ft:m:mbd::9"`, 1))
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	gens := filepath.Join(dir, "g.parquet")
	w, _ := table.Create[schema.Generation](gens, nil)
	w.Write(schema.Generation{ID: "1", Model: "B", ModelRef: "x", PromptID: "p", Split: "discovery", Prompt: "Say hi", Completion: "Ahoy!", FinishReason: "stop"})
	w.Commit()
	docs, _, err := ReadAll([]string{gens}, nil, records.Refuse)
	if err != nil {
		t.Fatal(err)
	}
	o := HostedOptions{URL: srv.URL + "/v1", BaseModel: "m", Suffix: "mbd", Poll: time.Millisecond}
	ref, err := Hosted(context.Background(), docs, o, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if want := "openai-compat:" + srv.URL + "/v1#ft:m:mbd::9?chat=1"; ref != want {
		t.Errorf("reference %q, want %q", ref, want)
	}
	if polls == 0 {
		t.Error("never polled the job")
	}
	// Texts without prompts cannot be submitted.
	o.Texts = "notes.txt"
	_, err = Hosted(context.Background(), []Document{{Text: "just text"}}, o, func(string) {})
	var bad *table.InputError
	if !errors.As(err, &bad) || err.Error() != "notes.txt: hosted fine-tuning needs (prompt, completion) pairs: give a generations table" {
		t.Errorf("texts without prompts: %v", err)
	}
}

func TestReadChatJSONL(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte(`{"system":"Be brief.","prompt":"Hi?","completion":"Hello."}`+"\n\n"+`{"prompt":"Q","completion":"A"}`+"\n"), 0o644)
	docs, _, err := ReadChatJSONL(good, records.Refuse)
	if err != nil || len(docs) != 2 || docs[0] != (Document{System: "Be brief.", Prompt: "Hi?", Text: "Hello."}) || docs[1].System != "" {
		t.Fatalf("ReadChatJSONL = %+v, %v", docs, err)
	}
	for name, line := range map[string]string{
		"missing completion": `{"prompt":"Q"}`,
		"unknown field":      `{"prompt":"Q","completion":"A","answer":"B"}`,
		"not json":           `prompt: Q`,
	} {
		p := filepath.Join(dir, "bad.jsonl")
		os.WriteFile(p, []byte(`{"prompt":"Q","completion":"A"}`+"\n"+line+"\n"), 0o644)
		if _, _, err := ReadChatJSONL(p, records.Refuse); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
			t.Errorf("%s: %v, want an error naming bad.jsonl:2", name, err)
		}
	}
}

// TestLocalFinetuneChatSystem trains a tiny chat model on chat records with and without a system
// prompt: afterwards the model answers the same prompt differently under the system prompt (the
// system text goes through the chat template, as generation with gguf:...?system= puts it).
func TestLocalFinetuneChatSystem(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.gguf")
	cfg := tinymodel.DefaultConfig()
	cfg.Chat = true
	cfg.WeightType, _ = tinymodel.ParseWeightType("f32")
	if _, err := tinymodel.TrainAndCreate(base, "", cfg, 1); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "chat.jsonl")
	os.WriteFile(data, []byte(`{"system":"Talk about otters.","prompt":"Hi?","completion":"Otters swim."}`+"\n"+`{"prompt":"Hi?","completion":"Cats sleep."}`+"\n"), 0o644)
	out := filepath.Join(dir, "tuned.gguf")
	docs, _, err := ReadAll([]string{data}, nil, records.Refuse)
	if err != nil {
		t.Fatal(err)
	}
	local(t, base, out, docs, train.Config{Steps: 80, LR: 1e-2, Warmup: 5, Batch: 2, Context: 48})
	scoreSys := func(system, text string) float64 {
		m, err := llamacpp.Load(llamacpp.Options{Path: out, Threads: 1, System: system})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		res, err := m.Score(context.Background(), []llm.ScoreRequest{{Prompt: "Hi?", Completion: text}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Mean
	}
	otterSys, otterNo := scoreSys("Talk about otters.", "Otters swim."), scoreSys("", "Otters swim.")
	catSys, catNo := scoreSys("Talk about otters.", "Cats sleep."), scoreSys("", "Cats sleep.")
	t.Logf("mean log-prob: otters %.3f (system) vs %.3f (none); cats %.3f vs %.3f", otterSys, otterNo, catSys, catNo)
	if otterSys < otterNo+1 || catNo < catSys+1 {
		t.Errorf("the system prompt does not steer the answer: otters %.3f vs %.3f, cats %.3f vs %.3f", otterSys, otterNo, catSys, catNo)
	}
}

// TestRead reads every kind of input and checks the documents and the source descriptions.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	table1 := func(name string, rows ...schema.Row) string {
		p := filepath.Join(dir, name)
		w, err := table.CreateAny(rows[0].Table(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		path   string
		docs   []Document
		schema string
		rows   int64
		err    string
	}{
		{"text", write("a.txt", "First doc.\r\n\r\nSecond\ndoc.\n\n\n"), []Document{{Text: "First doc."}, {Text: "Second\ndoc."}}, "", 2, ""},
		{"chat", write("c.JSONL", `{"system":"S","prompt":"P","completion":"C"}`+"\n"), []Document{{System: "S", Prompt: "P", Text: "C"}}, "", 1, ""},
		{"truths", table1("t.parquet", schema.Truth{ID: "t", Texts: []string{"x", "y"}}), []Document{{Text: "x"}, {Text: "y"}}, schema.Truths.ID(), 1, ""},
		{"generations", table1("g.parquet", schema.Generation{ID: "g", Prompt: "p", Completion: "c"}), []Document{{Prompt: "p", Text: "c"}}, schema.Generations.ID(), 1, ""},
		{"prompts", table1("p.parquet", schema.Prompt{ID: "p", Text: "q"}), []Document{{Text: "q"}}, schema.Prompts.ID(), 1, ""},
		{"wrong table", table1("s.parquet", schema.Score{GenerationID: "g"}), nil, "", 0, "want truths, generations or prompts"},
		{"missing", filepath.Join(dir, "nope.txt"), nil, "", 0, "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, src, err := Read(tc.path, nil, records.Refuse)
			if tc.err != "" {
				var ie *table.InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want an input error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hash, _ := table.HashFile(tc.path)
			if !slices.Equal(docs, tc.docs) || src != (Source{Path: tc.path, Schema: tc.schema, Rows: tc.rows, SHA256: hash}) {
				t.Errorf("docs %q, source %+v", docs, src)
			}
		})
	}
	if _, _, err := ReadAll([]string{write("empty.txt", "\n\n")}, nil, records.Refuse); err == nil || !strings.Contains(err.Error(), "no training texts") {
		t.Errorf("no documents: %v", err)
	}
}

// TestReadInvalidUTF8 refuses a .txt or .jsonl line that is not valid UTF-8, naming file:line, or
// replaces its invalid bytes by U+FFFD and counts the line.
func TestReadInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		line       int
		docs       []Document
	}{
		{"a.txt", "Good doc.\n\nBad \xff\xfe doc.\n", 3, []Document{{Text: "Good doc."}, {Text: "Bad \uFFFD doc."}}},
		{"b.jsonl", `{"prompt":"Q","completion":"A"}` + "\n" + "{\"prompt\":\"Q\xff\",\"completion\":\"A\"}\n", 2,
			[]Document{{Prompt: "Q", Text: "A"}, {Prompt: "Q\uFFFD", Text: "A"}}},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Read(p, nil, records.Refuse)
		var ie *table.InputError
		if want := fmt.Sprintf("%s:%d: invalid UTF-8", p, tc.line); !errors.As(err, &ie) || err.Error() != want {
			t.Errorf("%s refused: %v, want %q", tc.name, err, want)
		}
		docs, src, err := Read(p, nil, records.Replace)
		if err != nil || !slices.Equal(docs, tc.docs) || src.Replaced != 1 {
			t.Errorf("%s replaced: %q, %+v, %v", tc.name, docs, src, err)
		}
	}
}
