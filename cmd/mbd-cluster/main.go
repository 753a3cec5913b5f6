// Command mbd-cluster clusters embedded generations; see mbd-cluster --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/clustercmd"
)

func main() {
	os.Exit(clustercmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
