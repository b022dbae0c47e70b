package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// sandboxExec is run by absolute path, never looked up on PATH.
const sandboxExec = "/usr/bin/sandbox-exec"

// seatbeltLauncher runs tools under sandbox-exec with a generated profile.
// macOS has no per-tree memory limit; MaxProcesses of 1 is enforced by
// denying process-fork, larger process limits and memory limits are not
// enforced and are absent from Result.Enforced.
type seatbeltLauncher struct{}

// New returns the sandbox-exec launcher, or an error wrapping
// ErrUnsupported when /usr/bin/sandbox-exec is missing.
func New(opts Options) (Launcher, error) {
	if _, err := os.Stat(sandboxExec); err != nil {
		return nil, fmt.Errorf("%w: %s not found: it ships with macOS; restore it from a system install", ErrUnsupported, sandboxExec)
	}
	return seatbeltLauncher{}, nil
}

// Name implements Launcher.
func (seatbeltLauncher) Name() string { return "sandbox-exec" }

// Launch implements Launcher.
func (seatbeltLauncher) Launch(ctx context.Context, spec Spec) (Result, error) {
	rs, err := resolveSpec(spec, osResolver, seatbeltSystemDirs)
	if err != nil {
		return Result{}, err
	}
	profile, err := seatbeltProfile(rs)
	if err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, errNotStarted(ctx)
	}

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutR.Close()
		stdoutW.Close()
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	env := rs.Env
	if env == nil {
		env = []string{}
	}
	cmd := &exec.Cmd{
		Path:   sandboxExec,
		Args:   append([]string{sandboxExec, "-p", profile, rs.Command}, rs.Args...),
		Env:    env,
		Dir:    rs.Dir,
		Stdout: stdoutW,
		Stderr: stderrW,
		// Its own process group, so the timeout kills the whole tree.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	var stdin io.WriteCloser
	if len(rs.Stdin) > 0 {
		w, err := cmd.StdinPipe()
		if err != nil {
			return Result{}, fmt.Errorf("sandbox: stdin pipe: %w", err)
		}
		stdin = w
	}
	started := time.Now()
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		return Result{}, fmt.Errorf("sandbox: start %s: %w", sandboxExec, err)
	}
	var enforced []Enforcement
	if rs.Limits.MaxProcesses == 1 {
		enforced = append(enforced, Enforcement{Limit: "processes", By: "Seatbelt deny process-fork"})
	}
	res, err := supervise(ctx, groupProcess{cmd}, sandboxStreams{stdin: stdin, stdout: stdoutR, stderr: stderrR}, rs.Stdin, rs.Limits, started)
	if err != nil {
		return Result{}, err
	}
	res.Enforced = enforced
	return res, nil
}

// groupProcess is a sandbox-exec process leading its own process group.
type groupProcess struct{ cmd *exec.Cmd }

// wait implements sandboxProcess.
func (p groupProcess) wait() (int, error) {
	err := p.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, fmt.Errorf("sandbox: wait for sandbox-exec: %w", err)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// kill implements sandboxProcess.
func (p groupProcess) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}
