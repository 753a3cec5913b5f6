// Command mbd-model inspects, quantizes, creates, scores and converts models; see mbd-model --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/modelcmd"
)

func main() {
	os.Exit(modelcmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
