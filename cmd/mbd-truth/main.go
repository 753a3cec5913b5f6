// Command mbd-truth writes ground truths and scores their recovery; see mbd-truth --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/truth"
)

func main() { os.Exit(truth.Main(context.Background(), os.Args[1:], cli.OS())) }
