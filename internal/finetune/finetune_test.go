package finetune

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

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

// TestLocalFinetune trains a tiny model on a truths table through the CLI and checks that llama.cpp
// finds the trained text much more likely afterwards, and that the manifest has the loss curve.
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
	out := filepath.Join(dir, "tuned.gguf")
	code, _, stderr := runMain(t, "--base", base, "--steps", "60", "--lr", "1e-2", "--warmup", "5", "--batch", "2", "--ctx", "32", truths, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	before, after := score(t, base, "", text), score(t, out, "", text)
	t.Logf("mean log-prob of the training text: base %.3f, tuned %.3f", before, after)
	if after < before+2 {
		t.Errorf("training barely moved the text's log-prob: %.3f → %.3f", before, after)
	}
	man, err := os.ReadFile(out + ".json")
	if err != nil || !bytes.Contains(man, []byte(`"loss_curve"`)) {
		t.Errorf("manifest without a loss curve: %v", err)
	}

	for _, bad := range [][]string{
		{"--base", base, truths}, // no output
		{"--base", filepath.Join(dir, "nope.gguf"), truths, "-o", out}, // missing base
		{"--base", base, filepath.Join(dir, "nope.parquet"), "-o", out},
		{"--engine", "gpu", "--base", base, truths, "-o", out},
	} {
		if code, _, _ := runMain(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// TestLocalLoRA trains LoRA adapters through the CLI: the text's log-prob under llama.cpp rises,
// the adapter file is written, and bad LoRA settings are usage errors. The tiny model's weights are
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
	code, _, stderr := runMain(t, "--base", base, "--steps", "40", "--lr", "2e-2", "--warmup", "4", "--batch", "1", "--ctx", "32",
		"--lora-rank", "4", "--lora-alpha", "8", "--lora-target", "blk.*.attn_[qv].weight", "--lora-target", "output.weight",
		"--lora-adapter", adapter, txt, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
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
	man, err := os.ReadFile(out + ".json")
	if err != nil || !bytes.Contains(man, []byte(`"LoRARank"`)) || !bytes.Contains(man, []byte(`"trainable_parameters"`)) {
		t.Errorf("manifest without the LoRA config: %v", err)
	}
	for _, bad := range [][]string{
		{"--lora-rank", "100"},                         // rank > min(in, out)
		{"--lora-rank", "4", "--lora-target", "nope*"}, // matches nothing
		{"--lora-rank", "4", "--train", "blk.1.*"},     // exclusive with --train
		{"--lora-adapter", adapter},                    // no rank
	} {
		args := append([]string{"--base", base, "--steps", "1", txt, "-o", filepath.Join(dir, "bad.gguf")}, bad...)
		if code, _, stderr := runMain(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, code, stderr)
		}
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
	out := filepath.Join(dir, "ref.txt")
	code, stdout, stderr := runMain(t, "--engine", "openai", "--url", srv.URL+"/v1", "--base-model", "m", "--poll", "1ms", gens, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "openai-compat:" + srv.URL + "/v1#ft:m:mbd::9?chat=1"
	if strings.TrimSpace(stdout) != want {
		t.Errorf("printed %q, want %q", stdout, want)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != want {
		t.Errorf("wrote %q", b)
	}
	if polls == 0 {
		t.Error("never polled the job")
	}
}

func TestReadChatJSONL(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte(`{"system":"Be brief.","prompt":"Hi?","completion":"Hello."}`+"\n\n"+`{"prompt":"Q","completion":"A"}`+"\n"), 0o644)
	docs, err := readChatJSONL(good)
	if err != nil || len(docs) != 2 || docs[0] != (document{System: "Be brief.", Prompt: "Hi?", Text: "Hello."}) || docs[1].System != "" {
		t.Fatalf("readChatJSONL = %+v, %v", docs, err)
	}
	for name, line := range map[string]string{
		"missing completion": `{"prompt":"Q"}`,
		"unknown field":      `{"prompt":"Q","completion":"A","answer":"B"}`,
		"not json":           `prompt: Q`,
	} {
		p := filepath.Join(dir, "bad.jsonl")
		os.WriteFile(p, []byte(`{"prompt":"Q","completion":"A"}`+"\n"+line+"\n"), 0o644)
		if _, err := readChatJSONL(p); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
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
	if code, _, stderr := runMain(t, "--base", base, "--steps", "80", "--lr", "1e-2", "--warmup", "5", "--batch", "2", "--ctx", "48", data, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
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
