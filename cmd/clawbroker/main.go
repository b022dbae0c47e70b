// Command clawbroker is the policy-as-code sandbox broker for AI agents.
// Every verb lives in package broker/cli; main only hands it the process.
package main

import (
	"os"

	"github.com/clawbroker/clawbroker/broker/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
