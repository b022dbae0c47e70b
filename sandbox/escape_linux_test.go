package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every test here attempts an escape from a real bubblewrap sandbox and
// fails if the attempt works. Targets live in t.TempDir().

func TestEscapeReadSecretOutsideBinds(t *testing.T) {
	h := newFakeHome(t)
	for _, path := range []string{h.secretKey, filepath.Join("..", ".ssh", "id_rsa")} {
		t.Run(path, func(t *testing.T) {
			res := launch(t, h.probe("read", path))
			wantDenied(t, res)
			if strings.Contains(string(res.Stdout), h.secretText) {
				t.Fatalf("got the planted key in stdout %q, want it unreadable", res.Stdout)
			}
		})
	}
}

func TestEscapeWriteOutsideReadWritePaths(t *testing.T) {
	h := newFakeHome(t)
	tests := []struct{ name, path string }{
		{"read-only bind", filepath.Join(h.docs, "pwned")},
		{"home above the workspace", filepath.Join(h.home, "pwned")},
		{"outside dir", filepath.Join(h.outside, "pwned")},
		{"over the planted key", h.secretKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := launch(t, h.probe("write", tt.path))
			if data, err := os.ReadFile(tt.path); err == nil && string(data) == "pwned" {
				t.Fatalf("got %s written on the host (exit %d), want it untouched", tt.path, res.ExitCode)
			}
			if tt.path == filepath.Join(h.docs, "pwned") {
				wantDenied(t, res)
			}
		})
	}
}

func TestEscapeWriteThroughSymlink(t *testing.T) {
	h := newFakeHome(t)
	marker := fmt.Sprintf("clawbroker-escape-%d", rand.Uint64())
	links := map[string]string{"out": h.outside, "etc": "/etc", "root": "/"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(h.ws, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ name, via, host string }{
		{"to a temp dir outside", filepath.Join(h.ws, "out", marker), filepath.Join(h.outside, marker)},
		{"to /etc", filepath.Join(h.ws, "etc", marker), filepath.Join("/etc", marker)},
		{"to / then the outside dir", filepath.Join(h.ws, "root", strings.TrimPrefix(h.outside, "/"), marker), filepath.Join(h.outside, marker)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { os.Remove(tt.host) })
			res := launch(t, h.probe("write", tt.via))
			if _, err := os.Stat(tt.host); err == nil {
				t.Fatalf("got %s created on the host (exit %d, %q), want nothing", tt.host, res.ExitCode, res.Stdout)
			}
		})
	}
}

func TestEscapeReadThroughSymlink(t *testing.T) {
	h := newFakeHome(t)
	if err := os.Symlink(h.secretKey, filepath.Join(h.ws, "key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(h.ws, "root")); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{
		filepath.Join(h.ws, "key"),
		filepath.Join(h.ws, "root", strings.TrimPrefix(h.secretKey, "/")),
		filepath.Join(h.ws, "root", "etc", "shadow"),
	} {
		t.Run(filepath.Base(via), func(t *testing.T) {
			res := launch(t, h.probe("read", via))
			wantDenied(t, res)
		})
	}
}

func TestEscapeHardLink(t *testing.T) {
	h := newFakeHome(t)
	tests := []struct{ name, src string }{
		{"file outside every bind", h.secretKey},
		{"file in a read-only bind", filepath.Join(h.docs, "readme.txt")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(h.ws, "stolen-"+filepath.Base(tt.src))
			res := launch(t, h.probe("link", tt.src, dst))
			wantDenied(t, res)
			if _, err := os.Stat(dst); err == nil {
				t.Fatalf("got hard link %s on the host, want none", dst)
			}
		})
	}
}

func TestEscapeHostPIDs(t *testing.T) {
	h := newFakeHome(t)
	secret := "broker-secret-" + strconv.FormatUint(rand.Uint64(), 36)
	t.Setenv("CLAWBROKER_TEST_PID_SECRET", secret)
	res := launch(t, h.shell(fmt.Sprintf(
		"ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; cat /proc/1/environ; cat /proc/%d/environ; true", os.Getpid())))
	if res.ExitCode != 0 {
		t.Fatalf("got exit %d (stderr %q), want 0", res.ExitCode, res.Stderr)
	}
	first, _, _ := strings.Cut(string(res.Stdout), "\n")
	pids := strings.Fields(first)
	if len(pids) == 0 || len(pids) > 8 {
		t.Fatalf("got pids %v visible, want only the sandbox's few", pids)
	}
	for _, p := range pids {
		if p == strconv.Itoa(os.Getpid()) {
			t.Fatalf("got the broker's pid %s visible in /proc", p)
		}
	}
	if strings.Contains(string(res.Stdout), secret) {
		t.Fatalf("got the broker's secret in /proc/*/environ output %q", res.Stdout)
	}
}

