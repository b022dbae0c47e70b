package sandbox

import (
	"testing"

	"golang.org/x/sys/windows"
)

func TestJobObjectConstantsMatchWindows(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint32
	}{
		{"ACTIVE_PROCESS", jobObjectLimitActiveProcess, windows.JOB_OBJECT_LIMIT_ACTIVE_PROCESS},
		{"JOB_MEMORY", jobObjectLimitJobMemory, windows.JOB_OBJECT_LIMIT_JOB_MEMORY},
		{"DIE_ON_UNHANDLED_EXCEPTION", jobObjectLimitDieOnUnhandledException, windows.JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION},
		{"KILL_ON_JOB_CLOSE", jobObjectLimitKillOnJobClose, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
		{"UILIMIT_HANDLES", jobObjectUILimitHandles, windows.JOB_OBJECT_UILIMIT_HANDLES},
		{"UILIMIT_READCLIPBOARD", jobObjectUILimitReadClipboard, windows.JOB_OBJECT_UILIMIT_READCLIPBOARD},
		{"UILIMIT_WRITECLIPBOARD", jobObjectUILimitWriteClipboard, windows.JOB_OBJECT_UILIMIT_WRITECLIPBOARD},
		{"UILIMIT_SYSTEMPARAMETERS", jobObjectUILimitSystemParameters, windows.JOB_OBJECT_UILIMIT_SYSTEMPARAMETERS},
		{"UILIMIT_DISPLAYSETTINGS", jobObjectUILimitDisplaySettings, windows.JOB_OBJECT_UILIMIT_DISPLAYSETTINGS},
		{"UILIMIT_GLOBALATOMS", jobObjectUILimitGlobalAtoms, windows.JOB_OBJECT_UILIMIT_GLOBALATOMS},
		{"UILIMIT_DESKTOP", jobObjectUILimitDesktop, windows.JOB_OBJECT_UILIMIT_DESKTOP},
		{"UILIMIT_EXITWINDOWS", jobObjectUILimitExitWindows, windows.JOB_OBJECT_UILIMIT_EXITWINDOWS},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}
