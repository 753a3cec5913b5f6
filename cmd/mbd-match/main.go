// Command mbd-match finds the regions where two models differ; see mbd-match --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/matchcmd"
)

func main() {
	os.Exit(matchcmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
