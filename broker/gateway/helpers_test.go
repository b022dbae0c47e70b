package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/gateway"
	"github.com/clawbroker/clawbroker/crypto/credstore"
)

// Planted secrets: none of them may ever come back in a response body (the
// credential route excepted, for the one agent granted it) or in an audit
// line.
const (
	secretSSHKey     = "CLAWSECRET-ssh-private-key-5f0c1e"
	secretOutside    = "CLAWSECRET-outside-workspace-9a7d22"
	secretCredential = "ghp_CLAWSECRETcredentialValue0123456789"
)

// Tokens of the agents the test config knows.
const (
	tokenCI    = "cbt_test_ci_bot_token_0123456789abcdef"
	tokenOther = "cbt_test_other_token_0123456789abcdef"
)

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// envOptions tune one test environment.
type envOptions struct {
	rpm, burst     int
	maxBody        int64
	redisURL       string
	trustedProxies []string
	tls            *tlsFiles
	// extra is JSON5 text appended inside the gateway object.
	extraGateway string
	// noCredentials leaves the credential store out (no Argon2 cost).
	noCredentials bool
	// noDecisionCache turns the policy decision cache off.
	noDecisionCache bool
}

type tlsFiles struct{ cert, key string }

// env is one broker behind one real listening gateway.
type env struct {
	t         testing.TB
	dir       string
	ws        string // workspace, symlinks resolved
	home      string // fake home holding .ssh
	outside   string // a directory outside every allowed root
	auditPath string
	cfg       *config.Config
	b         *broker.Broker
	srv       *gateway.Server
	alog      *audit.Logger
	base      string // http://127.0.0.1:port
	client    *http.Client

	served   chan error
	shutOnce sync.Once

	mu     sync.Mutex
	bodies [][]byte // every response body seen, for the secret sweep
}

// requireTools fails (never skips) when a program the suite runs is absent.
func requireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: apt-get install bubblewrap redis-server", n)
		}
	}
}

// testConfig is the JSON5 config every e2e test starts from.
func testConfig(dir string, o envOptions) string {
	rpm, burst := o.rpm, o.burst
	if rpm == 0 {
		rpm = 1_000_000
	}
	if burst == 0 {
		burst = 100_000
	}
	maxBody := o.maxBody
	if maxBody == 0 {
		maxBody = 64 << 10
	}
	proxies, _ := json.Marshal(o.trustedProxies)
	if o.trustedProxies == nil {
		proxies = []byte("[]")
	}
	cacheSize := 4096
	if o.noDecisionCache {
		cacheSize = 0
	}
	tlsBlock := ""
	if o.tls != nil {
		tlsBlock = fmt.Sprintf("tls: {cert: %q, key: %q},", o.tls.cert, o.tls.key)
	}
	return fmt.Sprintf(`{
  // every path lives under the test's temp dir
  state_dir: %[1]q,
  workspace: {path: %[2]q, denied_paths: [%[3]q], max_file_bytes: 1048576},
  gateway: {
    listen: "127.0.0.1:0",
    cors_origins: ["http://allowed.example"],
    %[4]s
    rate_limit: {requests_per_minute: %[5]d, burst: %[6]d, redis_url: %[7]q},
    max_body_bytes: %[8]d,
    trusted_proxies: %[9]s,
    shutdown_timeout_ms: 10000,
    auth: {tokens: {"ci-bot": %[10]q, "other": %[11]q}},
    %[12]s
  },
  // -race on a shared 2-core machine can pass the 100 ms default, which
  // fails closed; these tests are about the gateway, not the machine.
  policies: {timeout_ms: 5000, cache_size: %[15]d},
  audit: {output: %[13]q},
  credentials: {path: %[14]q},
  sandbox: {timeout_ms: 20000, max_output_bytes: 65536, memory_mb: 256, max_pids: 32},
  tools: {
    "t-echo": {command: "/usr/bin/echo", description: "print", capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}]},
    "t-true": {command: "/bin/true", description: "nothing"},
    "t-sleep": {command: "/usr/bin/sleep", description: "wait"},
    "t-printenv": {command: "/usr/bin/printenv", description: "env", credentials: {GITHUB_TOKEN: "github"}},
    "t-cat": {command: "/usr/bin/cat", description: "cat", capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}]},
  },
  agents: {
    "ci-bot": {tools: ["t-echo", "t-true", "t-sleep", "t-printenv", "t-cat"], credentials: ["github", "missing"]},
    "other": {tools: [], credentials: []},
  },
}`,
		filepath.Join(dir, "state"), filepath.Join(dir, "ws"), filepath.Join(dir, "home", ".ssh"),
		tlsBlock, rpm, burst, o.redisURL, maxBody, proxies,
		tokenHash(tokenCI), tokenHash(tokenOther), o.extraGateway,
		filepath.Join(dir, "audit", "audit.jsonl"), filepath.Join(dir, "state", "credentials.enc.json"), cacheSize)
}

