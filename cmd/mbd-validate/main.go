// Command mbd-validate tests hypotheses on held-out prompts; see mbd-validate --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/validatecmd"
)

func main() { os.Exit(validatecmd.Main(context.Background(), os.Args[1:], cli.OS())) }
