package gen

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
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// fixture writes a tiny model and a prompts table.
func fixture(t *testing.T, n int) (model, promptsPath string) {
	t.Helper()
	dir := t.TempDir()
	model = filepath.Join(dir, "tiny.gguf")
	cfg := tinymodel.DefaultConfig()
	cfg.InitStd = 0.2
	if _, err := tinymodel.TrainAndCreate(model, "", cfg, 3); err != nil {
		t.Fatal(err)
	}
	promptsPath = filepath.Join(dir, "prompts.parquet")
	w, err := table.Create[schema.Prompt](promptsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		text := fmt.Sprintf("Tell me about the number %d and the weather.", i)
		split := "discovery"
		if i%2 == 1 {
			split = "validation"
		}
		w.Write(schema.Prompt{ID: fmt.Sprintf("p%03d", i), Text: text, Source: "test", Split: split})
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return model, promptsPath
}

func runMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := Main(context.Background(), args, cli.IO{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr})
	return code, stderr.String()
}

func TestRunGenerates(t *testing.T) {
	model, prompts := fixture(t, 6)
	out := filepath.Join(t.TempDir(), "g.parquet")
	ref := "gguf:" + model + "?parallel=4&ctx=128&threads=1"
	if code, stderr := runMain(t, "run", "--model", ref, "--label", "A", "--samples", "2", "--max-tokens", "8", "--chunk", "5", "--split", "validation", prompts, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := table.ReadAll[schema.Generation](out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 3 validation prompts x 2 samples", len(rows))
	}
	for i, g := range rows {
		if g.Split != "validation" || g.Model != "A" || g.ModelRef != ref || g.Sample != int32(i%2) ||
			g.CompletionTokens == nil || *g.CompletionTokens == 0 || g.LogprobSum == nil || g.Seed != int64(SampleSeed(0, g.PromptID, g.Sample)) ||
			g.ID != GenerationID("A", g.PromptID, g.Sample) {
			t.Errorf("row %d: %+v", i, g)
		}
	}
	if _, err := os.Stat(out + ".journal"); !os.IsNotExist(err) {
		t.Error("the journal was not removed after success")
	}
	// Shards partition the prompts.
	var total int
	for i := 1; i <= 3; i++ {
		so := filepath.Join(t.TempDir(), "s.parquet")
		if code, stderr := runMain(t, "run", "--model", ref, "--label", "A", "--max-tokens", "4", "--shard", fmt.Sprintf("%d/3", i), prompts, "-o", so); code != 0 {
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
	for _, bad := range [][]string{
		{"run", "--model", ref, prompts, "-o", out},
		{"run", "--model", ref, "--label", "A", "--shard", "4/3", prompts, "-o", out},
		{"run", "--model", "gguf:/nope.gguf", "--label", "A", prompts, "-o", out},
		{"run", "--label", "A", prompts, "-o", out},
	} {
		if code, _ := runMain(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
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
	if code, stderr := runMain(t, args(whole)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}

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

	if code, stderr := runMain(t, args(resumed)...); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(resumed)
	if !bytes.Equal(a, b) {
		t.Fatal("the resumed run's table differs from the uninterrupted run's")
	}

	// A journal from other arguments is refused.
	other := filepath.Join(dir, "other.parquet")
	os.WriteFile(other+".journal", []byte(`{"mbd_gen_journal":1,"identity":"something else"}`+"\n"), 0o644)
	if code, stderr := runMain(t, args(other)...); code != 2 || !strings.Contains(stderr, "other arguments") {
		t.Errorf("foreign journal: exit %d: %s", code, stderr)
	}
}
