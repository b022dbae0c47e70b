// Package cli implements every clawbroker verb as a cobra command. main
// only calls Main; each verb maps flags onto broker, config, audit or
// credstore calls and their errors onto exit codes: 0 ok or allowed,
// 1 denied or failed, 2 usage or config error.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/clawbroker/clawbroker/broker/config"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // denied, or the operation failed
	ExitUsage  = 2 // usage or config error
)

// Version is set at build time with -ldflags "-X .../broker/cli.Version=...".
var Version = "dev"

// exitError carries the exit code for an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error  { return &exitError{code: ExitUsage, err: err} }
func failedError(err error) error { return &exitError{code: ExitFailed, err: err} }

// silentExit exits with code without printing anything more.
type silentExit int

func (s silentExit) Error() string { return fmt.Sprintf("exit %d", int(s)) }

// App is what every verb shares: where it reads and writes, and the
// config it was pointed at.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ConfigPath     string
	// Signals, when set, replaces the process's signal delivery (tests).
	Signals chan os.Signal
}

// LoadConfig loads --config, else $CLAWBROKER_CONFIG, else the defaults.
// Its errors are usage errors (exit 2).
func (a *App) LoadConfig() (*config.Config, error) {
	c, err := config.Load(a.ConfigPath)
	if err != nil {
		return nil, usageError(err)
	}
	return c, nil
}

// opsLog is the operational log on stderr (the audit log is separate).
func (a *App) opsLog() zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: a.Stderr, NoColor: true, TimeFormat: "15:04:05"}).With().Timestamp().Logger()
}

// NewRootCommand builds the clawbroker command tree.
func NewRootCommand(a *App) *cobra.Command {
	root := &cobra.Command{
		Use:           "clawbroker",
		Short:         "Policy-as-code sandbox broker for AI agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.ConfigPath, "config", "", "config file (JSON5; default $"+config.EnvConfig+", then built-in defaults)")
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	// An unknown verb is a usage error (exit 2); no verb prints help.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError(fmt.Errorf("unknown command %q: see clawbroker --help", args[0]))
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.AddCommand(
		newServeCommand(a),
		newExecCommand(a),
		newDecideCommand(a),
		newCheckCommand(a),
		newDataCommand(a),
		newTokenCommand(a),
		newAuditCommand(a),
		newVersionCommand(a),
	)
	for _, c := range extraCommands {
		root.AddCommand(c(a))
	}
	return root
}

// extraCommands lets verbs in other files register themselves.
var extraCommands []func(*App) *cobra.Command

// Main runs the CLI and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &App{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	return a.Run(context.Background(), args)
}

// Run executes args and maps the error to an exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	root := NewRootCommand(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var s silentExit
	if errors.As(err, &s) {
		return int(s)
	}
	fmt.Fprintln(a.Stderr, "clawbroker:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitFailed
}

// signals delivers SIGHUP, SIGINT and SIGTERM.
func (a *App) signals() (<-chan os.Signal, func()) {
	if a.Signals != nil {
		return a.Signals, func() {}
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

// exactArgs is cobra.ExactArgs with a usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}
