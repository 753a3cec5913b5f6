// Package cli is the command layer's common ground: every mbd tool is a tiny main that calls
// Main(ctx, args, io) in its internal/cmd/<tool>cmd package, which builds a
// github.com/urfave/cli/v3 command whose flags are bound to a typed Options struct and whose
// action is Do(ctx, opts, Run): Validate checks the whole set of options (ranges, non-finite
// numbers, file roles), then Run(ctx, env, opts) does the work with the tool's Env.
//
// Run adds the shared flags (--log-format, --log-level, --config), applies the precedence
// flags > environment > config file, routes logs through log/slog to stderr, turns SIGINT/SIGTERM
// into a cancelled context, and maps the outcome to the documented exit status:
//
//	0    success
//	1    runtime error
//	2    usage error or bad input (a missing, malformed or wrong table, a bad flag or reference)
//	130  interrupted (SIGINT or SIGTERM); no output is left under its final name
//
// The rest is what every tool would otherwise repeat: Check (option ranges), Paths (inputs given
// twice, outputs that are inputs), Labels (--a/--b), ReadTable (reads an input and records its
// SHA-256 in the manifest). Only command packages import cli; stages and services below take
// plain values.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/manifest"
	"github.com/mbd-dev/mbd/internal/progress"
	"github.com/mbd-dev/mbd/internal/version"
)

// Exit statuses.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// ExitCodesHelp is appended to every tool's help.
const ExitCodesHelp = "Exit status: 0 success, 1 runtime error, 2 usage error or bad input, 130 interrupted."

// IO is a tool's standard streams.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// OS returns the process's standard streams.
func OS() IO { return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr} }

// Env is what a tool's action works with; get it with FromContext.
type Env struct {
	IO
	Log      *slog.Logger
	Manifest *manifest.Manifest
}

// Progress returns a progress bar on stderr, or nil (which does nothing) when stderr is not a terminal.
func (e *Env) Progress(label, unit string, total int64) *progress.Bar {
	return progress.New(e.Stderr, label, unit, total)
}

type envKey struct{}

// FromContext returns the Env of the running tool.
func FromContext(ctx context.Context) *Env {
	e, _ := ctx.Value(envKey{}).(*Env)
	return e
}

// UsageError is a misuse of the command line. Tools exit with status 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode makes a usage error end the tool with status 2.
func (e *UsageError) ExitCode() int { return ExitUsage }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Run runs root with args (without the program name) and returns the exit status.
func Run(ctx context.Context, root *ucli.Command, args []string, stdio IO) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &Env{IO: stdio, Manifest: manifest.New(root.Name, args)}
	env.Log = slog.New(slog.NewTextHandler(stdio.Stderr, nil))
	ctx = context.WithValue(ctx, envKey{}, env)

	root.Writer, root.ErrWriter, root.Reader = stdio.Stdout, stdio.Stderr, stdio.Stdin
	root.Version = version.String()
	root.ExitErrHandler = func(context.Context, *ucli.Command, error) {} // we choose the exit status
	root.Flags = append(root.Flags, globalFlags()...)
	if !strings.Contains(root.Description, ExitCodesHelp) {
		root.Description = strings.TrimRight(root.Description, "\n") + "\n\n" + ExitCodesHelp
	}
	prepare(root, env)

	err := root.Run(ctx, append([]string{root.Name}, args...))
	switch {
	case err == nil:
		return ExitOK
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled):
		fmt.Fprintf(stdio.Stderr, "%s: interrupted\n", root.Name)
		return ExitInterrupted
	}
	fmt.Fprintf(stdio.Stderr, "%s: %v\n", root.Name, err)
	var coder interface{ ExitCode() int }
	if errors.As(err, &coder) && coder.ExitCode() != 0 {
		return coder.ExitCode()
	}
	return ExitError
}

func globalFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "log-format", Value: "text", Usage: "log format on stderr: text or json", Sources: ucli.EnvVars("MBD_LOG_FORMAT")},
		&ucli.StringFlag{Name: "log-level", Value: "info", Usage: "least severe log level shown: debug, info, warn or error", Sources: ucli.EnvVars("MBD_LOG_LEVEL")},
		&ucli.StringFlag{Name: "config", Usage: "TOML config file with flag defaults (flags > environment > config)", Sources: ucli.EnvVars("MBD_CONFIG"), TakesFile: true},
	}
}

// prepare sets, on every command of the tree, usage errors that map to status 2 and a Before hook
// that sets up logging and applies the config file.
func prepare(cmd *ucli.Command, env *Env) {
	cmd.OnUsageError = func(_ context.Context, _ *ucli.Command, err error, _ bool) error {
		return &UsageError{Err: err}
	}
	before := cmd.Before
	cmd.Before = func(ctx context.Context, c *ucli.Command) (context.Context, error) {
		if err := applyConfig(c); err != nil {
			return ctx, err
		}
		if c.Root() == c {
			if err := setupLog(c, env); err != nil {
				return ctx, err
			}
		}
		if before != nil {
			return before(ctx, c)
		}
		return ctx, nil
	}
	for _, sub := range cmd.Commands {
		prepare(sub, env)
	}
}

func setupLog(cmd *ucli.Command, env *Env) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmd.String("log-level"))); err != nil {
		return Usagef("--log-level %q: want debug, info, warn or error", cmd.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f := cmd.String("log-format"); f {
	case "text":
		env.Log = slog.New(slog.NewTextHandler(env.Stderr, opts))
	case "json":
		env.Log = slog.New(slog.NewJSONHandler(env.Stderr, opts))
	default:
		return Usagef("--log-format %q: want text or json", f)
	}
	return nil
}
