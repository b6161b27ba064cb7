// Command vpt runs test scripts against attached devices and records what
// happened. See DESIGN.md and README.md.
package main

import (
	"os"

	"github.com/vpt-dev/vpt/cmd"
	"github.com/vpt-dev/vpt/executor/contain"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	// A script's supervisor is this binary too (see package contain).
	contain.RunIfSupervisor()
	os.Exit(cmd.Main(version, os.Args[1:]))
}
