// Command mbd-match finds the regions where two models differ; see mbd-match --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/match"
)

func main() {
	os.Exit(match.Main(context.Background(), os.Args[1:], cli.OS()))
}
