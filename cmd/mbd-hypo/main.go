// Command mbd-hypo proposes hypotheses about how two models' behaviour differs.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/hypocmd"
)

func main() { os.Exit(hypocmd.Main(context.Background(), os.Args[1:], cli.OS())) }
