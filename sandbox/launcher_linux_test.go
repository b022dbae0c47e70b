package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The positive suite: what a granted tool must still be able to do.

func TestLaunchReadsBoundPaths(t *testing.T) {
	h := newFakeHome(t)
	res := launch(t, h.probe("read", filepath.Join(h.docs, "readme.txt")))
	if got, want := string(res.Stdout), "ok docs content"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestLaunchWritesWorkspace(t *testing.T) {
	h := newFakeHome(t)
	target := filepath.Join(h.ws, "out.txt")
	res := launch(t, h.probe("write", target))
	if res.ExitCode != 0 {
		t.Fatalf("got exit %d, stdout %q, want 0", res.ExitCode, res.Stdout)
	}
	data, err := os.ReadFile(target)
	if err != nil || string(data) != "pwned" {
		t.Fatalf("got %q, %v on the host, want the file written", data, err)
	}
}

func TestLaunchNetworkGranted(t *testing.T) {
	h := newFakeHome(t)
	addr, connected := listenTCP(t)
	spec := h.probe("connect", addr)
	spec.Network = true
	res := launch(t, spec)
	if res.ExitCode != 0 {
		t.Fatalf("got exit %d, stdout %q, want the connection to work", res.ExitCode, res.Stdout)
	}
	if !connected() {
		t.Fatal("got no connection on the test's server, want one with network on")
	}
	udpAddr, received := listenUDP(t)
	launch(t, h.probe("udp", udpAddr))
	// Network off for that run: nothing arrives; the same probe with
	// network on must arrive, or the DNS escape test proves nothing.
	if received() {
		t.Fatal("got a UDP datagram with network off")
	}
	spec = h.probe("udp", udpAddr)
	spec.Network = true
	launch(t, spec)
	if !received() {
		t.Fatal("got no UDP datagram with network on, want one")
	}
}

func TestLaunchExitCodes(t *testing.T) {
	h := newFakeHome(t)
	tests := []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"kill -TERM $$", 128 + 15},
		{"kill -KILL $$", 128 + 9},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			res := launch(t, h.shell(tt.script))
			if res.ExitCode != tt.want {
				t.Fatalf("got exit %d, want %d (stderr %q)", res.ExitCode, tt.want, res.Stderr)
			}
		})
	}
}

func TestLaunchStdinAndStreams(t *testing.T) {
	h := newFakeHome(t)
	spec := h.shell("cat; echo err >&2")
	spec.Stdin = []byte("line one\nline two\n")
	res := launch(t, spec)
	if got, want := string(res.Stdout), "line one\nline two\n"; got != want {
		t.Fatalf("got stdout %q, want %q", got, want)
	}
	if got, want := string(res.Stderr), "err\n"; got != want {
		t.Fatalf("got stderr %q, want %q", got, want)
	}
}

func TestLaunchEnvironmentPasses(t *testing.T) {
	h := newFakeHome(t)
	spec := h.spec("/usr/bin/env")
	spec.Env = []string{"A=1", "B=two words", "EMPTY="}
	res := launch(t, spec)
	got := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	// bubblewrap sets PWD after --chdir; nothing else may appear.
	want := []string{"A=1", "B=two words", "EMPTY=", "PWD=" + h.ws}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got env %q, want %q", got, want)
	}
}

