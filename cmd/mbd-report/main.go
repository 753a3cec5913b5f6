// Command mbd-report writes the HTML, Markdown and JSON report of a run folder; see mbd-report --help.
package main

import (
	"context"
	"os"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/reportcmd"
)

func main() {
	os.Exit(reportcmd.Main(context.Background(), os.Args[1:], cli.OS()))
}
