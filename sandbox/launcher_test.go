package sandbox

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateSpec(t *testing.T) {
	ok := Spec{Command: "/usr/bin/true"}
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   string // "" = valid; else a word the message must contain
	}{
		{"valid", func(*Spec) {}, ""},
		{"valid with env and limits", func(s *Spec) {
			s.Env = []string{"A=1", "B="}
			s.Limits = Limits{Timeout: time.Second, MaxOutputBytes: 1, MemoryBytes: 1, MaxProcesses: 1}
		}, ""},
		{"empty command", func(s *Spec) { s.Command = "" }, "absolute path"},
		{"relative command", func(s *Spec) { s.Command = "bin/true" }, "full path"},
		{"NUL in arg", func(s *Spec) { s.Args = []string{"a\x00b"} }, "NUL"},
		{"env without =", func(s *Spec) { s.Env = []string{"A"} }, "KEY=VALUE"},
		{"env with empty key", func(s *Spec) { s.Env = []string{"=x"} }, "KEY=VALUE"},
		{"relative dir", func(s *Spec) { s.Dir = "work" }, "full path"},
		{"relative ro path", func(s *Spec) { s.ReadOnlyPaths = []string{"docs"} }, "read-only"},
		{"relative rw path", func(s *Spec) { s.ReadWritePaths = []string{"ws"} }, "read-write"},
		{"negative timeout", func(s *Spec) { s.Limits.Timeout = -time.Second }, "timeout"},
		{"negative output", func(s *Spec) { s.Limits.MaxOutputBytes = -1 }, "output"},
		{"negative memory", func(s *Spec) { s.Limits.MemoryBytes = -1 }, "memory"},
		{"negative processes", func(s *Spec) { s.Limits.MaxProcesses = -1 }, "process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok
			tt.mutate(&spec)
			err := validateSpec(spec)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrInvalidSpec mentioning %q", err, tt.want)
			}
		})
	}
}

func TestOutputLimit(t *testing.T) {
	tests := []struct {
		in, want int64
	}{
		{0, 1 << 20},
		{1, 1},
		{5 << 20, 5 << 20},
	}
	for _, tt := range tests {
		if got := outputLimit(Limits{MaxOutputBytes: tt.in}); got != tt.want {
			t.Errorf("outputLimit(%d): got %d, want %d", tt.in, got, tt.want)
		}
	}
}
