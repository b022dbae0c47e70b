package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Descriptor numbers of bubblewrap's side channels: ExtraFiles start at 3.
var linuxFDs = bwrapFDs{Seccomp: 3, Info: 4, Block: 5}

// infoTimeout bounds the wait for bubblewrap to report its child.
const infoTimeout = 30 * time.Second

// minBwrap is the oldest bubblewrap with --disable-userns.
var minBwrap = [2]int{0, 8}

// seccompArches are the Go architectures the seccomp filter has tables for.
var seccompArches = []string{"amd64", "arm64"}

// bwrapLauncher runs tools under bubblewrap with a seccomp filter, in a
// cgroup of their own where the host lets the broker make one.
type bwrapLauncher struct {
	bwrap   string
	layout  hostLayout
	filter  []byte
	cgroups *cgroupManager
}

// New returns the bubblewrap launcher. It returns an error wrapping
// ErrUnsupported when bubblewrap is missing or too old, or the CPU
// architecture has no seccomp table. The returned Launcher also implements
// io.Closer, which removes the cgroups it keeps for reuse.
func New(opts Options) (Launcher, error) {
	if !slices.Contains(seccompArches, runtime.GOARCH) {
		return nil, fmt.Errorf("%w: no seccomp syscall table for %s: run the broker on amd64 or arm64", ErrUnsupported, runtime.GOARCH)
	}
	bwrap, err := findBwrap(opts.BwrapPath)
	if err != nil {
		return nil, err
	}
	if err := checkBwrapVersion(bwrap); err != nil {
		return nil, err
	}
	layout, err := detectLayout()
	if err != nil {
		return nil, err
	}
	filter, err := seccompProgram(binary.NativeEndian)
	if err != nil {
		return nil, err
	}
	l := &bwrapLauncher{bwrap: bwrap, layout: layout, filter: filter}
	// Without a writable cgroup the limits fall back to rlimits, which
	// Result.Enforced reports.
	l.cgroups, _ = newCgroupManager()
	return l, nil
}

// findBwrap returns the absolute path of the bubblewrap binary.
func findBwrap(configured string) (string, error) {
	if configured == "" {
		p, err := exec.LookPath("bwrap")
		if err != nil {
			return "", fmt.Errorf("%w: bubblewrap not found on PATH: install it with apt-get install bubblewrap, or set sandbox.bwrap_path", ErrUnsupported)
		}
		return filepath.Abs(p)
	}
	if !filepath.IsAbs(configured) {
		return "", fmt.Errorf("%w: sandbox.bwrap_path %q is not absolute: give the full path, e.g. /usr/bin/bwrap", ErrUnsupported, configured)
	}
	fi, err := os.Stat(configured)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: sandbox.bwrap_path %q is not an executable file: install bubblewrap with apt-get install bubblewrap and point sandbox.bwrap_path at it", ErrUnsupported, configured)
	}
	return configured, nil
}

var bwrapVersionRE = regexp.MustCompile(`bubblewrap (\d+)\.(\d+)`)

// checkBwrapVersion makes sure bwrap knows every option the launcher uses.
func checkBwrapVersion(bwrap string) error {
	cmd := exec.Command(bwrap, "--version")
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%w: %s --version failed (%v): reinstall bubblewrap with apt-get install bubblewrap", ErrUnsupported, bwrap, err)
	}
	m := bwrapVersionRE.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("%w: %s --version printed %q, not a bubblewrap version: point sandbox.bwrap_path at bubblewrap", ErrUnsupported, bwrap, bytes.TrimSpace(out))
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if major < minBwrap[0] || major == minBwrap[0] && minor < minBwrap[1] {
		return fmt.Errorf("%w: bubblewrap %d.%d is too old, %d.%d or newer is needed for --disable-userns: upgrade the bubblewrap package", ErrUnsupported, major, minor, minBwrap[0], minBwrap[1])
	}
	return nil
}

// detectLayout learns which top-level system entries are directories and
// which are symlinks (merged /usr).
func detectLayout() (hostLayout, error) {
	var h hostLayout
	for _, p := range systemTopLevel {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return hostLayout{}, fmt.Errorf("sandbox: read link %s: %w", p, err)
			}
			h.Symlinks = append(h.Symlinks, symlink{Target: target, Path: p})
		case fi.IsDir():
			h.Dirs = append(h.Dirs, p)
		}
	}
	if !slices.Contains(h.Dirs, "/usr") {
		return hostLayout{}, fmt.Errorf("%w: /usr is not a directory on this host, so there is no system to bind into the sandbox", ErrUnsupported)
	}
	return h, nil
}

// Name implements Launcher.
func (l *bwrapLauncher) Name() string { return "bubblewrap" }

// Close removes the empty cgroups kept for reuse.
func (l *bwrapLauncher) Close() error {
	if l.cgroups != nil {
		l.cgroups.close()
	}
	return nil
}