func TestEscapeBrokerEnvironment(t *testing.T) {
	h := newFakeHome(t)
	secret := "broker-secret-" + strconv.FormatUint(rand.Uint64(), 36)
	t.Setenv("CLAWBROKER_TEST_SECRET", secret)
	res := launch(t, h.shell("env; cat /proc/self/environ"))
	if res.ExitCode != 0 {
		t.Fatalf("got exit %d (stderr %q), want 0", res.ExitCode, res.Stderr)
	}
	if strings.Contains(string(res.Stdout), secret) || strings.Contains(string(res.Stdout), "CLAWBROKER_TEST_SECRET") {
		t.Fatalf("got the broker's environment inside the sandbox: %q", res.Stdout)
	}
}

// listenTCP opens a server on 127.0.0.1 and reports whether anything
// connected before the returned check is called.
func listenTCP(t *testing.T) (addr string, connected func() bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
	}()
	return ln.Addr().String(), func() bool {
		select {
		case <-got:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	}
}

// listenUDP opens a UDP socket on 127.0.0.1, standing in for a DNS server
// on loopback.
func listenUDP(t *testing.T) (addr string, received func() bool) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String(), func() bool {
		pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 64)
		_, _, err := pc.ReadFrom(buf)
		return err == nil
	}
}

func TestEscapeNetworkOff(t *testing.T) {
	h := newFakeHome(t)
	addr, connected := listenTCP(t)
	res := launch(t, h.probe("connect", addr))
	wantDenied(t, res)
	if connected() {
		t.Fatal("got a connection to the test's 127.0.0.1 server, want none with network off")
	}
}

func TestEscapeDNSOff(t *testing.T) {
	h := newFakeHome(t)
	t.Run("lookup", func(t *testing.T) {
		wantDenied(t, launch(t, h.probe("lookup", "example.com")))
	})
	t.Run("no resolv.conf", func(t *testing.T) {
		wantDenied(t, launch(t, h.probe("read", "/etc/resolv.conf")))
	})
	t.Run("query to a loopback resolver", func(t *testing.T) {
		addr, received := listenUDP(t)
		launch(t, h.probe("udp", addr))
		if received() {
			t.Fatal("got a UDP query on the host's loopback, want none with network off")
		}
	})
}

func TestEscapeBlockedSyscalls(t *testing.T) {
	h := newFakeHome(t)
	tests := []struct {
		name  string
		args  []string
		errno string
	}{
		{"ptrace own child", []string{"ptrace"}, "EPERM"},
		{"process_vm_readv", []string{"vmread"}, "EPERM"},
		{"clone CLONE_NEWUSER", []string{"clone-userns"}, "EPERM"},
		{"unshare CLONE_NEWUSER", []string{"syscall", "unshare-user"}, "EPERM"},
		{"unshare CLONE_NEWNET", []string{"syscall", "unshare-net"}, "EPERM"},
		{"setns", []string{"syscall", "setns"}, "EPERM"},
		{"mount tmpfs", []string{"syscall", "mount"}, "EPERM"},
		{"umount2", []string{"syscall", "umount2"}, "EPERM"},
		{"pivot_root", []string{"syscall", "pivot_root"}, "EPERM"},
		{"fsopen", []string{"syscall", "fsopen"}, "EPERM"},
		{"io_uring_setup", []string{"syscall", "io_uring_setup"}, "EPERM"},
		{"bpf", []string{"syscall", "bpf"}, "EPERM"},
		{"perf_event_open", []string{"syscall", "perf_event_open"}, "EPERM"},
		{"keyctl", []string{"syscall", "keyctl"}, "EPERM"},
		{"add_key", []string{"syscall", "add_key"}, "EPERM"},
		{"init_module", []string{"syscall", "init_module"}, "EPERM"},
		{"kexec_load", []string{"syscall", "kexec_load"}, "EPERM"},
		{"clone3", []string{"syscall", "clone3"}, "ENOSYS"},
		{"TIOCSTI", []string{"tiocsti"}, "EPERM"},
		{"TIOCSTI with high bits", []string{"tiocsti", "high"}, "EPERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := launch(t, h.probe(tt.args...))
			wantDenied(t, res)
			if got, want := strings.TrimSpace(string(res.Stdout)), "denied "+tt.errno; got != want {
				t.Fatalf("got %q, want %q (stderr %q)", got, want, res.Stderr)
			}
		})
	}
	t.Run("allowed syscall still works", func(t *testing.T) {
		res := launch(t, h.probe("syscall", "getpid"))
		if res.ExitCode != 0 {
			t.Fatalf("got exit %d, stdout %q, want getpid to work", res.ExitCode, res.Stdout)
		}
	})
}

