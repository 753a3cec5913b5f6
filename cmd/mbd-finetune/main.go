// Command mbd-finetune trains a model on texts; see mbd-finetune --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/finetunecmd"
)

func main() {
	os.Exit(finetunecmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
