// Package e2e runs the mbd tools end to end with testscript (github.com/rogpeppe/go-internal): each
// testdata/script/*.txtar is a shell-like session whose commands are the real tools.
package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/clustercmd"
	"github.com/mbd-dev/mbd/internal/cmd/embedcmd"
	"github.com/mbd-dev/mbd/internal/cmd/finetunecmd"
	"github.com/mbd-dev/mbd/internal/cmd/gencmd"
	"github.com/mbd-dev/mbd/internal/cmd/hypocmd"
	"github.com/mbd-dev/mbd/internal/cmd/matchcmd"
	"github.com/mbd-dev/mbd/internal/cmd/modelcmd"
	"github.com/mbd-dev/mbd/internal/cmd/promptscmd"
	"github.com/mbd-dev/mbd/internal/cmd/reportcmd"
	"github.com/mbd-dev/mbd/internal/cmd/synthcmd"
	"github.com/mbd-dev/mbd/internal/cmd/tablecmd"
	"github.com/mbd-dev/mbd/internal/cmd/truthcmd"
	"github.com/mbd-dev/mbd/internal/cmd/validatecmd"
	"github.com/mbd-dev/mbd/internal/hub/hubtest"
	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/modelconvert/hftest"
	"github.com/mbd-dev/mbd/internal/roles/rolestest"
	"github.com/mbd-dev/mbd/internal/table"
)

func tool(main func(context.Context, []string, cli.IO) int) func() int {
	return func() int { return main(context.Background(), os.Args[1:], cli.OS()) }
}

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"mbd-prompts":  tool(promptscmd.Main),
		"mbd-gen":      tool(gencmd.Main),
		"mbd-table":    tool(tablecmd.Main),
		"mbd-model":    tool(modelcmd.Main),
		"mbd-finetune": tool(finetunecmd.Main),
		"mbd-synth":    tool(synthcmd.Main),
		"mbd-embed":    tool(embedcmd.Main),
		"mbd-cluster":  tool(clustercmd.Main),
		"mbd-match":    tool(matchcmd.Main),
		"mbd-hypo":     tool(hypocmd.Main),
		"mbd-validate": tool(validatecmd.Main),
		"mbd-truth":    tool(truthcmd.Main),
		"mbd-report":   tool(reportcmd.Main),
	}))
}

func TestScripts(t *testing.T) {
	// A fake OpenAI-compatible assistant (answers by the builtin describer and judge, with a broken
	// answer every 9th judgment) for the LLM code paths: $ASSISTANT is its reference.
	fake := rolestest.New()
	fake.Faults = 9
	t.Cleanup(fake.Close) // after the parallel scripts, not when Run returns
	// A fake Hugging Face Hub for hf: references: $HF_ENDPOINT.
	hubSrv := fakeHub(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
		Setup: func(e *testscript.Env) error {
			e.Setenv("ASSISTANT", "openai-compat:"+fake.URL+"/v1#fake")
			e.Setenv("MBD_ROOT", root) // the repository: mk/pipeline.mk, testdata/
			e.Setenv("HF_ENDPOINT", hubSrv.URL)
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"status": status, "inputs": inputs,
			"hub": func(ts *testscript.TestScript, neg bool, args []string) { hubCmd(ts, neg, args, hubSrv) }},
	})
}

// status CODE PROG ARGS... runs PROG and fails unless it exits with CODE; stdout and stderr are
// kept for the next stdout/stderr checks, as after exec.
func status(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// inputs MANIFEST PATH... fails unless the manifest records exactly these inputs, in any order,
// each with a SHA-256 equal to the file's own.
func inputs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: inputs MANIFEST [PATH...]")
	}
	m, err := manifest.Read(ts.MkAbs(args[0]))
	ts.Check(err)
	want := args[1:]
	if len(m.Inputs) != len(want) {
		ts.Fatalf("%s records %d inputs, want %d (%v)", args[0], len(m.Inputs), len(want), want)
	}
	for _, path := range want {
		hash, err := table.HashFile(ts.MkAbs(path))
		ts.Check(err)
		found := false
		for _, in := range m.Inputs {
			if in.Path == path {
				found = true
				if in.SHA256 != hash {
					ts.Fatalf("%s: input %s has sha256 %q, want %s", args[0], path, in.SHA256, hash)
				}
			}
		}
		if !found {
			ts.Fatalf("%s does not record input %s", args[0], path)
		}
	}
}

// fakeHub serves tiny-org/tiny-llama (a tiny Llama checkpoint in safetensors), the same as the
// private tiny-org/private-llama (token hf_test_token) and tiny-org/tiny-gguf (tiny.gguf).
func fakeHub(t *testing.T) *hubtest.Server {
	m, err := hftest.WriteLlama(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gguf, err := os.ReadFile(m.Ref)
	if err != nil {
		t.Fatal(err)
	}
	s, err := hubtest.NewTiny(m.HFDir, gguf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// hub reset forgets the fake Hub's request counts; hub content N fails unless N requests for file
// content came since; hub requests N, unless N requests of any kind came.
func hubCmd(ts *testscript.TestScript, neg bool, args []string, s *hubtest.Server) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: hub reset | hub content N | hub requests N")
	}
	switch {
	case args[0] == "reset" && len(args) == 1:
		s.Reset()
	case (args[0] == "content" || args[0] == "requests") && len(args) == 2:
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		got := s.ContentRequests()
		if args[0] == "requests" {
			got = s.AllRequests()
		}
		if got != want {
			ts.Fatalf("the fake Hub got %d %s requests, want %d", got, args[0], want)
		}
	default:
		ts.Fatalf("usage: hub reset | hub content N | hub requests N")
	}
}
