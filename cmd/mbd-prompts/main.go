// Command mbd-prompts writes a prompts table; see mbd-prompts --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/promptscmd"
)

func main() {
	os.Exit(promptscmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
