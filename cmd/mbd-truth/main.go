// Command mbd-truth writes ground truths and scores their recovery; see mbd-truth --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/truthcmd"
)

func main() { os.Exit(truthcmd.Main(context.Background(), os.Args[1:], cli.OS())) }
