package sandbox

import (
	"errors"
	"testing"
)

func TestSeatbeltProfileGolden(t *testing.T) {
	tests := []struct {
		name string
		rs   resolvedSpec
	}{
		{
			name: "workspace",
			rs: resolvedSpec{
				Command: "/usr/bin/git",
				Dir:     "/Users/u/ws",
				Mounts: []mount{
					{Path: "/Users/u/ws", Writable: true},
					{Path: "/Users/u/docs"},
				},
			},
		},
		{
			name: "network_single_process",
			rs: resolvedSpec{
				Command: "/opt/homebrew/bin/curl",
				Dir:     "/",
				Network: true,
				Limits:  Limits{MaxProcesses: 1},
			},
		},
		{
			name: "awkward_paths",
			rs: resolvedSpec{
				Command: `/Users/u/My "Tools"/run`,
				Dir:     "/",
				Mounts: []mount{
					{Path: `/Users/u/back\slash`, Writable: true},
					{Path: "/Users/u/paren (1)) (allow default"},
					{Path: "/Users/u/semi;colon"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := seatbeltProfile(tt.rs)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "seatbelt_"+tt.name+".golden", got)
		})
	}
}

func TestSBPLString(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "/usr/bin", want: `"/usr/bin"`},
		{in: `/a "quoted" b`, want: `"/a \"quoted\" b"`},
		{in: `/a\b`, want: `"/a\\b"`},
		{in: `/x\"))(allow default)`, want: `"/x\\\"))(allow default)"`},
		{in: "/paren (1)", want: `"/paren (1)"`},
		{in: "/ünïcode", want: `"/ünïcode"`},
		{in: "/new\nline", err: true},
		{in: "/carriage\rreturn", err: true},
		{in: "/tab\there", err: true},
		{in: "/del\x7f", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sbplString(tt.in)
			if tt.err {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("got %q, %v, want an error wrapping ErrInvalidSpec", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v, want %s", got, err, tt.want)
			}
		})
	}
}

func TestSeatbeltProfileRejectsNewline(t *testing.T) {
	rs := resolvedSpec{Command: "/usr/bin/true", Dir: "/", Mounts: []mount{{Path: "/tmp/a\n(allow default)"}}}
	if _, err := seatbeltProfile(rs); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("got %v, want an error wrapping ErrInvalidSpec", err)
	}
}