func TestEscapeUnshareAndMountTools(t *testing.T) {
	h := newFakeHome(t)
	for _, script := range []string{
		"unshare -U /bin/true",
		"unshare -r /bin/true",
		"unshare -m /bin/true",
		"mount -t tmpfs none /tmp",
	} {
		t.Run(script, func(t *testing.T) {
			res := launch(t, h.shell(script))
			if res.ExitCode == 0 {
				t.Fatalf("got exit 0 for %q (stderr %q), want a refusal", script, res.Stderr)
			}
		})
	}
}

func TestEscapeForkBomb(t *testing.T) {
	h := newFakeHome(t)
	marker := fmt.Sprintf("forkbomb%d", rand.Uint32())
	spec := h.shell(fmt.Sprintf("bomb() { bomb | bomb & }; bomb; sleep 3 # %s", marker))
	spec.Limits.MaxProcesses = 32
	spec.Limits.Timeout = 3 * time.Second

	// The host keeps forking while the bomb runs.
	hostOK := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		for range 5 {
			if err := exec.Command("/bin/true").Run(); err != nil {
				hostOK <- err
				return
			}
		}
		hostOK <- nil
	}()
	res := launch(t, spec)
	if err := <-hostOK; err != nil {
		t.Fatalf("got host fork failure %v during the bomb, want the host unaffected", err)
	}
	if !hasEnforcement(res, "processes") {
		t.Fatalf("got Enforced %v, want a processes limit", res.Enforced)
	}
	if !strings.Contains(string(res.Stderr), "fork") {
		t.Fatalf("got stderr %q, want fork failures from the process limit", truncate(res.Stderr))
	}
	if pids := hostProcessesWith(t, marker); len(pids) > 0 {
		t.Fatalf("got bomb processes %v alive after the run, want none", pids)
	}
}

func TestEscapeMemoryBalloon(t *testing.T) {
	h := newFakeHome(t)
	spec := h.probe("balloon", "512")
	spec.Limits.MemoryBytes = 64 << 20
	res := launch(t, spec)
	if res.ExitCode == 0 || strings.Contains(string(res.Stdout), "allocated") {
		t.Fatalf("got exit %d, stdout %q, want the balloon stopped at 64 MiB", res.ExitCode, res.Stdout)
	}
	if !hasEnforcement(res, "memory") {
		t.Fatalf("got Enforced %v, want a memory limit", res.Enforced)
	}
}

func TestEscapeOutputFlood(t *testing.T) {
	h := newFakeHome(t)
	const flood = 256 << 20
	const limit = 64 << 10
	spec := h.spec("/usr/bin/head", "-c", strconv.Itoa(flood), "/dev/zero")
	spec.Limits.MaxOutputBytes = limit

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := launch(t, spec)
	runtime.ReadMemStats(&after)

	if res.ExitCode != 0 {
		t.Fatalf("got exit %d (stderr %q), want 0: the flood must be drained, not cut off", res.ExitCode, res.Stderr)
	}
	if got := len(res.Stdout); got != limit || !res.StdoutTruncated {
		t.Fatalf("got %d bytes kept, truncated=%v, want %d and true", got, res.StdoutTruncated, limit)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("got %d bytes allocated by the broker for a %d byte flood, want under 8 MiB", alloc, flood)
	}
}

func TestEscapeBackgroundSleepSurvivesTimeout(t *testing.T) {
	h := newFakeHome(t)
	marker := fmt.Sprintf("1000.%d", rand.Uint32())
	spec := h.shell(fmt.Sprintf("sleep %[1]s & (sleep %[1]s &); setsid sleep %[1]s & nohup sleep %[1]s >/dev/null 2>&1 & sleep %[1]s", marker))
	spec.Limits.Timeout = time.Second
	res := launch(t, spec)
	if !res.TimedOut {
		t.Fatalf("got TimedOut false (exit %d), want true", res.ExitCode)
	}
	if res.Duration > 5*time.Second {
		t.Fatalf("got a run of %v, want the 1s timeout to end it", res.Duration)
	}
	if pids := hostProcessesWith(t, marker); len(pids) > 0 {
		t.Fatalf("got sleep processes %v alive on the host after the timeout, want none", pids)
	}
}

func TestEscapeContextCancelKillsSandbox(t *testing.T) {
	h := newFakeHome(t)
	marker := fmt.Sprintf("1000.%d", rand.Uint32())
	spec := h.shell(fmt.Sprintf("sleep %[1]s & sleep %[1]s", marker))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := newTestLauncher(t).Launch(ctx, spec)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if !res.TimedOut {
		t.Fatalf("got TimedOut false (exit %d), want true on context cancel", res.ExitCode)
	}
	if pids := hostProcessesWith(t, marker); len(pids) > 0 {
		t.Fatalf("got sleep processes %v alive after cancel, want none", pids)
	}
}

func hasEnforcement(res Result, limit string) bool {
	for _, e := range res.Enforced {
		if e.Limit == limit {
			return true
		}
	}
	return false
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
