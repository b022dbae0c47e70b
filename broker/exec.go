package broker

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
	"github.com/clawbroker/clawbroker/sandbox"
)

// Request limits. They keep a hostile agent from making the broker do
// unbounded work before the policy is even asked.
const (
	MaxArgs     = 256
	MaxArgBytes = 32 << 10
	MaxEnvVars  = 64
	MaxStdin    = 1 << 20
)

// ExecRequest asks to run a configured tool.
type ExecRequest struct {
	Tool    string
	Args    []string
	Cwd     string // relative to the workspace, or absolute; default the workspace
	Stdin   []byte
	Timeout time.Duration // zero: sandbox.timeout_ms; never more than that
	Env     map[string]string
}

// ExecResult is a finished tool run. Output has every injected secret
// replaced with [REDACTED].
type ExecResult struct {
	DecisionID      string
	ExitCode        int
	Stdout, Stderr  []byte
	StdoutTruncated bool
	StderrTruncated bool
	Duration        time.Duration
	TimedOut        bool
	Enforced        []sandbox.Enforcement
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// blockedEnv are variables that make a program load or run code the
// policy never saw (LD_PRELOAD, BASH_ENV, NODE_OPTIONS, ...).
var blockedEnv = map[string]bool{
	"BASH_ENV": true, "ENV": true, "PROMPT_COMMAND": true, "SHELLOPTS": true, "BASHOPTS": true, "PS4": true,
	"IFS": true, "CDPATH": true, "GLOBIGNORE": true, "PATH": true, "HOME": true,
	"PYTHONSTARTUP": true, "PYTHONPATH": true, "PYTHONHOME": true, "PYTHONINSPECT": true,
	"NODE_OPTIONS": true, "NODE_PATH": true, "PERL5OPT": true, "PERL5LIB": true, "PERLLIB": true,
	"RUBYOPT": true, "RUBYLIB": true, "JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true,
	"GIT_SSH": true, "GIT_SSH_COMMAND": true, "GIT_EXEC_PATH": true, "GIT_ASKPASS": true, "SSH_ASKPASS": true,
	"GIT_PAGER": true, "PAGER": true, "EDITOR": true, "VISUAL": true, "GIT_EDITOR": true, "GIT_PROXY_COMMAND": true,
	"GIT_EXTERNAL_DIFF": true, "GIT_CONFIG": true, "GIT_CONFIG_GLOBAL": true, "GIT_CONFIG_SYSTEM": true,
	"GIT_CONFIG_COUNT": true, "GIT_TEMPLATE_DIR": true, "LESSOPEN": true, "LESSCLOSE": true,
}

var blockedEnvPrefixes = []string{"LD_", "DYLD_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "BASH_FUNC_"}

func validateExec(req ExecRequest, cfg *config.Config) error {
	if req.Tool == "" {
		return invalid("tool", "must name a configured tool")
	}
	if len(req.Tool) > 64 || strings.ContainsAny(req.Tool, "/\x00") {
		return invalid("tool", "must be a tool name, not a path")
	}
	if len(req.Args) > MaxArgs {
		return invalid("args", "%d arguments, more than the %d allowed", len(req.Args), MaxArgs)
	}
	for i, a := range req.Args {
		if len(a) > MaxArgBytes {
			return invalid(fmt.Sprintf("args[%d]", i), "longer than %d bytes", MaxArgBytes)
		}
		if strings.IndexByte(a, 0) >= 0 {
			return invalid(fmt.Sprintf("args[%d]", i), "contains a NUL byte")
		}
	}
	if len(req.Stdin) > MaxStdin {
		return invalid("stdin", "longer than %d bytes", MaxStdin)
	}
	if req.Timeout < 0 {
		return invalid("timeout_ms", "must not be negative")
	}
	if max := cfg.Sandbox.Timeout(); req.Timeout > max {
		return invalid("timeout_ms", "%d ms is over the %d ms limit (sandbox.timeout_ms)", req.Timeout.Milliseconds(), max.Milliseconds())
	}
	if len(req.Env) > MaxEnvVars {
		return invalid("env", "%d variables, more than the %d allowed", len(req.Env), MaxEnvVars)
	}
	tool := cfg.Tools[req.Tool]
	for k, v := range req.Env {
		field := "env." + k
		if !envNameRE.MatchString(k) {
			return invalid(field, "not a valid variable name")
		}
		if blockedEnv[k] || hasAnyPrefix(k, blockedEnvPrefixes) {
			return invalid(field, "may make the tool run code the policy never saw, so it cannot be set")
		}
		if _, ok := tool.Credentials[k]; ok {
			return invalid(field, "is filled by the broker from the credential store")
		}
		if len(v) > MaxArgBytes || strings.IndexByte(v, 0) >= 0 {
			return invalid(field, "longer than %d bytes or contains a NUL byte", MaxArgBytes)
		}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Exec runs a configured tool for the subject: the policy decides
// tool.exec on the tool's declared command and capabilities, each mapped
// credential passes credential.read and goes into the sandbox's env only,
// the tool runs inside the OS sandbox with the configured limits, and its
// output comes back with every injected secret redacted. The run is one
// tool_execution event; a launcher failure is a sandbox_error event.
func (b *Broker) Exec(ctx context.Context, sub Subject, req ExecRequest) (ExecResult, error) {
	st := b.state.Current()
	cfg := st.cfg
	if err := validateExec(req, cfg); err != nil {
		return ExecResult{}, err
	}
	in := policy.Input{Action: policy.ActionToolExec, Tool: &policy.ToolInput{Name: req.Tool, Argv: req.Args, Cwd: req.Cwd}}
	if err := b.fill(st, sub, &in); err != nil {
		return ExecResult{}, err
	}
	d, err := b.require(ctx, st, in)
	if err != nil {
		return ExecResult{DecisionID: d.ID}, err
	}
	tool, ok := cfg.Tools[req.Tool]
	if !ok {
		// Only a custom policy that allows undeclared tools gets here.
		return ExecResult{DecisionID: d.ID}, fmt.Errorf("%w: tool %q is not configured", ErrNotFound, req.Tool)
	}
	b.inflight.Add(1)
	defer b.inflight.Done()

	spec := ToolSpec(cfg, tool, req.Args, in.Tool.Cwd)
	spec.Stdin = req.Stdin
	if req.Timeout > 0 {
		spec.Limits.Timeout = req.Timeout
	}
	for k, v := range req.Env {
		spec.Env = append(spec.Env, k+"="+v)
	}
	var secrets [][]byte
	defer func() {
		for _, s := range secrets {
			clear(s)
		}
	}()
	envNames := make([]string, 0, len(tool.Credentials))
	for name := range tool.Credentials {
		envNames = append(envNames, name)
	}
	sort.Strings(envNames)
	for _, name := range envNames {
		cr, err := b.readCredential(ctx, st, sub, tool.Credentials[name], req.Tool)
		if err != nil {
			return ExecResult{DecisionID: d.ID}, err
		}
		v := cr.Secret.Bytes()
		secrets = append(secrets, v)
		spec.Env = append(spec.Env, name+"="+string(v))
	}

	launcher, err := b.sandboxLauncher(cfg)
	if err == nil {
		var res sandbox.Result
		res, err = launcher.Launch(ctx, spec)
		if err == nil {
			return b.finishExec(d.ID, sub, req, res, secrets)
		}
	}
	b.log.Error().Err(err).Str("decision_id", d.ID).Str("tool", req.Tool).Msg("sandbox failed")
	msg := redactSecrets([]byte(err.Error()), secrets)
	if aerr := b.audit.SandboxError(audit.SandboxError{Tool: req.Tool, Agent: sub.Agent, DecisionID: d.ID, Error: string(msg)}); aerr != nil {
		return ExecResult{DecisionID: d.ID}, fmt.Errorf("%w: %w", ErrAudit, aerr)
	}
	return ExecResult{DecisionID: d.ID}, fmt.Errorf("%w: %s", ErrSandbox, msg)
}

func (b *Broker) finishExec(decisionID string, sub Subject, req ExecRequest, res sandbox.Result, secrets [][]byte) (ExecResult, error) {
	out := ExecResult{
		DecisionID:      decisionID,
		ExitCode:        res.ExitCode,
		Stdout:          redactOutput(res.Stdout, secrets, res.StdoutTruncated),
		Stderr:          redactOutput(res.Stderr, secrets, res.StderrTruncated),
		StdoutTruncated: res.StdoutTruncated,
		StderrTruncated: res.StderrTruncated,
		Duration:        res.Duration,
		TimedOut:        res.TimedOut,
		Enforced:        res.Enforced,
	}
	ev := audit.ToolExecution{
		Tool: req.Tool, Agent: sub.Agent, DecisionID: decisionID, Argv: req.Args,
		ExitCode: res.ExitCode, DurationMS: res.Duration.Milliseconds(), TimedOut: res.TimedOut,
		StdoutTruncated: res.StdoutTruncated, StderrTruncated: res.StderrTruncated,
	}
	if err := b.audit.ToolExecution(ev); err != nil {
		// The tool ran, but its record could not be written: withhold the
		// output rather than hand out results nobody can audit.
		return ExecResult{DecisionID: decisionID}, fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return out, nil
}

// ToolSpec is the sandbox spec for running a configured tool with args in
// cwd (resolved): its file_read paths bound read-only, file_write paths
// read-write, network on with a network capability, cwd bound read-only
// when no capability covers it, the broker's base environment and the
// configured limits. Exec adds the request's env, injected credentials,
// stdin and timeout.
func ToolSpec(cfg *config.Config, tool config.Tool, args []string, cwd string) sandbox.Spec {
	spec := sandbox.Spec{
		Command: tool.Command,
		Args:    args,
		Env:     baseEnv(cfg, cwd),
		Dir:     cwd,
		Limits: sandbox.Limits{
			Timeout:        cfg.Sandbox.Timeout(),
			MaxOutputBytes: cfg.Sandbox.MaxOutputBytes,
			MemoryBytes:    int64(cfg.Sandbox.MemoryMB) << 20,
			MaxProcesses:   cfg.Sandbox.MaxPids,
		},
	}
	cwdBound := false
	for _, c := range tool.Capabilities {
		switch c.Type {
		case config.CapFileRead:
			spec.ReadOnlyPaths = append(spec.ReadOnlyPaths, c.Paths...)
		case config.CapFileWrite:
			spec.ReadWritePaths = append(spec.ReadWritePaths, c.Paths...)
		case config.CapNetwork:
			spec.Network = true
		}
		for _, p := range c.Paths {
			cwdBound = cwdBound || within(p, cwd)
		}
	}
	if !cwdBound {
		spec.ReadOnlyPaths = append(spec.ReadOnlyPaths, cwd)
	}
	return spec
}

// baseEnv is the whole environment a tool starts from: nothing of the
// broker's own environment is passed on.
func baseEnv(cfg *config.Config, cwd string) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + cfg.Workspace.Path,
		"PWD=" + cwd,
		"LANG=C.UTF-8",
		"TERM=dumb",
	}
}
