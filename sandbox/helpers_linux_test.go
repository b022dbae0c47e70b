package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// probeDir holds the probe binary (testdata/probe) built once per run.
var probeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-probe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build probe: %v\n%s", err, out)
		os.Exit(1)
	}
	probeDir = dir
	code := m.Run()
	if c, ok := sharedLauncher.(io.Closer); ok {
		c.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	sharedOnce     sync.Once
	sharedLauncher Launcher
	sharedErr      error
)

// newTestLauncher returns the real bubblewrap launcher, failing the test
// with install instructions when bubblewrap is missing.
func newTestLauncher(t testing.TB) Launcher {
	t.Helper()
	sharedOnce.Do(func() { sharedLauncher, sharedErr = New(Options{}) })
	if sharedErr != nil {
		if errors.Is(sharedErr, ErrUnsupported) {
			t.Fatalf("bubblewrap launcher unavailable (%v): install bubblewrap with apt-get install bubblewrap", sharedErr)
		}
		t.Fatalf("New: %v", sharedErr)
	}
	return sharedLauncher
}

// fakeHome is a home directory in t.TempDir() with a planted SSH key, a
// workspace the tool may write, a read-only docs directory and a
// directory outside every bind.
type fakeHome struct {
	home, ws, docs, outside string
	secretKey               string // path of .ssh/id_rsa
	secretText              string
}

func newFakeHome(t *testing.T) fakeHome {
	t.Helper()
	root := t.TempDir()
	h := fakeHome{
		home:       filepath.Join(root, "home"),
		outside:    filepath.Join(root, "outside"),
		secretText: "-----BEGIN OPENSSH PRIVATE KEY----- planted-" + t.Name(),
	}
	h.ws = filepath.Join(h.home, "work")
	h.docs = filepath.Join(h.home, "docs")
	h.secretKey = filepath.Join(h.home, ".ssh", "id_rsa")
	for _, d := range []string{h.ws, h.docs, h.outside, filepath.Dir(h.secretKey)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, h.secretKey, h.secretText)
	mustWrite(t, filepath.Join(h.docs, "readme.txt"), "docs content")
	return h
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// spec runs the probe (or another command) with the fake home's usual
// binds: workspace read-write, docs and the probe read-only.
func (h fakeHome) spec(command string, args ...string) Spec {
	return Spec{
		Command:        command,
		Args:           args,
		Env:            []string{"HOME=" + h.home, "PATH=/usr/bin:/bin"},
		Dir:            h.ws,
		ReadOnlyPaths:  []string{h.docs, probeDir},
		ReadWritePaths: []string{h.ws},
		Limits:         Limits{Timeout: 20 * time.Second, MaxOutputBytes: 1 << 20},
	}
}

func (h fakeHome) probe(args ...string) Spec {
	return h.spec(filepath.Join(probeDir, "probe"), args...)
}

func (h fakeHome) shell(script string) Spec {
	return h.spec("/bin/sh", "-c", script)
}

// launch runs spec and fails the test on a launch error.
func launch(t *testing.T, spec Spec) Result {
	t.Helper()
	res, err := newTestLauncher(t).Launch(context.Background(), spec)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return res
}

// wantDenied fails the test unless the probe reported a refusal.
func wantDenied(t *testing.T, res Result) {
	t.Helper()
	if res.ExitCode == 0 || strings.HasPrefix(string(res.Stdout), "ok") {
		t.Fatalf("escape worked: exit %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// hostProcessesWith lists host pids whose command line contains marker.
func hostProcessesWith(t *testing.T, marker string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), marker) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
