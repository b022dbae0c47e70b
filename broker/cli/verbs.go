package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
)

// openBroker builds a broker on cfg with its audit sink. close flushes
// the audit log.
func (a *App) openBroker(ctx context.Context, cfg *config.Config) (*broker.Broker, func(), error) {
	log, err := openAudit(cfg, a.Stderr)
	if err != nil {
		return nil, nil, failedError(fmt.Errorf("audit log: %w", err))
	}
	b, err := broker.New(ctx, broker.Options{Config: cfg, Audit: log, Log: a.opsLog()})
	if err != nil {
		log.Close()
		return nil, nil, failedError(err)
	}
	return b, func() { log.Close() }, nil
}

func openAudit(cfg *config.Config, stderr io.Writer) (*audit.Logger, error) {
	switch cfg.Audit.Output {
	case "stderr":
		return audit.New(stderr), nil
	case "stdout":
		return audit.New(os.Stdout), nil
	}
	return audit.Open(cfg.Audit.Output)
}

func newDecideCommand(a *App) *cobra.Command {
	var agent, inputFile string
	cmd := &cobra.Command{
		Use:   "decide --input FILE|-",
		Short: "Ask the policy about one input, filled exactly as a real request would be",
		Long: `decide reads a policy input document (JSON), fills subject, path.resolved,
path.ancestors, tool.command and tool.capabilities as the broker does for a
real request, and prints the decision. Exit 0 when allowed, 1 when denied.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if inputFile == "" {
				return usageError(errors.New("decide: --input FILE or --input - is required"))
			}
			raw, err := readInput(a.Stdin, inputFile)
			if err != nil {
				return usageError(err)
			}
			in, err := ParseInput(raw)
			if err != nil {
				return usageError(fmt.Errorf("decide: %s: %w", inputFile, err))
			}
			cfg, err := a.LoadConfig()
			if err != nil {
				return err
			}
			b, closeFn, err := a.openBroker(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer closeFn()
			d, err := b.Decide(cmd.Context(), broker.Subject{Agent: agent}, in)
			if err != nil && !errors.Is(err, broker.ErrAudit) {
				return usageError(err)
			}
			out, _ := json.MarshalIndent(DecisionJSON(d), "", "  ")
			fmt.Fprintln(a.Stdout, string(out))
			if !d.Allow {
				return silentExit(ExitFailed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&agent, "agent", "default", "agent id to decide for")
	cmd.Flags().StringVar(&inputFile, "input", "", "input JSON file, or - for stdin")
	return cmd
}

// DecisionJSON is the wire form of a decision.
func DecisionJSON(d policy.Decision) map[string]any {
	reasons := d.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	return map[string]any{"decision_id": d.ID, "allow": d.Allow, "reasons": reasons}
}

func readInput(stdin io.Reader, name string) ([]byte, error) {
	const max = 1 << 20
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, max)
	}
	return raw, nil
}

// ParseInput decodes a policy input strictly: unknown fields and wrong
// types are errors naming the field.
func ParseInput(raw []byte) (policy.Input, error) {
	var in policy.Input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("not a valid input document: %w", err)
	}
	if dec.More() {
		return in, errors.New("not a valid input document: more than one JSON value")
	}
	if in.Action == "" {
		return in, errors.New(`"action" is required (tool.exec, path.read, path.write, credential.read or network.connect)`)
	}
	return in, nil
}

func newCheckCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check that the config loads and the policies compile",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.LoadConfig()
			if err != nil {
				return err
			}
			eng, err := policy.New(cmd.Context(), policy.Options{Dir: cfg.Policies.Dir, Data: cfg.PolicyData(), Timeout: cfg.Policies.Timeout(), CacheSize: cfg.Policies.EngineCacheSize()})
			if err != nil {
				return failedError(err)
			}
			src := cfg.Source
			if src == "" {
				src = "built-in defaults"
			}
			pol := cfg.Policies.Dir
			if pol == "" {
				pol = "built-in policies"
			}
			fmt.Fprintf(a.Stdout, "config ok: %s\npolicies ok: %s (%d files, revision %s)\n", src, pol, len(eng.Files()), eng.Revision())
			return nil
		},
	}
}

func newDataCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "data",
		Short: "Print the data document the policies see, for opa eval -d policies -d data.json",
		Args:  exactArgs(0),
		RunE: func(_ *cobra.Command, _ []string) error {
			cfg, err := a.LoadConfig()
			if err != nil {
				return err
			}
			doc := map[string]any{"clawbroker": map[string]any{"config": cfg.PolicyData()}}
			out, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return failedError(err)
			}
			fmt.Fprintln(a.Stdout, string(out))
			return nil
		},
	}
}

// NewToken returns a fresh bearer token and the config value for it.
func NewToken() (token, hash string, err error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("generate token: %w", err)
	}
	token = "cbt_" + base64.RawURLEncoding.EncodeToString(raw[:])
	return token, HashToken(token), nil
}

// HashToken is the config form of a token: "sha256:<hex>".
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func newTokenCommand(a *App) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage agent bearer tokens"}
	cmd.AddCommand(&cobra.Command{
		Use:   "new AGENT",
		Short: "Print a new token once, and the line to put in gateway.auth.tokens",
		Args:  exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			agent := args[0]
			if _, err := config.Parse("token", []byte(fmt.Sprintf(`{gateway: {auth: {tokens: {%q: "sha256:%s"}}}}`, agent, strings.Repeat("0", 64)))); err != nil {
				return usageError(fmt.Errorf("agent id %q: want 1-64 letters, digits, '.', '_' or '-'", agent))
			}
			token, hash, err := NewToken()
			if err != nil {
				return failedError(err)
			}
			fmt.Fprintln(a.Stdout, token)
			fmt.Fprintf(a.Stderr, "This token is shown once. Add the agent to your config:\n  gateway: {auth: {tokens: {%q: %q}}}\n", agent, hash)
			return nil
		},
	})
	return cmd
}

func newAuditCommand(a *App) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Work with the audit log"}
	var head string
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check the hash chain of an audit log; names the first bad line",
		Args:  exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return failedError(err)
			}
			defer f.Close()
			rep, err := audit.Verify(f, audit.VerifyOptions{Head: head})
			if err != nil {
				return failedError(fmt.Errorf("%s: %w", args[0], err))
			}
			fmt.Fprintf(a.Stdout, "ok: %d events, chain intact, head %s\n", rep.Lines, rep.Head)
			return nil
		},
	}
	verify.Flags().StringVar(&head, "head", "", "the last hash you recorded: proves no line was dropped from the end")
	cmd.AddCommand(verify)
	return cmd
}

func newVersionCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0),
		RunE: func(_ *cobra.Command, _ []string) error {
			opa := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/open-policy-agent/opa" {
						opa = d.Version
					}
				}
			}
			fmt.Fprintf(a.Stdout, "clawbroker %s (%s, %s/%s, OPA %s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, opa)
			return nil
		},
	}
}

func newExecCommand(a *App) *cobra.Command {
	var agent, cwd string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "exec [--agent A] [--timeout D] -- TOOL ARGS...",
		Short: "Run one configured tool through policy and the sandbox",
		Long: `exec asks the policy for tool.exec, runs the tool inside the OS sandbox and
prints its stdout and stderr to this process's own, exiting with the tool's
code. A denied run prints the reasons and exits 1.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(errors.New("exec: name a tool: clawbroker exec -- TOOL ARGS..."))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.LoadConfig()
			if err != nil {
				return err
			}
			b, closeFn, err := a.openBroker(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer closeFn()
			res, err := b.Exec(cmd.Context(), broker.Subject{Agent: agent}, broker.ExecRequest{
				Tool: args[0], Args: args[1:], Cwd: cwd, Timeout: timeout, Stdin: nil,
			})
			if err != nil {
				var de *broker.DenyError
				if errors.As(err, &de) {
					fmt.Fprintf(a.Stderr, "clawbroker: denied (decision %s):\n", de.DecisionID)
					for _, r := range de.Reasons {
						fmt.Fprintln(a.Stderr, "  -", r)
					}
					return silentExit(ExitFailed)
				}
				if errors.Is(err, broker.ErrInvalid) {
					return usageError(err)
				}
				return failedError(err)
			}
			a.Stdout.Write(res.Stdout)
			a.Stderr.Write(res.Stderr)
			if res.StdoutTruncated || res.StderrTruncated {
				fmt.Fprintln(a.Stderr, "clawbroker: output was cut at sandbox.max_output_bytes")
			}
			if res.TimedOut {
				fmt.Fprintf(a.Stderr, "clawbroker: %s timed out and was killed\n", args[0])
			}
			if res.ExitCode != 0 {
				return silentExit(res.ExitCode)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&agent, "agent", "default", "agent id to run as")
	cmd.Flags().StringVar(&cwd, "cwd", "", "working directory (relative to the workspace, or absolute)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "timeout (default sandbox.timeout_ms)")
	return cmd
}
