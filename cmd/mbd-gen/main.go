// Command mbd-gen makes generations tables; see mbd-gen --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/gen"
)

func main() {
	os.Exit(gen.Main(context.Background(), os.Args[1:], cli.OS()))
}
