// Package e2e runs the mbd tools end to end with testscript (github.com/rogpeppe/go-internal): each
// testdata/script/*.txtar is a shell-like session whose commands are the real tools.
package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/clustercmd"
	"github.com/mbd-dev/mbd/internal/embedcmd"
	"github.com/mbd-dev/mbd/internal/gen"
	"github.com/mbd-dev/mbd/internal/hypo"
	"github.com/mbd-dev/mbd/internal/match"
	"github.com/mbd-dev/mbd/internal/modeltool"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/report"
	"github.com/mbd-dev/mbd/internal/roles/rolestest"
	"github.com/mbd-dev/mbd/internal/synthcmd"
	"github.com/mbd-dev/mbd/internal/tablecmd"
	"github.com/mbd-dev/mbd/internal/truth"
	"github.com/mbd-dev/mbd/internal/validate"
)

func tool(main func(context.Context, []string, cli.IO) int) func() int {
	return func() int { return main(context.Background(), os.Args[1:], cli.OS()) }
}

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"mbd-prompts":  tool(prompts.Main),
		"mbd-gen":      tool(gen.Main),
		"mbd-table":    tool(tablecmd.Main),
		"mbd-model":    tool(modeltool.Main),
		"mbd-synth":    tool(synthcmd.Main),
		"mbd-embed":    tool(embedcmd.Main),
		"mbd-cluster":  tool(clustercmd.Main),
		"mbd-match":    tool(match.Main),
		"mbd-hypo":     tool(hypo.Main),
		"mbd-validate": tool(validate.Main),
		"mbd-truth":    tool(truth.Main),
		"mbd-report":   tool(report.Main),
	}))
}

func TestScripts(t *testing.T) {
	// A fake OpenAI-compatible assistant (answers by the builtin describer and judge, with a broken
	// answer every 9th judgment) for the LLM code paths: $ASSISTANT is its reference.
	fake := rolestest.New()
	fake.Faults = 9
	t.Cleanup(fake.Close) // after the parallel scripts, not when Run returns
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
		Setup: func(e *testscript.Env) error {
			e.Setenv("ASSISTANT", "openai-compat:"+fake.URL+"/v1#fake")
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"status": status},
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
