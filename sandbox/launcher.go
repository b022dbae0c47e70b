package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// ErrUnsupported is returned by New when this OS, or this machine, has no
// sandbox the package can drive (for example bubblewrap is missing).
var ErrUnsupported = errors.New("sandbox: unsupported")

// ErrInvalidSpec is wrapped by every error Launch returns for a Spec it
// refuses before starting anything.
var ErrInvalidSpec = errors.New("sandbox: invalid spec")

// defaultMaxOutputBytes is the per-stream cap used when
// Limits.MaxOutputBytes is zero.
const defaultMaxOutputBytes = 1 << 20

// Spec describes one tool run.
type Spec struct {
	// Command is the absolute path of the program. It is resolved through
	// symlinks before it is bound, and the resolved path is what runs.
	Command string
	// Args are argv[1:]; argv[0] is Command.
	Args []string
	// Env holds "KEY=VALUE" entries: the only environment the tool sees.
	Env []string
	// Dir is the absolute working directory inside the sandbox. It must lie
	// inside a bound path. Empty means the first read-write path, else the
	// first read-only path, else "/".
	Dir string
	// ReadOnlyPaths and ReadWritePaths are absolute host paths made
	// visible at the same place inside the sandbox, after resolving
	// symlinks.
	ReadOnlyPaths  []string
	ReadWritePaths []string
	// Network grants the host's network; without it the tool has only a
	// private loopback interface.
	Network bool
	// Stdin is written to the tool's standard input, which is then closed.
	Stdin  []byte
	Limits Limits
}

// Limits bound one run. Zero values mean the defaults documented on each
// field; negative values are invalid.
type Limits struct {
	// Timeout kills the whole sandbox when it expires; 0 = only the
	// context bounds the run.
	Timeout time.Duration
	// MaxOutputBytes is kept per stream; the rest is read and discarded.
	// 0 = 1 MiB.
	MaxOutputBytes int64
	// MemoryBytes caps the memory of the whole sandbox; 0 = no limit.
	MemoryBytes int64
	// MaxProcesses caps the number of processes (and threads, where the
	// mechanism counts them) in the sandbox; 0 = no limit.
	MaxProcesses int
}

// Enforcement names a limit and the mechanism that enforced it, such as
// {"memory", "cgroup v1 memory.limit_in_bytes"} or {"processes", "RLIMIT_NPROC"}.
type Enforcement struct{ Limit, By string }

// Result is the outcome of a tool that ran. A tool that fails, crashes or
// times out is still a Result.
type Result struct {
	// ExitCode is the tool's exit status, 128+signal when a signal killed it.
	ExitCode int
	Stdout   []byte
	Stderr   []byte
	// StdoutTruncated and StderrTruncated report that output beyond
	// Limits.MaxOutputBytes was discarded.
	StdoutTruncated bool
	StderrTruncated bool
	// TimedOut reports that the timeout or the context ended the run.
	TimedOut bool
	Duration time.Duration
	// Enforced lists the limits that were in force and what enforced them.
	Enforced []Enforcement
}

// Launcher runs tools in a sandbox. Implementations are safe for concurrent
// use.
type Launcher interface {
	// Launch runs spec to completion. It returns an error wrapping
	// ErrInvalidSpec for a bad spec, and other errors (never a partial run)
	// when the sandbox cannot be set up; a tool that fails is a Result, not
	// an error.
	Launch(ctx context.Context, spec Spec) (Result, error)
	// Name is the mechanism: "bubblewrap", "sandbox-exec" or "job-object".
	Name() string
}

// Options configure New.
type Options struct {
	// BwrapPath is the bubblewrap binary; "" looks up "bwrap" on PATH.
	// Only the Linux launcher uses it.
	BwrapPath string
}

// invalidSpec builds an error wrapping ErrInvalidSpec.
func invalidSpec(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
}

// validateSpec checks what every launcher requires of a Spec before any
// path is resolved.
func validateSpec(spec Spec) error {
	if spec.Command == "" {
		return invalidSpec("command is empty: give the absolute path of the program")
	}
	if err := checkAbsolute("command", spec.Command); err != nil {
		return err
	}
	for i, a := range spec.Args {
		if strings.ContainsRune(a, 0) {
			return invalidSpec("argument %d contains a NUL byte: remove it", i+1)
		}
	}
	for _, kv := range spec.Env {
		key, _, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return invalidSpec("environment entry %q is not KEY=VALUE", kv)
		}
		if strings.ContainsRune(kv, 0) {
			return invalidSpec("environment entry for %q contains a NUL byte: remove it", key)
		}
	}
	if spec.Dir != "" {
		if err := checkAbsolute("working directory", spec.Dir); err != nil {
			return err
		}
	}
	for _, p := range spec.ReadOnlyPaths {
		if err := checkAbsolute("read-only path", p); err != nil {
			return err
		}
	}
	for _, p := range spec.ReadWritePaths {
		if err := checkAbsolute("read-write path", p); err != nil {
			return err
		}
	}
	l := spec.Limits
	switch {
	case l.Timeout < 0:
		return invalidSpec("timeout %v is negative: use 0 for no timeout", l.Timeout)
	case l.MaxOutputBytes < 0:
		return invalidSpec("max output bytes %d is negative: use 0 for the 1 MiB default", l.MaxOutputBytes)
	case l.MemoryBytes < 0:
		return invalidSpec("memory limit %d is negative: use 0 for no limit", l.MemoryBytes)
	case l.MaxProcesses < 0:
		return invalidSpec("process limit %d is negative: use 0 for no limit", l.MaxProcesses)
	}
	return nil
}

// checkAbsolute reports a path that is empty, relative or contains NUL.
func checkAbsolute(what, p string) error {
	if strings.ContainsRune(p, 0) {
		return invalidSpec("%s %q contains a NUL byte: remove it", what, p)
	}
	if !filepath.IsAbs(p) {
		return invalidSpec("%s %q is not absolute: give the full path", what, p)
	}
	return nil
}

// outputLimit is the per-stream cap in force for l.
func outputLimit(l Limits) int64 {
	if l.MaxOutputBytes == 0 {
		return defaultMaxOutputBytes
	}
	return l.MaxOutputBytes
}
