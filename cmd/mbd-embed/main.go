// Command mbd-embed embeds generations; see mbd-embed --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/embedcmd"
)

func main() {
	os.Exit(embedcmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
