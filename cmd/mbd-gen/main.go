// Command mbd-gen makes generations tables; see mbd-gen --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/gencmd"
)

func main() {
	os.Exit(gencmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
