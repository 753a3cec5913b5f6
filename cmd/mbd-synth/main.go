// Command mbd-synth makes the synthetic behaviour world; see mbd-synth --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/synthcmd"
)

func main() {
	os.Exit(synthcmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