// Launch implements Launcher.
func (l *bwrapLauncher) Launch(ctx context.Context, spec Spec) (Result, error) {
	rs, err := resolveSpec(spec, osResolver, l.layout.Dirs)
	if err != nil {
		return Result{}, err
	}
	if err := checkLinuxMounts(rs); err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, errNotStarted(ctx)
	}
	return l.run(ctx, rs, bwrapArgs(rs, l.layout, linuxFDs))
}

// pipes are the descriptors of one run; close closes whatever is left.
type pipes struct{ files []*os.File }

func (p *pipes) pipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err == nil {
		p.files = append(p.files, r, w)
	}
	return r, w, err
}

func (p *pipes) close() {
	for _, f := range p.files {
		_ = f.Close()
	}
}

// run starts bubblewrap, puts the sandbox in its cgroup (or under rlimits)
// while bubblewrap holds it on --block-fd, then lets the tool run.
func (l *bwrapLauncher) run(ctx context.Context, rs resolvedSpec, args []string) (Result, error) {
	var fds pipes
	defer fds.close()
	seccompR, seccompW, err := fds.pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	// The program is far smaller than a pipe buffer, so this never blocks.
	if _, err := seccompW.Write(l.filter); err != nil {
		return Result{}, fmt.Errorf("sandbox: write seccomp program: %w", err)
	}
	_ = seccompW.Close()
	infoR, infoW, err := fds.pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	blockR, blockW, err := fds.pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	stdoutR, stdoutW, err := fds.pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	stderrR, stderrW, err := fds.pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	var stdinR, stdinW *os.File
	if len(rs.Stdin) > 0 {
		if stdinR, stdinW, err = fds.pipe(); err != nil {
			return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
		}
	}

	cmd := &exec.Cmd{
		Path:       l.bwrap,
		Args:       append([]string{l.bwrap}, args...),
		Env:        []string{}, // nothing of the broker's environment
		Dir:        "/",
		Stdout:     stdoutW,
		Stderr:     stderrW,
		ExtraFiles: []*os.File{seccompR, infoW, blockR},
		SysProcAttr: &syscall.SysProcAttr{
			// If the broker dies, bubblewrap dies, and --die-with-parent
			// takes the sandbox with it.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if stdinR != nil {
		cmd.Stdin = stdinR
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("sandbox: start %s: %w", l.bwrap, err)
	}
	// Keep only the broker's ends, so EOFs arrive when the sandbox ends.
	for _, f := range []*os.File{seccompR, infoW, blockR, stdoutW, stderrW, stdinR} {
		if f != nil {
			_ = f.Close()
		}
	}
	proc := &bwrapProcess{cmd: cmd, pidfd: -1}
	defer proc.closePidfd()

	childPid, err := readChildPid(infoR)
	if err != nil {
		return Result{}, proc.abort(stderrR, "bubblewrap did not start the sandbox", err)
	}
	proc.attach(childPid)

	// The child is moved (or limited) before it may run the tool; every
	// sandbox process descends from it.
	enforced, cg, err := l.confine(rs.Limits, childPid)
	if cg != nil {
		defer cg.release()
	}
	if err != nil {
		return Result{}, proc.abort(stderrR, "cannot apply limits", err)
	}

	// Let the tool run. A write error means the sandbox died during setup.
	if _, err := blockW.Write([]byte{0}); err != nil {
		return Result{}, proc.abort(stderrR, "bubblewrap failed while setting up the sandbox", err)
	}
	_ = blockW.Close()
	// The monitor outside the namespaces forks nothing more, so it can
	// follow while the tool starts; it is not reaped yet, so its pid is
	// still its own.
	if err := l.confineMonitor(cg, rs.Limits, cmd.Process.Pid); err != nil {
		proc.kill()
		_, _ = proc.wait()
		return Result{}, err
	}

	var stdin io.WriteCloser
	if stdinW != nil {
		stdin = stdinW
	}
	res, err := supervise(ctx, proc, sandboxStreams{stdin: stdin, stdout: stdoutR, stderr: stderrR}, rs.Stdin, rs.Limits, started)
	if err != nil {
		return Result{}, err
	}
	// bubblewrap reports its own setup failures as "bwrap: ..." with exit
	// status 1 before the tool starts; that is a sandbox error, not a run.
	if res.ExitCode == 1 && !res.TimedOut && len(res.Stdout) == 0 && bytes.HasPrefix(res.Stderr, []byte("bwrap: ")) {
		return Result{}, fmt.Errorf("sandbox: bubblewrap could not set up the sandbox: %s", bytes.TrimSpace(res.Stderr))
	}
	res.Enforced = enforced
	return res, nil
}

// confine applies the memory and process limits to bubblewrap and its
// child before the tool runs: through a cgroup where one is writable,
// otherwise through rlimits.
func (l *bwrapLauncher) confine(limits Limits, pids ...int) ([]Enforcement, *runCgroup, error) {
	var enforced []Enforcement
	var cg *runCgroup
	memoryByCgroup, procsByCgroup := false, false
	if l.cgroups != nil {
		var err error
		if cg, err = l.cgroups.get(); err != nil {
			return nil, nil, err
		}
		e, err := cg.setLimits(limits.MemoryBytes, limits.MaxProcesses)
		if err != nil {
			// A pooled cgroup may refuse a lower limit while it still holds
			// page cache; a fresh one will not.
			cg.remove()
			if cg, err = l.cgroups.get(); err != nil {
				return nil, nil, err
			}
			if e, err = cg.setLimits(limits.MemoryBytes, limits.MaxProcesses); err != nil {
				return nil, cg, err
			}
		}
		if err := cg.add(pids...); err != nil {
			return nil, cg, fmt.Errorf("sandbox: move sandbox into cgroup: %w", err)
		}
		enforced = append(enforced, e...)
		memoryByCgroup = cg.memoryDir != ""
		procsByCgroup = cg.pidsDir != ""
	}
	if limits.MemoryBytes > 0 && !memoryByCgroup {
		lim := uint64(limits.MemoryBytes)
		if err := prlimitAll(unix.RLIMIT_AS, lim, pids); err != nil {
			return nil, cg, err
		}
		enforced = append(enforced, Enforcement{Limit: "memory", By: "RLIMIT_AS"})
	}
	if limits.MaxProcesses > 0 && !procsByCgroup {
		if err := prlimitAll(unix.RLIMIT_NPROC, uint64(limits.MaxProcesses), pids); err != nil {
			return nil, cg, err
		}
		enforced = append(enforced, Enforcement{Limit: "processes", By: "RLIMIT_NPROC"})
	}
	return enforced, cg, nil
}

// confineMonitor gives bubblewrap's monitor process the sandbox's cgroup
// or rlimits too.
func (l *bwrapLauncher) confineMonitor(cg *runCgroup, limits Limits, pid int) error {
	if cg != nil {
		if err := cg.add(pid); err != nil {
			return fmt.Errorf("sandbox: move bubblewrap into cgroup: %w", err)
		}
	}
	if limits.MemoryBytes > 0 && (cg == nil || cg.memoryDir == "") {
		return prlimitAll(unix.RLIMIT_AS, uint64(limits.MemoryBytes), []int{pid})
	}
	return nil
}

func prlimitAll(resource int, value uint64, pids []int) error {
	lim := unix.Rlimit{Cur: value, Max: value}
	for _, pid := range pids {
		if err := unix.Prlimit(pid, resource, &lim, nil); err != nil {
			return fmt.Errorf("sandbox: set rlimit %d on pid %d: %w", resource, pid, err)
		}
	}
	return nil
}

// readChildPid reads bubblewrap's --info-fd report.
func readChildPid(r *os.File) (int, error) {
	_ = r.SetReadDeadline(time.Now().Add(infoTimeout))
	data, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return 0, err
	}
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	if err := json.Unmarshal(data, &info); err != nil || info.ChildPid <= 0 {
		return 0, errors.New("no child-pid in bubblewrap's info")
	}
	return info.ChildPid, nil
}

