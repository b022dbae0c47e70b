package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fakeBwrapScript stands in for bubblewrap: it answers --version, records
// its argv (NUL-separated) and what it reads on descriptor 3, then plays
// the launcher's handshake with its own pid as the child's.
const fakeBwrapScript = `#!/bin/sh
if [ "$1" = --version ]; then echo "bubblewrap 0.8.0"; exit 0; fi
printf '%s\0' "$@" > "$0.argv"
/bin/cat <&3 > "$0.seccomp"
printf '{"child-pid": %d}' $$ >&4
exec 4>&-
read -r _ <&5
exit 0
`

func TestBwrapCommandMatchesLauncher(t *testing.T) {
	h := newFakeHome(t)
	spec := h.spec("/bin/true", "an arg", "--")
	spec.Env = append(spec.Env, "EQ=a=b")
	spec.Network = true

	fake := filepath.Join(t.TempDir(), "bwrap")
	if err := os.WriteFile(fake, []byte(fakeBwrapScript), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{BwrapPath: fake})
	if err != nil {
		t.Fatalf("New with the fake bwrap: %v", err)
	}
	defer l.(io.Closer).Close()
	res, err := l.Launch(context.Background(), spec)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Launch through the fake bwrap: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
	}
	raw, err := os.ReadFile(fake + ".argv")
	if err != nil {
		t.Fatal(err)
	}
	launched := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	launchedFilter, err := os.ReadFile(fake + ".seccomp")
	if err != nil {
		t.Fatal(err)
	}

	cmd, err := BwrapCommand(context.Background(), fake, spec)
	if err != nil {
		t.Fatalf("BwrapCommand: %v", err)
	}
	defer cmd.ExtraFiles[0].Close()
	if cmd.Path != fake || cmd.Args[0] != fake {
		t.Errorf("got Path %q, Args[0] %q, want %q", cmd.Path, cmd.Args[0], fake)
	}
	handshake := []string{"--info-fd", "4", "--block-fd", "5"}
	i := slices.Index(launched, "--info-fd")
	if i < 0 || i+len(handshake) > len(launched) || !slices.Equal(launched[i:i+len(handshake)], handshake) {
		t.Fatalf("launcher argv %q lacks %q", launched, handshake)
	}
	want := slices.Delete(slices.Clone(launched), i, i+len(handshake))
	if got := cmd.Args[1:]; !slices.Equal(got, want) {
		t.Errorf("got argv\n%q\nwant the launcher's without the handshake\n%q", got, want)
	}

	if len(cmd.ExtraFiles) != 1 {
		t.Fatalf("got %d extra files, want 1 (the seccomp program on descriptor 3)", len(cmd.ExtraFiles))
	}
	filter, err := io.ReadAll(cmd.ExtraFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(filter) == 0 || !bytes.Equal(filter, launchedFilter) {
		t.Errorf("got a %d-byte seccomp program, want the launcher's %d bytes", len(filter), len(launchedFilter))
	}
	if cmd.Env == nil || len(cmd.Env) != 0 {
		t.Errorf("got Env %q, want empty and non-nil (nothing of the caller's environment)", cmd.Env)
	}
	if cmd.Dir != "/" {
		t.Errorf("got Dir %q, want /", cmd.Dir)
	}
	if cmd.SysProcAttr == nil || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Errorf("got SysProcAttr %+v, want Pdeathsig SIGKILL", cmd.SysProcAttr)
	}
}

func TestBwrapCommandRunsUnderSeccomp(t *testing.T) {
	newTestLauncher(t) // fails with install instructions when bwrap is missing
	h := newFakeHome(t)
	for _, tt := range []struct{ args, want string }{
		{"syscall getpid", "ok"},
		{"ptrace", "denied EPERM"},
	} {
		cmd, err := BwrapCommand(context.Background(), "", h.probe(strings.Fields(tt.args)...))
		if err != nil {
			t.Fatalf("BwrapCommand: %v", err)
		}
		out, err := cmd.Output()
		cmd.ExtraFiles[0].Close()
		if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, tt.want) {
			t.Errorf("probe %s: got %q (%v), want %q", tt.args, got, err, tt.want)
		}
	}
}

func TestBwrapCommandInvalidSpec(t *testing.T) {
	newTestLauncher(t)
	_, err := BwrapCommand(context.Background(), "", Spec{Command: "/bin/true", ReadOnlyPaths: []string{"/proc"}})
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "/proc") {
		t.Fatalf("got %v, want the launcher's refusal of /proc", err)
	}
}
