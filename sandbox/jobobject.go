package sandbox

import "math"

// Values from the Windows SDK's winnt.h, spelled out so that the mapping
// is tested on every OS; jobobject_windows_test.go checks them against
// golang.org/x/sys/windows.
const (
	jobObjectLimitActiveProcess                  = 0x00000008
	jobObjectLimitJobMemory                      = 0x00000200
	jobObjectLimitDieOnUnhandledException        = 0x00000400
	jobObjectLimitKillOnJobClose                 = 0x00002000
	jobObjectUILimitHandles                      = 0x00000001
	jobObjectUILimitReadClipboard                = 0x00000002
	jobObjectUILimitWriteClipboard               = 0x00000004
	jobObjectUILimitSystemParameters             = 0x00000008
	jobObjectUILimitDisplaySettings              = 0x00000010
	jobObjectUILimitGlobalAtoms                  = 0x00000020
	jobObjectUILimitDesktop                      = 0x00000040
	jobObjectUILimitExitWindows                  = 0x00000080
	jobObjectUILimitAll                   uint32 = jobObjectUILimitHandles | jobObjectUILimitReadClipboard |
		jobObjectUILimitWriteClipboard | jobObjectUILimitSystemParameters |
		jobObjectUILimitDisplaySettings | jobObjectUILimitGlobalAtoms |
		jobObjectUILimitDesktop | jobObjectUILimitExitWindows
)

// killedExitCode is the exit code a job's processes get when the launcher
// terminates the job, matching a Unix SIGKILL.
const killedExitCode = 128 + 9

// jobLimits is what the Windows launcher writes into the Job Object.
type jobLimits struct {
	// LimitFlags go to JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags.
	LimitFlags uint32
	// ActiveProcessLimit counts processes in the job, the tool included.
	ActiveProcessLimit uint32
	// JobMemoryLimit caps committed memory of the whole job, in bytes.
	JobMemoryLimit uint64
	// UIRestrictions go to JOBOBJECT_BASIC_UI_RESTRICTIONS.
	UIRestrictions uint32
}

// jobObjectLimits maps Limits onto Job Object settings and says what
// enforces each limit. Every job dies with its handle, dies instead of
// showing a crash dialog, and may not touch the desktop, the clipboard,
// global atoms, system parameters or other processes' windows.
func jobObjectLimits(l Limits) (jobLimits, []Enforcement) {
	j := jobLimits{
		LimitFlags:     jobObjectLimitKillOnJobClose | jobObjectLimitDieOnUnhandledException,
		UIRestrictions: jobObjectUILimitAll,
	}
	var enforced []Enforcement
	if l.MemoryBytes > 0 {
		j.LimitFlags |= jobObjectLimitJobMemory
		j.JobMemoryLimit = uint64(l.MemoryBytes)
		enforced = append(enforced, Enforcement{Limit: "memory", By: "job object JobMemoryLimit"})
	}
	if l.MaxProcesses > 0 {
		j.LimitFlags |= jobObjectLimitActiveProcess
		j.ActiveProcessLimit = uint32(min(uint64(l.MaxProcesses), math.MaxUint32))
		enforced = append(enforced, Enforcement{Limit: "processes", By: "job object ActiveProcessLimit"})
	}
	return j, enforced
}
