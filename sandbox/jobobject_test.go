package sandbox

import (
	"math"
	"slices"
	"testing"
)

func TestJobObjectLimits(t *testing.T) {
	base := uint32(jobObjectLimitKillOnJobClose | jobObjectLimitDieOnUnhandledException)
	tests := []struct {
		name     string
		limits   Limits
		want     jobLimits
		enforced []Enforcement
	}{
		{
			name:   "no limits still dies with the job",
			limits: Limits{},
			want:   jobLimits{LimitFlags: base, UIRestrictions: jobObjectUILimitAll},
		},
		{
			name:   "memory and processes",
			limits: Limits{MemoryBytes: 512 << 20, MaxProcesses: 64},
			want: jobLimits{
				LimitFlags:         base | jobObjectLimitJobMemory | jobObjectLimitActiveProcess,
				ActiveProcessLimit: 64,
				JobMemoryLimit:     512 << 20,
				UIRestrictions:     jobObjectUILimitAll,
			},
			enforced: []Enforcement{
				{Limit: "memory", By: "job object JobMemoryLimit"},
				{Limit: "processes", By: "job object ActiveProcessLimit"},
			},
		},
		{
			name:   "huge process count clamps",
			limits: Limits{MaxProcesses: math.MaxInt},
			want: jobLimits{
				LimitFlags:         base | jobObjectLimitActiveProcess,
				ActiveProcessLimit: math.MaxUint32,
				UIRestrictions:     jobObjectUILimitAll,
			},
			enforced: []Enforcement{{Limit: "processes", By: "job object ActiveProcessLimit"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, enforced := jobObjectLimits(tt.limits)
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !slices.Equal(enforced, tt.enforced) {
				t.Fatalf("got enforced %v, want %v", enforced, tt.enforced)
			}
		})
	}
	if got, want := jobObjectUILimitAll, uint32(0xff); got != want {
		t.Fatalf("got UI restrictions %#x, want every JOB_OBJECT_UILIMIT flag %#x", got, want)
	}
}
