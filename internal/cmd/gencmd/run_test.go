package gencmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// tinyModel writes a tiny GGUF model; other seeds give other weights.
func tinyModel(t *testing.T, path string, seed uint64) {
	t.Helper()
	cfg := tinymodel.DefaultConfig()
	cfg.InitStd = 0.2
	if _, err := tinymodel.TrainAndCreate(path, "", cfg, seed); err != nil {
		t.Fatal(err)
	}
}

// fixture writes a tiny model and a prompts table of n prompts.
func fixture(t *testing.T, n int) (model, promptsPath string) {
	t.Helper()
	dir := t.TempDir()
	model = filepath.Join(dir, "tiny.gguf")
	tinyModel(t, model, 3)
	promptsPath = filepath.Join(dir, "prompts.parquet")
	w, err := table.Create[schema.Prompt](promptsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		text := fmt.Sprintf("Tell me about the number %d and the weather.", i)
		split := schema.SplitDiscovery
		if i%2 == 1 {
			split = schema.SplitValidation
		}
		w.Write(schema.Prompt{ID: fmt.Sprintf("p%03d", i), Text: text, Source: "test", Split: split})
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return model, promptsPath
}

func runMainCtx(ctx context.Context, args ...string) (int, string) {
	var stderr bytes.Buffer
	code := Main(ctx, args, cli.IO{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr})
	return code, stderr.String()
}

func TestRunGenerates(t *testing.T) {
	model, prompts := fixture(t, 6)
	out := filepath.Join(t.TempDir(), "g.parquet")
	ref := "gguf:" + model + "?parallel=4&ctx=128&threads=1"
	clitest.OK(t, Main, "", "run", "--model", ref, "--label", "A", "--samples", "2", "--max-tokens", "8", "--chunk", "5", "--split", "validation", prompts, "-o", out)
	rows, err := table.ReadAll[schema.Generation](out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 3 validation prompts x 2 samples", len(rows))
	}
	for i, g := range rows {
		if g.Split != schema.SplitValidation || g.Model != "A" || g.ModelRef != ref || g.Sample != int32(i%2) ||
			g.CompletionTokens == nil || *g.CompletionTokens == 0 || g.LogprobSum == nil || g.Seed != int64(gen.SampleSeed(0, g.PromptID, g.Sample)) ||
			g.ID != gen.GenerationID("A", g.PromptID, g.Sample) {
			t.Errorf("row %d: %+v", i, g)
		}
	}
	if _, err := os.Stat(out + ".journal"); !os.IsNotExist(err) {
		t.Error("the journal was not removed after success")
	}
	// The manifest records the prompts table and the model file, each with its SHA-256.
	clitest.Inputs(t, out+".json", "", prompts, model)
	// It records the generation path: llama.cpp's fast path by default, F32 with exact=1.
	for _, tt := range []struct{ ref, want string }{{ref, llamacpp.PathFast}, {ref + "&exact=1", llamacpp.PathExact}} {
		o := filepath.Join(t.TempDir(), "p.parquet")
		if tt.ref != ref {
			clitest.OK(t, Main, "", "run", "--model", tt.ref, "--label", "A", "--max-tokens", "4", "--split", "validation", prompts, "-o", o)
		} else {
			o = out
		}
		mf, err := manifest.Read(o + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if got := mf.Params["generation_path"]; got != tt.want {
			t.Errorf("%s: generation_path %v, want %s", tt.ref, got, tt.want)
		}
	}
	// Shards partition the prompts.
	var total int
	for i := 1; i <= 3; i++ {
		so := filepath.Join(t.TempDir(), "s.parquet")
		if code, _, stderr := clitest.Run(t, Main, "", "run", "--model", ref, "--label", "A", "--max-tokens", "4", "--shard", fmt.Sprintf("%d/3", i), prompts, "-o", so); code != 0 {
			if strings.Contains(stderr, "no prompts selected") {
				continue
			}
			t.Fatalf("shard %d: exit %d: %s", i, code, stderr)
		}
		r, _ := table.ReadAll[schema.Generation](so, nil)
		total += len(r)
	}
	if total != 6 {
		t.Errorf("shards hold %d prompts, want 6", total)
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	clitest.Refuses(t, Main, "", nil, []string{bad, bad + ".journal"}, []clitest.Refusal{
		{Args: []string{"run", "--model", ref, prompts, "-o", bad}, Want: "no model label"},
		{Args: []string{"run", "--model", ref, "--label", "A", "--shard", "4/3", prompts, "-o", bad}, Want: "--shard"},
		{Args: []string{"run", "--model", "gguf:/nope.gguf", "--label", "A", prompts, "-o", bad}, Want: "--model: /nope.gguf: no such file"},
		{Args: []string{"run", "--label", "A", prompts, "-o", bad}, Want: "no model"},
		{Args: []string{"run", "--model", "gguf:" + model + "?ctx=16&threads=1", "--label", "A", "--max-tokens", "8", prompts, "-o", bad}, Want: "raise ctx= to at least"},
		{Args: []string{"run", "--model", "gguf:" + model + "?threads=1", "--label", "A", "--temperature", "NaN", prompts, "-o", bad}, Want: "--temperature NaN: want a finite number"},
		{Args: []string{"run", "--model", ref, "--label", "A", prompts, "-o", prompts}, Want: "is also an input"},
	})
}

// TestRunResumesAfterKill kills (SIGKILL) a run in the middle and checks that the rerun finishes it
// with a table identical to an uninterrupted run's.
func TestRunResumesAfterKill(t *testing.T) {
	if args := os.Getenv("MBD_GEN_RUN_ARGS"); args != "" {
		os.Exit(Main(context.Background(), strings.Split(args, "\x1f"), cli.OS()))
	}
	model, prompts := fixture(t, 24)
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"run", "--model", "gguf:" + model + "?parallel=2&ctx=256&threads=1", "--label", "B", "--samples", "2",
			"--max-tokens", "48", "--temperature", "0.9", "--seed", "11", "--chunk", "4", prompts, "-o", out}
	}
	whole := filepath.Join(dir, "whole.parquet")
	clitest.OK(t, Main, "", args(whole)...)

	resumed := filepath.Join(dir, "resumed.parquet")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunResumesAfterKill$")
	cmd.Env = append(os.Environ(), "MBD_GEN_RUN_ARGS="+strings.Join(args(resumed), "\x1f"))
	var childErr bytes.Buffer
	cmd.Stderr = &childErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(resumed + ".journal")
		if bytes.Count(b, []byte(`{"chunk":`)) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the run never finished two chunks: %s", childErr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(resumed); err == nil {
		t.Skip("the run finished before it was killed; nothing to resume")
	}
	// A torn last line, as a crash in the middle of a write leaves.
	f, _ := os.OpenFile(resumed+".journal", os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"row":{"id":"torn`)
	f.Close()

	code, _, stderr := clitest.Run(t, Main, "", args(resumed)...)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "resuming from the journal") {
		t.Errorf("the rerun did not resume: %s", stderr)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(resumed)
	if !bytes.Equal(a, b) {
		t.Fatal("the resumed run's table differs from the uninterrupted run's")
	}

	// A journal of other arguments is not continued: the run starts over and says so.
	other := filepath.Join(dir, "other.parquet")
	os.WriteFile(other+".journal", []byte(`{"mbd_gen_journal":1,"identity":"something else"}`+"\n"+`{"row":{"id":"x"}}`+"\n"+`{"chunk":0}`+"\n"), 0o644)
	if code, _, stderr := clitest.Run(t, Main, "", args(other)...); code != 0 || !strings.Contains(stderr, "the journal is from another run; starting over") {
		t.Errorf("foreign journal: exit %d: %s", code, stderr)
	}
	if c, _ := os.ReadFile(other); !bytes.Equal(c, a) {
		t.Error("the run that started over differs from an uninterrupted run")
	}
}

// TestRunForeignJournal: a file at OUTPUT.journal that is not a journal is bad input (exit 2),
// left as it is.
func TestRunForeignJournal(t *testing.T) {
	_, prompts := fixture(t, 2)
	out := filepath.Join(t.TempDir(), "g.parquet")
	os.WriteFile(out+".journal", []byte("my notes\n"), 0o644)
	code, _, stderr := clitest.Run(t, Main, "", "run", "--model", "synth:base", "--label", "A", prompts, "-o", out)
	if code != 2 || !strings.Contains(stderr, out+".journal: not an mbd-gen journal; remove it") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out + ".journal"); string(b) != "my notes\n" {
		t.Errorf("the file was changed: %q", b)
	}
}

// interrupt runs args and cancels the run (as SIGINT does) once the journal of out holds a chunk.
// It skips the test when the run finished first.
func interrupt(t *testing.T, out string, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if b, _ := os.ReadFile(out + ".journal"); bytes.Contains(b, []byte(`{"chunk":0}`)) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	code, stderr := runMainCtx(ctx, args...)
	if code == 0 {
		t.Skip("the run finished before it was interrupted")
	}
	if code != cli.ExitInterrupted {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out + ".journal"); !bytes.Contains(b, []byte(`{"chunk":0}`)) {
		t.Fatal("the interrupted run left no journal")
	}
}

// TestRunResumesUnderAnotherSpelling reruns an interrupted run with the prompts table named by
// another path to the same file: the journal is continued (inputs are named by role and hash).
func TestRunResumesUnderAnotherSpelling(t *testing.T) {
	model, prompts := fixture(t, 40)
	dir := t.TempDir()
	out := filepath.Join(dir, "g.parquet")
	args := func(prompts, out string) []string {
		return []string{"run", "--model", "gguf:" + model + "?parallel=1&ctx=256&threads=1", "--label", "A",
			"--max-tokens", "48", "--chunk", "2", prompts, "-o", out}
	}
	interrupt(t, out, args(prompts, out))
	t.Chdir(filepath.Dir(prompts))
	code, _, stderr := clitest.Run(t, Main, "", args("./"+filepath.Base(prompts), out)...)
	if code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "resuming from the journal") || strings.Contains(stderr, "starting over") {
		t.Errorf("the rerun did not continue the journal: %s", stderr)
	}
	fresh := filepath.Join(dir, "fresh.parquet")
	clitest.OK(t, Main, "", args(prompts, fresh)...)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(fresh)
	if !bytes.Equal(a, b) {
		t.Fatal("the resumed run's table differs from an uninterrupted run's")
	}
}

// TestRunModelReplaced interrupts a run, replaces the model file under the same reference and
// reruns: no row of the old model may be reused, and the run says why it starts over.
func TestRunModelReplaced(t *testing.T) {
	model, prompts := fixture(t, 40)
	dir := t.TempDir()
	out := filepath.Join(dir, "g.parquet")
	args := func(out string) []string {
		return []string{"run", "--model", "gguf:" + model + "?parallel=1&ctx=256&threads=1", "--label", "A",
			"--max-tokens", "48", "--chunk", "2", prompts, "-o", out}
	}
	interrupt(t, out, args(out))

	tinyModel(t, model, 4) // another model, same path
	code, _, stderr := clitest.Run(t, Main, "", args(out)...)
	if code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "starting over") || !strings.Contains(stderr, `changed="model file 0"`) {
		t.Errorf("the rerun does not say that the model changed: %s", stderr)
	}
	fresh := filepath.Join(dir, "fresh.parquet")
	clitest.OK(t, Main, "", args(fresh)...)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(fresh)
	if !bytes.Equal(a, b) {
		t.Fatal("the rerun's table mixes rows of the replaced model")
	}
}
