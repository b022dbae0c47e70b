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
	l, err := newBwrapLauncher(opts.BwrapPath)
	if err != nil {
		return nil, err
	}
	if err := checkBwrapVersion(l.bwrap); err != nil {
		return nil, err
	}
	// Without a writable cgroup the limits fall back to rlimits, which
	// Result.Enforced reports.
	l.cgroups, _ = newCgroupManager()
	return l, nil
}

// newBwrapLauncher finds bubblewrap and learns the host layout and the
// seccomp program: everything New and BwrapCommand share. It makes no
// cgroups.
func newBwrapLauncher(bwrapPath string) (*bwrapLauncher, error) {
	if !slices.Contains(seccompArches, runtime.GOARCH) {
		return nil, fmt.Errorf("%w: no seccomp syscall table for %s: run the broker on amd64 or arm64", ErrUnsupported, runtime.GOARCH)
	}
	bwrap, err := findBwrap(bwrapPath)
	if err != nil {
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
	return &bwrapLauncher{bwrap: bwrap, layout: layout, filter: filter}, nil
}

// BwrapCommand returns the bwrap command the launcher runs for spec, with
// the same argv and seccomp filter, but without the cgroup handshake
// (--info-fd and --block-fd) and without enforcing Limits: for benchmarks
// and debugging, never for running agent tools. bwrapPath is as
// Options.BwrapPath.
//
// The command is not started. Its ExtraFiles[0] is the read end of a pipe
// that already holds the seccomp program (bubblewrap's --seccomp 3); the
// caller closes it once the command has started. ctx kills bubblewrap, and
// with it the sandbox, as in exec.CommandContext.
func BwrapCommand(ctx context.Context, bwrapPath string, spec Spec) (*exec.Cmd, error) {
	l, err := newBwrapLauncher(bwrapPath)
	if err != nil {
		return nil, err
	}
	rs, err := l.resolve(spec)
	if err != nil {
		return nil, err
	}
	seccomp, err := seccompPipe(l.filter)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, l.bwrap)
	setupBwrapCmd(cmd, bwrapArgs(rs, l.layout, bareFDs), seccomp)
	return cmd, nil
}

// bareFDs lay out BwrapCommand's side channels: the seccomp program only.
var bareFDs = bwrapFDs{Seccomp: 3}

// setupBwrapCmd makes cmd, whose Path is bubblewrap, run it with args the
// way every sandbox starts: with nothing of the broker's environment, in
// /, with extra as descriptors 3 onwards, and killed if the broker dies,
// which --die-with-parent extends to the sandbox.
func setupBwrapCmd(cmd *exec.Cmd, args []string, extra ...*os.File) {
	cmd.Args = append([]string{cmd.Path}, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// seccompPipe returns the read end of a pipe that holds filter and is
// closed for writing, ready for bubblewrap's --seccomp.
func seccompPipe(filter []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: pipe: %w", err)
	}
	// The program is far smaller than a pipe buffer, so this never blocks.
	_, err = w.Write(filter)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("sandbox: write seccomp program: %w", err)
	}
	return r, nil
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
	rs, err := l.resolve(spec)
	if err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, errNotStarted(ctx)
	}
	return l.run(ctx, rs, bwrapArgs(rs, l.layout, linuxFDs))
}