func TestLaunchWorkingDirectory(t *testing.T) {
	h := newFakeHome(t)
	sub := filepath.Join(h.ws, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := h.shell("pwd")
	spec.Dir = sub
	if got, want := strings.TrimSpace(string(launch(t, spec).Stdout)), sub; got != want {
		t.Fatalf("got pwd %q, want %q", got, want)
	}
	spec.Dir = ""
	if got, want := strings.TrimSpace(string(launch(t, spec).Stdout)), h.ws; got != want {
		t.Fatalf("got default pwd %q, want the read-write path %q", got, want)
	}
}

func TestLaunchSymlinkedSpecPathIsResolved(t *testing.T) {
	h := newFakeHome(t)
	link := filepath.Join(t.TempDir(), "ws-link")
	if err := os.Symlink(h.ws, link); err != nil {
		t.Fatal(err)
	}
	spec := h.shell("echo hi > f; ls -l " + h.ws)
	spec.ReadWritePaths = []string{link}
	spec.Dir = link
	res := launch(t, spec)
	if res.ExitCode != 0 {
		t.Fatalf("got exit %d (stderr %q), want 0", res.ExitCode, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(h.ws, "f")); err != nil {
		t.Fatalf("got %v, want the file written through the resolved bind", err)
	}
}

func TestLaunchTimeoutReported(t *testing.T) {
	h := newFakeHome(t)
	spec := h.shell("sleep 30")
	spec.Limits.Timeout = 200 * time.Millisecond
	res := launch(t, spec)
	if !res.TimedOut || res.ExitCode != 128+9 {
		t.Fatalf("got TimedOut %v exit %d, want true and %d", res.TimedOut, res.ExitCode, 128+9)
	}
}

func TestLaunchInvalidSpec(t *testing.T) {
	h := newFakeHome(t)
	tests := []struct {
		name   string
		mutate func(*Spec)
	}{
		{"relative command", func(s *Spec) { s.Command = "sh" }},
		{"missing command", func(s *Spec) { s.Command = "/nonexistent/tool" }},
		{"missing path", func(s *Spec) { s.ReadOnlyPaths = append(s.ReadOnlyPaths, filepath.Join(h.home, "nope")) }},
		{"dir outside binds", func(s *Spec) { s.Dir = h.outside }},
		{"bind /", func(s *Spec) { s.ReadOnlyPaths = append(s.ReadOnlyPaths, "/") }},
		{"bind /proc", func(s *Spec) { s.ReadOnlyPaths = append(s.ReadOnlyPaths, "/proc/self") }},
		{"both ro and rw", func(s *Spec) { s.ReadOnlyPaths = append(s.ReadOnlyPaths, h.ws) }},
		{"bad env", func(s *Spec) { s.Env = []string{"NOEQUALS"} }},
		{"negative timeout", func(s *Spec) { s.Limits.Timeout = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := h.shell("true")
			tt.mutate(&spec)
			_, err := newTestLauncher(t).Launch(context.Background(), spec)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("got error %v, want one wrapping ErrInvalidSpec", err)
			}
		})
	}
}

func TestLaunchConcurrent(t *testing.T) {
	h := newFakeHome(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := h.shell("echo $N")
			spec.Env = append(spec.Env, "N="+string(rune('a'+i)))
			spec.Limits.MemoryBytes = 128 << 20
			spec.Limits.MaxProcesses = 16
			res, err := newTestLauncher(t).Launch(context.Background(), spec)
			if err != nil {
				errs <- err.Error()
				return
			}
			if got, want := strings.TrimSpace(string(res.Stdout)), string(rune('a'+i)); got != want {
				errs <- "got " + got + ", want " + want
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestLaunchEnforcementOnThisHost(t *testing.T) {
	h := newFakeHome(t)
	spec := h.shell("true")
	spec.Limits.MemoryBytes = 256 << 20
	spec.Limits.MaxProcesses = 64
	res := launch(t, spec)
	for _, limit := range []string{"memory", "processes"} {
		if !hasEnforcement(res, limit) {
			t.Errorf("got Enforced %v, want %s enforced", res.Enforced, limit)
		}
	}
	t.Logf("enforced: %v", res.Enforced)
	spec.Limits = Limits{}
	if res := launch(t, spec); len(res.Enforced) != 0 {
		t.Errorf("got Enforced %v without limits, want none", res.Enforced)
	}
}

func TestNewMissingBwrap(t *testing.T) {
	_, err := New(Options{BwrapPath: "/nonexistent/bwrap"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "apt-get install bubblewrap") {
		t.Fatalf("got %v, want ErrUnsupported saying how to install bubblewrap", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = New(Options{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "sandbox.bwrap_path") {
		t.Fatalf("got %v, want ErrUnsupported naming sandbox.bwrap_path", err)
	}
}

func TestSeccompTableMatchesHost(t *testing.T) {
	host := hostSyscallNumbers()
	for _, table := range seccompTables {
		if table.name != hostSeccompArch() {
			continue
		}
		for name, nr := range table.nr {
			want, ok := host[name]
			if !ok {
				t.Fatalf("no host number for %s", name)
			}
			if nr != want {
				t.Errorf("got %s = %d in the %s table, want %d", name, nr, table.name, want)
			}
		}
		return
	}
	t.Fatalf("no seccomp table for the host architecture %s", hostSeccompArch())
}

func TestLaunchRlimitFallback(t *testing.T) {
	h := newFakeHome(t)
	shared := newTestLauncher(t).(*bwrapLauncher)
	noCgroups := *shared
	noCgroups.cgroups = nil
	spec := h.probe("balloon", "1024")
	spec.Limits.MemoryBytes = 256 << 20
	spec.Limits.MaxProcesses = 64
	res, err := noCgroups.Launch(context.Background(), spec)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	want := []Enforcement{{Limit: "memory", By: "RLIMIT_AS"}, {Limit: "processes", By: "RLIMIT_NPROC"}}
	if !slices.Equal(res.Enforced, want) {
		t.Fatalf("got Enforced %v, want %v", res.Enforced, want)
	}
	if res.ExitCode == 0 || strings.Contains(string(res.Stdout), "allocated") {
		t.Fatalf("got exit %d, stdout %q, want the balloon stopped by RLIMIT_AS", res.ExitCode, res.Stdout)
	}
}
