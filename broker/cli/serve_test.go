package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// startServe runs `clawbroker serve` in-process with signals from sigs
// and returns the base URL once it listens, and a channel with its exit
// code.
func startServe(t *testing.T, args []string, sigs chan os.Signal) (string, *syncBuffer, <-chan int) {
	t.Helper()
	stderr := &syncBuffer{}
	a := &App{Stdin: bytes.NewReader(nil), Stdout: io.Discard, Stderr: stderr, Signals: sigs}
	done := make(chan int, 1)
	go func() { done <- a.Run(context.Background(), append([]string{"serve"}, args...)) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr, done
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before listening: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start listening: %s", stderr.String())
	return "", nil, nil
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestServeDefaults: with no config, serve creates the workspace (0700)
// and a token for agent default (0600), says where, and answers with it.
func TestServeDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("CLAWBROKER_CONFIG", "")
	sigs := make(chan os.Signal, 1)
	base, stderr, done := startServe(t, nil, sigs)
	if base != "http://127.0.0.1:7878" {
		t.Errorf("listening on %s, want the default loopback address", base)
	}
	for path, mode := range map[string]os.FileMode{
		filepath.Join(home, ".clawbroker", "workspace"): 0o700 | os.ModeDir,
		filepath.Join(home, ".clawbroker", "token"):     0o600,
	} {
		info, err := os.Stat(path)
		if err != nil || info.Mode() != mode {
			t.Errorf("%s: %v mode %v, want %v", path, err, info.Mode(), mode)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(home, ".clawbroker", "token"))
	token := strings.TrimSpace(string(raw))
	for _, want := range []string{"token for agent \"default\": " + filepath.Join(home, ".clawbroker", "token"), "try: curl"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve output lacks %q:\n%s", want, stderr.String())
		}
	}
	if code, body := get(t, base+"/v1/credentials", token); code != 200 {
		t.Errorf("GET /v1/credentials with the generated token = %d %s, want 200", code, body)
	}
	if code, _ := get(t, base+"/v1/credentials", "cbt_wrong"); code != 401 {
		t.Errorf("wrong token = %d, want 401", code)
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("serve printed the token itself")
	}
	sigs <- syscall.SIGTERM
	if code := <-done; code != 0 {
		t.Errorf("serve exit code after SIGTERM = %d, want 0", code)
	}
}

// TestServeSIGHUP: a good config change applies on SIGHUP; a broken one
// keeps the running config and says why.
func TestServeSIGHUP(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfgPath := filepath.Join(home, "clawbroker.json5")
	write := func(rpm int, extra string) {
		src := `{
  gateway: {listen: "127.0.0.1:0", rate_limit: {requests_per_minute: ` + itoa(rpm) + `, burst: 100}},
  audit: {output: "` + filepath.Join(home, "audit.log") + `"},
  tools: {}, agents: {default: {}},` + extra + `
}`
		if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(1000, "")
	sigs := make(chan os.Signal, 1)
	base, stderr, done := startServe(t, []string{"--config", cfgPath}, sigs)
	raw, _ := os.ReadFile(filepath.Join(home, ".clawbroker", "token"))
	token := strings.TrimSpace(string(raw))
	limit := func() string {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/credentials", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-RateLimit-Limit")
	}
	if got := limit(); got != "1000" {
		t.Fatalf("X-RateLimit-Limit = %s, want 1000", got)
	}
	write(500, "")
	sigs <- syscall.SIGHUP
	waitFor(t, stderr, "reloaded")
	if got := limit(); got != "500" {
		t.Errorf("after SIGHUP, X-RateLimit-Limit = %s, want 500", got)
	}
	write(250, "\n  bogus: true,")
	sigs <- syscall.SIGHUP
	waitFor(t, stderr, "bogus: unknown key")
	if got := limit(); got != "500" {
		t.Errorf("after a bad SIGHUP, X-RateLimit-Limit = %s, want the old 500", got)
	}
	sigs <- syscall.SIGINT
	if code := <-done; code != 0 {
		t.Errorf("serve exit code = %d, want 0", code)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve never said %q:\n%s", want, out.String())
}

func itoa(n int) string { return strconv.Itoa(n) }