// resolve resolves spec's paths and refuses mounts that would defeat the
// sandbox.
func (l *bwrapLauncher) resolve(spec Spec) (resolvedSpec, error) {
	rs, err := resolveSpec(spec, osResolver, l.layout.Dirs)
	if err != nil {
		return resolvedSpec{}, err
	}
	if err := checkLinuxMounts(rs); err != nil {
		return resolvedSpec{}, err
	}
	return rs, nil
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
	seccompR, err := seccompPipe(l.filter)
	if err != nil {
		return Result{}, err
	}
	fds.files = append(fds.files, seccompR)
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

	cmd := &exec.Cmd{Path: l.bwrap, Stdout: stdoutW, Stderr: stderrW}
	setupBwrapCmd(cmd, args, seccompR, infoW, blockR)
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

	// While bubblewrap builds the namespaces, ready the cgroup and move the
	// monitor into it, so the child it forks is usually born there: the
	// cgroup writes overlap bubblewrap's work instead of following it. The
	// monitor is not reaped yet, so its pid is still its own.
	cg, cgEnforced, err := l.cgroupFor(rs.Limits, cmd.Process.Pid)
	if cg != nil {
		defer cg.release()
	}
	if err != nil {
		return Result{}, proc.abort(stderrR, "cannot apply limits", err)
	}

	childPid, err := readChildPid(infoR)
	if err != nil {
		return Result{}, proc.abort(stderrR, "bubblewrap did not start the sandbox", err)
	}
	proc.attach(childPid)

	// The child is in the cgroup (or limited) before it may run the tool;
	// every sandbox process descends from it.
	enforced, err := l.confine(cg, cgEnforced, rs.Limits, childPid)
	if err != nil {
		return Result{}, proc.abort(stderrR, "cannot apply limits", err)
	}

	// Let the tool run. A write error means the sandbox died during setup.
	if _, err := blockW.Write([]byte{0}); err != nil {
		return Result{}, proc.abort(stderrR, "bubblewrap failed while setting up the sandbox", err)
	}
	_ = blockW.Close()
	// The monitor outside the namespaces forks nothing more, so its
	// rlimit can follow while the tool starts.
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

// cgroupFor returns a cgroup with limits set, and what they are enforced
// by, holding the bubblewrap monitor. It returns a nil cgroup when the
// host gives the broker none, and the cgroup with an error, for the caller
// to release, when it cannot be set up.
func (l *bwrapLauncher) cgroupFor(limits Limits, monitor int) (*runCgroup, []Enforcement, error) {
	if l.cgroups == nil {
		return nil, nil, nil
	}
	cg, err := l.cgroups.get()
	if err != nil {
		return nil, nil, err
	}
	enforced, err := cg.setLimits(limits.MemoryBytes, limits.MaxProcesses)
	if err != nil {
		// A pooled cgroup may refuse a lower limit while it still holds
		// page cache; a fresh one will not.
		cg.remove()
		if cg, err = l.cgroups.get(); err != nil {
			return nil, nil, err
		}
		if enforced, err = cg.setLimits(limits.MemoryBytes, limits.MaxProcesses); err != nil {
			return cg, nil, err
		}
	}
	if err := cg.add(monitor); err != nil {
		return cg, nil, fmt.Errorf("sandbox: move bubblewrap into cgroup: %w", err)
	}
	return cg, enforced, nil
}

// confine makes sure bubblewrap's child is in cg, which enforces
// cgEnforced, and applies rlimits for the limits cg does not cover (all of
// them when cg is nil), before the tool runs.
func (l *bwrapLauncher) confine(cg *runCgroup, cgEnforced []Enforcement, limits Limits, pid int) ([]Enforcement, error) {
	enforced := slices.Clone(cgEnforced)
	memoryByCgroup, procsByCgroup := false, false
	if cg != nil {
		// A child forked before the monitor moved is still outside.
		if !cg.holds(pid) {
			if err := cg.add(pid); err != nil {
				return nil, fmt.Errorf("sandbox: move sandbox into cgroup: %w", err)
			}
		}
		memoryByCgroup = cg.memoryDir != ""
		procsByCgroup = cg.pidsDir != ""
	}
	pids := []int{pid}
	if limits.MemoryBytes > 0 && !memoryByCgroup {
		if err := prlimitAll(unix.RLIMIT_AS, uint64(limits.MemoryBytes), pids); err != nil {
			return nil, err
		}
		enforced = append(enforced, Enforcement{Limit: "memory", By: "RLIMIT_AS"})
	}
	if limits.MaxProcesses > 0 && !procsByCgroup {
		if err := prlimitAll(unix.RLIMIT_NPROC, uint64(limits.MaxProcesses), pids); err != nil {
			return nil, err
		}
		enforced = append(enforced, Enforcement{Limit: "processes", By: "RLIMIT_NPROC"})
	}
	return enforced, nil
}

// confineMonitor gives bubblewrap's monitor process the memory rlimit
// when no memory cgroup holds it; cgroupFor already moved it into the
// cgroup.
func (l *bwrapLauncher) confineMonitor(cg *runCgroup, limits Limits, pid int) error {
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
