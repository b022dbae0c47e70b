package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/clawbroker/clawbroker/sandbox"
)

// Run a shell command with a read-write workspace, no network and limits.
func Example() {
	launcher, err := sandbox.New(sandbox.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// The Linux launcher keeps empty cgroups for reuse; Close removes them.
	if c, ok := launcher.(io.Closer); ok {
		defer c.Close()
	}
	workspace, err := os.MkdirTemp("", "example-ws-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(workspace)

	res, err := launcher.Launch(context.Background(), sandbox.Spec{
		Command:        "/bin/sh",
		Args:           []string{"-c", "echo hello > note.txt; cat note.txt; cat; exit 3"},
		Env:            []string{"PATH=/usr/bin:/bin"},
		Dir:            workspace,
		ReadWritePaths: []string{workspace},
		Stdin:          []byte("from stdin\n"),
		Limits: sandbox.Limits{
			Timeout:      10 * time.Second,
			MemoryBytes:  256 << 20,
			MaxProcesses: 32,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(res.Stdout))
	fmt.Println("exit:", res.ExitCode, "timed out:", res.TimedOut)
	fmt.Println("launcher:", launcher.Name())
	// Output:
	// hello
	// from stdin
	// exit: 3 timed out: false
	// launcher: bubblewrap
}
