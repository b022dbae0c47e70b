package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// jobLauncher runs tools in a Job Object: the job bounds memory and process
// count, restricts UI access, and dies with its handle, so closing it on a
// timeout ends every process the tool started. A Job Object does not
// confine the file system or the network; the broker's policy decides
// those before a tool reaches this launcher.
type jobLauncher struct{}

// New returns the Job Object launcher.
func New(opts Options) (Launcher, error) { return jobLauncher{}, nil }

// Name implements Launcher.
func (jobLauncher) Name() string { return "job-object" }

// Launch implements Launcher.
func (jobLauncher) Launch(ctx context.Context, spec Spec) (Result, error) {
	rs, err := resolveSpec(spec, osResolver, nil)
	if err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, errNotStarted(ctx)
	}
	limits, enforced := jobObjectLimits(rs.Limits)
	job, err := newJob(limits)
	if err != nil {
		return Result{}, err
	}
	proc := &jobProcess{job: job}
	defer proc.closeJob()

	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	stdinR, stdinW, err := pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	stdoutR, stdoutW, err := pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	stderrR, stderrW, err := pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: pipe: %w", err)
	}
	childEnds := []windows.Handle{windows.Handle(stdinR.Fd()), windows.Handle(stdoutW.Fd()), windows.Handle(stderrW.Fd())}
	for _, h := range childEnds {
		if err := windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT); err != nil {
			return Result{}, fmt.Errorf("sandbox: make stdio inheritable: %w", err)
		}
	}

	started := time.Now()
	pi, err := startSuspended(rs, childEnds)
	if err != nil {
		return Result{}, err
	}
	proc.process = pi.Process
	defer windows.CloseHandle(pi.Process)
	defer windows.CloseHandle(pi.Thread)
	if err := windows.AssignProcessToJobObject(job, pi.Process); err != nil {
		_ = windows.TerminateProcess(pi.Process, killedExitCode)
		return Result{}, fmt.Errorf("sandbox: assign process to job object: %w", err)
	}
	if _, err := windows.ResumeThread(pi.Thread); err != nil {
		proc.kill()
		return Result{}, fmt.Errorf("sandbox: resume tool: %w", err)
	}
	// Keep only the broker's ends so EOFs arrive when the job ends.
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()
	files = []*os.File{stdinW, stdoutR, stderrR}

	var stdin io.WriteCloser
	if len(rs.Stdin) > 0 {
		stdin = stdinW
	} else {
		stdinW.Close()
	}
	res, err := supervise(ctx, proc, sandboxStreams{stdin: stdin, stdout: stdoutR, stderr: stderrR}, rs.Stdin, rs.Limits, started)
	if err != nil {
		return Result{}, err
	}
	res.Enforced = enforced
	return res, nil
}

// newJob creates a Job Object with limits applied.
func newJob(limits jobLimits) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("sandbox: create job object: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = limits.LimitFlags
	info.BasicLimitInformation.ActiveProcessLimit = limits.ActiveProcessLimit
	info.JobMemoryLimit = uintptr(limits.JobMemoryLimit)
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("sandbox: set job object limits: %w", err)
	}
	ui := windows.JOBOBJECT_BASIC_UI_RESTRICTIONS{UIRestrictionsClass: limits.UIRestrictions}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectBasicUIRestrictions,
		uintptr(unsafe.Pointer(&ui)), uint32(unsafe.Sizeof(ui))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("sandbox: set job object UI restrictions: %w", err)
	}
	return job, nil
}

// startSuspended creates the tool's process suspended, inheriting exactly
// the three stdio handles and the spec's environment.
func startSuspended(rs resolvedSpec, stdio []windows.Handle) (*windows.ProcessInformation, error) {
	attrs, err := windows.NewProcThreadAttributeList(1)
	if err != nil {
		return nil, fmt.Errorf("sandbox: attribute list: %w", err)
	}
	defer attrs.Delete()
	if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
		unsafe.Pointer(&stdio[0]), uintptr(len(stdio))*unsafe.Sizeof(stdio[0])); err != nil {
		return nil, fmt.Errorf("sandbox: restrict inherited handles: %w", err)
	}
	si := &windows.StartupInfoEx{}
	si.Cb = uint32(unsafe.Sizeof(*si))
	si.Flags = windows.STARTF_USESTDHANDLES
	si.StdInput, si.StdOutput, si.StdErr = stdio[0], stdio[1], stdio[2]
	si.ProcThreadAttributeList = attrs.List()

	app, err := windows.UTF16PtrFromString(rs.Command)
	if err != nil {
		return nil, invalidSpec("command %q: %v", rs.Command, err)
	}
	cmdline, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(append([]string{rs.Command}, rs.Args...)))
	if err != nil {
		return nil, invalidSpec("arguments: %v", err)
	}
	dir, err := windows.UTF16PtrFromString(rs.Dir)
	if err != nil {
		return nil, invalidSpec("working directory %q: %v", rs.Dir, err)
	}
	env, err := environmentBlock(rs.Env)
	if err != nil {
		return nil, err
	}
	flags := uint32(windows.CREATE_SUSPENDED | windows.CREATE_UNICODE_ENVIRONMENT |
		windows.EXTENDED_STARTUPINFO_PRESENT | windows.CREATE_NO_WINDOW | windows.CREATE_NEW_PROCESS_GROUP)
	pi := &windows.ProcessInformation{}
	if err := windows.CreateProcess(app, cmdline, nil, nil, true, flags, &env[0], dir, &si.StartupInfo, pi); err != nil {
		return nil, fmt.Errorf("sandbox: create process %s: %w", rs.Command, err)
	}
	return pi, nil
}

// environmentBlock encodes KEY=VALUE entries as a Unicode environment
// block: each entry NUL-terminated, the block ending in an extra NUL.
func environmentBlock(env []string) ([]uint16, error) {
	var block []uint16
	for _, kv := range env {
		u, err := windows.UTF16FromString(kv)
		if err != nil {
			return nil, invalidSpec("environment entry: %v", err)
		}
		block = append(block, u...) // u ends in its NUL
	}
	if len(block) == 0 {
		block = append(block, 0)
	}
	return append(block, 0), nil
}

// jobProcess is the tool's process and the job that holds its tree.
type jobProcess struct {
	job     windows.Handle
	process windows.Handle
	once    sync.Once
}

// wait implements sandboxProcess.
func (p *jobProcess) wait() (int, error) {
	if _, err := windows.WaitForSingleObject(p.process, windows.INFINITE); err != nil {
		return 0, fmt.Errorf("sandbox: wait for tool: %w", err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(p.process, &code); err != nil {
		return 0, fmt.Errorf("sandbox: exit code: %w", err)
	}
	return int(code), nil
}

// kill implements sandboxProcess: terminate every process in the job and
// close it.
func (p *jobProcess) kill() { p.closeJob() }

func (p *jobProcess) closeJob() {
	p.once.Do(func() {
		_ = windows.TerminateJobObject(p.job, killedExitCode)
		_ = windows.CloseHandle(p.job)
	})
}