// newEnv builds the files, broker and gateway, and serves on a fresh
// loopback port until the test ends.
func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	requireTools(t, "bwrap")
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, ws: filepath.Join(dir, "ws"), home: filepath.Join(dir, "home"),
		outside: filepath.Join(dir, "outside"), auditPath: filepath.Join(dir, "audit", "audit.jsonl")}
	mustWrite(t, filepath.Join(e.home, ".ssh", "id_rsa"), secretSSHKey)
	mustWrite(t, filepath.Join(e.outside, "secret.txt"), secretOutside)
	mustWrite(t, filepath.Join(e.ws, "hello.txt"), "hello, workspace\n")

	src := testConfig(dir, o)
	cfg, err := config.Parse(filepath.Join(dir, "clawbroker.json5"), []byte(src))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, src)
	}
	e.cfg = cfg
	e.alog, err = audit.Open(e.auditPath)
	if err != nil {
		t.Fatalf("audit.Open: %v", err)
	}
	bopts := broker.Options{Config: cfg, Audit: e.alog, Log: zerolog.Nop()}
	if !o.noCredentials {
		bopts.Credentials = testStore(t, cfg.Credentials.Path)
	}
	e.b, err = broker.New(context.Background(), bopts)
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	e.srv, err = gateway.New(gateway.Options{Broker: e.b, Audit: e.alog, Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if o.tls != nil {
		scheme = "https"
	}
	e.base = scheme + "://" + ln.Addr().String()
	e.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	e.served = make(chan error, 1)
	go func() { e.served <- e.srv.Serve(ln) }()
	t.Cleanup(func() {
		e.shutdown(5 * time.Second)
		e.client.CloseIdleConnections()
		if err := e.alog.Close(); err != nil {
			t.Errorf("audit Close: %v", err)
		}
	})
	return e
}

// shutdown stops the server once and checks that Serve returned cleanly.
func (e *env) shutdown(d time.Duration) error {
	var err error
	e.shutOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		err = e.srv.Shutdown(ctx)
		select {
		case serr := <-e.served:
			if serr != nil {
				e.t.Errorf("Serve returned %v, want nil after Shutdown", serr)
			}
		case <-time.After(d):
			e.t.Errorf("Serve did not return within %v of Shutdown", d)
		}
	})
	return err
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testIdentity is fixed so the store opens the same everywhere.
var testIdentity = credstore.Identity{MachineID: []byte("gateway-e2e-machine"), UID: "1000", Username: "e2e", Passphrase: []byte("e2e passphrase")}

// storeMu serializes store creation: Argon2id at the default parameters
// takes 64 MiB per derivation, and parallel tests would multiply that.
var storeMu sync.Mutex

func testStore(t testing.TB, path string) *credstore.Store {
	t.Helper()
	storeMu.Lock()
	defer storeMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := credstore.Create(path, testIdentity)
	if err != nil {
		t.Fatalf("credstore.Create: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Set("github", []byte(secretCredential)); err != nil {
		t.Fatalf("credstore Set: %v", err)
	}
	return s
}

// response is one HTTP answer, body read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// apiErr is the v1 error body.
type apiErr struct {
	Error      string   `json:"error"`
	Message    string   `json:"message"`
	DecisionID string   `json:"decision_id"`
	Reasons    []string `json:"reasons"`
}

func (r response) apiError(t testing.TB) apiErr {
	t.Helper()
	var a apiErr
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	return a
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
}

// do sends one request. body is marshalled unless it is a string or
// []byte, which are sent as they are.
func (e *env) do(method, path, token string, body any, hdr ...string) response {
	e.t.Helper()
	r, err := e.try(method, path, token, body, hdr...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (e *env) try(method, path, token string, body any, hdr ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) (response, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	e.mu.Lock()
	e.bodies = append(e.bodies, raw)
	e.mu.Unlock()
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// auditLines returns every event in the audit file, parsed.
func (e *env) auditLines() []map[string]any {
	e.t.Helper()
	f, err := os.Open(e.auditPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// countEvents counts events by type.
func countEvents(lines []map[string]any) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		ev, _ := l["event"].(string)
		out[ev]++
	}
	return out
}

// verifyAudit runs audit.Verify over the file.
func (e *env) verifyAudit() audit.Report {
	e.t.Helper()
	f, err := os.Open(e.auditPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, audit.VerifyOptions{})
	if err != nil {
		e.t.Fatalf("audit.Verify: %v", err)
	}
	return rep
}

// stackTraceRE matches what a Go stack trace or panic looks like.
var stackTraceRE = regexp.MustCompile(`goroutine \d+ \[|\.go:\d+|panic\(|runtime\.gopanic|runtime/debug\.Stack`)

// sweepSecrets fails when a planted secret or a stack trace appears in any
// response body seen so far or in the audit file. allowCredential lets the
// credential value appear in bodies (the one route that returns it).
func (e *env) sweepSecrets(allowCredential bool) {
	e.t.Helper()
	secrets := []string{secretSSHKey, secretOutside}
	if !allowCredential {
		secrets = append(secrets, secretCredential)
	}
	e.mu.Lock()
	bodies := append([][]byte(nil), e.bodies...)
	e.mu.Unlock()
	for i, b := range bodies {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				e.t.Errorf("response body %d contains planted secret %q: %s", i, s, b)
			}
		}
		if m := stackTraceRE.Find(b); m != nil {
			e.t.Errorf("response body %d contains stack-trace marker %q: %.300s", i, m, b)
		}
	}
	raw, err := os.ReadFile(e.auditPath)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range []string{secretSSHKey, secretOutside, secretCredential, tokenCI, tokenOther} {
		if bytes.Contains(raw, []byte(s)) {
			e.t.Errorf("audit log contains secret %q", s)
		}
	}
	if m := stackTraceRE.Find(raw); m != nil {
		e.t.Errorf("audit log contains stack-trace marker %q", m)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// dropBody forgets a response body that legitimately holds a secret (the
// allowed credential read), so the sweep checks everything else.
func (e *env) dropBody(b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.bodies {
		if bytes.Equal(e.bodies[i], b) {
			e.bodies = append(e.bodies[:i], e.bodies[i+1:]...)
			return
		}
	}
}
