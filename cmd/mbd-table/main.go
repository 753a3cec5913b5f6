// Command mbd-table inspects, checks and converts mbd tables; see mbd-table --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/tablecmd"
)

func main() {
	os.Exit(tablecmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