// bwrapProcess is a running bubblewrap: the monitor the broker started and
// the child that is pid 1 of the sandbox's pid namespace.
type bwrapProcess struct {
	cmd   *exec.Cmd
	pidfd int
}

// attach opens a pidfd for the sandbox's pid 1, so that killing it later
// can never hit a recycled pid.
func (p *bwrapProcess) attach(pid int) {
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		p.pidfd = fd
	}
}

func (p *bwrapProcess) closePidfd() {
	if p.pidfd >= 0 {
		_ = unix.Close(p.pidfd)
		p.pidfd = -1
	}
}

// wait implements sandboxProcess.
func (p *bwrapProcess) wait() (int, error) {
	err := p.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, fmt.Errorf("sandbox: wait for bubblewrap: %w", err)
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return p.cmd.ProcessState.ExitCode(), nil
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// kill implements sandboxProcess. Killing the namespace's pid 1 makes the
// kernel kill every process in the namespace; killing the monitor does the
// same through --die-with-parent; the cgroup sweep after the run catches
// anything else.
func (p *bwrapProcess) kill() {
	if p.pidfd >= 0 {
		_ = unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
}

// abort kills a sandbox that failed before the tool ran and returns an
// error carrying bubblewrap's own message.
func (p *bwrapProcess) abort(stderr *os.File, what string, cause error) error {
	p.kill()
	_ = stderr.SetReadDeadline(time.Now().Add(streamGrace))
	msg, _ := io.ReadAll(io.LimitReader(stderr, 4096))
	_, _ = p.wait()
	if m := bytes.TrimSpace(msg); len(m) > 0 {
		return fmt.Errorf("sandbox: %s: %w: %s", what, cause, m)
	}
	return fmt.Errorf("sandbox: %s: %w", what, cause)
}
