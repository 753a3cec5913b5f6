package gencmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cli/clitest"
)

// TestInterruptLeavesNoOutput sends SIGINT or SIGTERM to mbd-gen import in the middle of a large
// import: it must exit with status 130 and leave neither the output nor a temporary file.
func TestInterruptLeavesNoOutput(t *testing.T) {
	if args := os.Getenv("MBD_GEN_CHILD_ARGS"); args != "" {
		os.Exit(Main(context.Background(), strings.Split(args, "\x1f"), cli.OS()))
	}
	if testing.Short() {
		t.Skip("writes a 1M-record input")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "big.csv")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "model,prompt,completion")
	for i := range 1_000_000 {
		fmt.Fprintf(w, "A,Prompt number %d?,An answer that is long enough to take a little time to write %d.\n", i%5000, i)
	}
	w.Flush()
	f.Close()

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(dir, "out-"+fmt.Sprint(int(sig))+".parquet")
			cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptLeavesNoOutput$")
			sep := "\x1f"
			cmd.Env = append(os.Environ(), "MBD_GEN_CHILD_ARGS=import"+sep+"-o"+sep+out+sep+in)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the writer has a temporary file with data in it.
			deadline := time.Now().Add(30 * time.Second)
			for {
				tmps, _ := filepath.Glob(filepath.Join(dir, "."+filepath.Base(out)+".tmp-*"))
				if len(tmps) == 1 {
					if st, err := os.Stat(tmps[0]); err == nil && st.Size() > 0 {
						break
					}
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the import never started writing")
				}
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != cli.ExitInterrupted {
				t.Fatalf("exit: %v, want status %d", err, cli.ExitInterrupted)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "*"+filepath.Base(out)+"*"))
			if len(left) != 0 {
				t.Fatalf("interrupted import left %v", left)
			}
		})
	}
}

// TestManifestInputs checks that import and batch-import record every input file with its SHA-256.
func TestManifestInputs(t *testing.T) {
	dir := t.TempDir()
	_, prompts := fixture(t, 2)
	a := filepath.Join(dir, "a.jsonl")
	os.WriteFile(a, []byte(`{"model": "A", "prompt": "Say hi.", "completion": "Hello!"}`+"\n"), 0o644)
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(b, []byte("model,prompt,completion\nB,Say hi.,Hey!\n"), 0o644)
	requests := filepath.Join(dir, "requests.jsonl")
	clitest.OK(t, Main, "", "batch-export", "--model", "m", "--label", "B", prompts, "-o", requests)
	req, _ := os.ReadFile(requests)
	var results strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(req)), "\n") {
		id := strings.Split(strings.Split(line, `"custom_id":"`)[1], `"`)[0]
		fmt.Fprintf(&results, `{"custom_id":%q,"response":{"status_code":200,"body":{"model":"m","choices":[{"text":"ok","finish_reason":"stop"}]}}}`+"\n", id)
	}
	r1 := filepath.Join(dir, "results.jsonl")
	os.WriteFile(r1, []byte(results.String()), 0o644)

	for _, tc := range []struct {
		args   []string
		out    string
		inputs []string
	}{
		{[]string{"import", a, b}, filepath.Join(dir, "i.parquet"), []string{a, b}},
		{[]string{"batch-import", "--prompts", prompts, r1}, filepath.Join(dir, "bi.parquet"), []string{prompts, r1}},
	} {
		clitest.OK(t, Main, "", append(tc.args, "-o", tc.out)...)
		for i, in := range clitest.Inputs(t, tc.out+".json", "", tc.inputs...) {
			if in.Rows == 0 {
				t.Errorf("%v: input %d: %+v, want its rows", tc.args, i, in)
			}
		}
	}
}
