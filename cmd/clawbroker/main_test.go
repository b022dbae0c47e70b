package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/clawbroker/clawbroker/broker/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"clawbroker": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI end to end, as a user would from a shell:
// testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("CLAWBROKER_CONFIG", "")
			return nil
		},
	})
}
