package broker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
	"github.com/clawbroker/clawbroker/crypto/credstore"
)

// env is a broker over a temp home: a workspace, a secret outside it, a
// denied ~/.ssh, and an audit log file.
type env struct {
	home, ws, outside, auditPath string
	cfg                          *config.Config
	b                            *broker.Broker
}

const secretKey = "-----BEGIN FAKE KEY----- planted-id-rsa"

func newEnv(t *testing.T, extra string, creds broker.CredentialStore) *env {
	t.Helper()
	home := config.ResolveExisting(t.TempDir())
	e := &env{home: home, ws: filepath.Join(home, "ws"), outside: filepath.Join(home, "outside"), auditPath: filepath.Join(home, "audit.log")}
	for _, d := range []string{e.ws, e.outside, filepath.Join(home, ".ssh")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(home, ".ssh", "id_rsa"), secretKey)
	mustWrite(t, filepath.Join(e.outside, "secret.txt"), "OUTSIDE-SECRET")
	mustWrite(t, filepath.Join(e.ws, "notes.txt"), "hello notes")
	src := `{
  state_dir: "` + home + `/state",
  workspace: {path: "` + e.ws + `", denied_paths: ["` + home + `/.ssh"]},
  audit: {output: "` + e.auditPath + `"},
  // Generous: tests run under -race on shared machines.
  policies: {timeout_ms: 5000},
  credentials: {path: "` + home + `/creds.enc.json"},
  sandbox: {timeout_ms: 10000, max_output_bytes: 4096, memory_mb: 256, max_pids: 32},
  tools: {
    echo: {command: "/usr/bin/echo", capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}]},
    cat: {command: "/usr/bin/cat", capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}]},
    sh: {command: "/bin/sh", allow_inline: true, capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}],
         credentials: {API_TOKEN: "openai"}},
    sleep: {command: "/usr/bin/sleep", capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}]},
  },
  agents: {
    bot: {tools: ["echo", "cat", "sh", "sleep"], credentials: ["openai"]},
    other: {tools: ["echo"]},
  },
  ` + extra + `
}`
	cfgPath := filepath.Join(home, "clawbroker.json5")
	mustWrite(t, cfgPath, src)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	log, err := audit.Open(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	b, err := broker.New(context.Background(), broker.Options{Config: cfg, Audit: log, Credentials: creds, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	return e
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

var bot = broker.Subject{Agent: "bot", SourceIP: "127.0.0.1"}

func TestDecideFillsBrokerOwnedFields(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	// The caller claims a harmless resolved path and a subject; both are
	// replaced by what the broker computes.
	in := policy.Input{
		Action:  policy.ActionPathRead,
		Subject: &policy.Subject{Agent: "admin"},
		Path:    &policy.PathInput{Requested: "../.ssh/id_rsa", Resolved: e.ws + "/notes.txt", Ancestors: []string{"/", e.ws}},
	}
	d, err := e.b.Decide(ctx, bot, in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow {
		t.Fatalf("decision = %+v, want deny for ../.ssh/id_rsa whatever resolved path the caller sent", d)
	}
	if !strings.Contains(strings.Join(d.Reasons, " "), e.home+"/.ssh") {
		t.Errorf("reasons = %q, want them to name the denied path", d.Reasons)
	}
	// A caller-sent command and capabilities are ignored too.
	tool := policy.Input{Action: policy.ActionToolExec, Tool: &policy.ToolInput{
		Name: "echo", Command: "/bin/sh", Argv: []string{"hi"},
		Capabilities: []policy.Capability{{Type: "file_write", Paths: []string{"/"}}},
	}}
	d, err = e.b.Decide(ctx, bot, tool)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow {
		t.Errorf("echo decision = %+v, want allow (caller's command and capabilities ignored)", d)
	}
	d, err = e.b.Decide(ctx, broker.Subject{Agent: "other"}, policy.Input{Action: policy.ActionToolExec, Tool: &policy.ToolInput{Name: "cat"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow {
		t.Errorf("cat for agent other = %+v, want deny (not granted)", d)
	}
}

func TestReadFile(t *testing.T) {
	e := newEnv(t, "", nil)
	if err := os.Symlink(filepath.Join(e.outside, "secret.txt"), filepath.Join(e.ws, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e.ws, "notes.txt"), filepath.Join(e.ws, "alias")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		want    string
		wantErr error
	}{
		{"notes.txt", "hello notes", nil},
		{"./sub/../notes.txt", "hello notes", nil},
		{"alias", "hello notes", nil},
		{"../../etc/passwd", "", broker.ErrDenied},
		{"../.ssh/id_rsa", "", broker.ErrDenied},
		{"escape", "", broker.ErrDenied},
		{"missing.txt", "", broker.ErrNotFound},
		{"", "", broker.ErrInvalid},
		{"bad\x00path", "", broker.ErrInvalid},
		{".", "", broker.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := e.b.ReadFile(context.Background(), bot, tt.path)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadFile(%q) err = %v, want %v", tt.path, err, tt.wantErr)
				}
				if strings.Contains(string(res.Content), "SECRET") {
					t.Fatalf("ReadFile(%q) returned the secret", tt.path)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadFile(%q) = %v", tt.path, err)
			}
			if string(res.Content) != tt.want || res.Size != int64(len(tt.want)) || res.DecisionID == "" {
				t.Errorf("ReadFile(%q) = %q (size %d, id %q), want %q", tt.path, res.Content, res.Size, res.DecisionID, tt.want)
			}
		})
	}
	var de *broker.DenyError
	_, err := e.b.ReadFile(context.Background(), bot, e.home+"/.ssh/id_rsa")
	if !errors.As(err, &de) || de.DecisionID == "" || len(de.Reasons) == 0 {
		t.Errorf("denied read err = %#v, want a *DenyError with decision id and reasons", err)
	}
}

func TestWriteFile(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	write := func(path, content, mode string) (broker.FileResult, error) {
		return e.b.WriteFile(ctx, bot, broker.WriteRequest{Path: path, Content: []byte(content), Mode: mode})
	}
	if _, err := write("deep/er/new.txt", "one", ""); err != nil {
		t.Fatalf("create with parents: %v", err)
	}
	if _, err := write("deep/er/new.txt", "two", "create"); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("create on existing: err = %v, want ErrInvalid", err)
	}
	if _, err := write("deep/er/new.txt", "+more", "append"); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, filepath.Join(e.ws, "deep/er/new.txt")); got != "one+more" {
		t.Errorf("after append = %q, want %q", got, "one+more")
	}
	res, err := write("deep/er/new.txt", "replaced", "overwrite")
	if err != nil || res.Size != 8 {
		t.Fatalf("overwrite = %+v, %v", res, err)
	}
	if got := readBack(t, filepath.Join(e.ws, "deep/er/new.txt")); got != "replaced" {
		t.Errorf("after overwrite = %q", got)
	}
	if _, err := write("x", "y", "truncate"); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("bad mode: err = %v, want ErrInvalid", err)
	}
	// A final-component symlink is refused even when it points inside.
	if err := os.Symlink(filepath.Join(e.ws, "notes.txt"), filepath.Join(e.ws, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := write("link", "x", "overwrite"); !errors.Is(err, broker.ErrDenied) {
		t.Errorf("write through final symlink: err = %v, want ErrDenied", err)
	}
	// A directory symlink to outside: resolved, then denied.
	if err := os.Symlink(e.outside, filepath.Join(e.ws, "out")); err != nil {
		t.Fatal(err)
	}
	if _, err := write("out/planted.txt", "x", "create"); !errors.Is(err, broker.ErrDenied) {
		t.Errorf("write through dir symlink to outside: err = %v, want ErrDenied", err)
	}
	if _, err := os.Stat(filepath.Join(e.outside, "planted.txt")); !os.IsNotExist(err) {
		t.Errorf("a file was planted outside the workspace")
	}
	for _, p := range []string{".git/hooks/pre-commit", ".bashrc", "proj/.vscode/tasks.json", "../.ssh/authorized_keys"} {
		if _, err := write(p, "evil", "create"); !errors.Is(err, broker.ErrDenied) {
			t.Errorf("write %s: err = %v, want ErrDenied", p, err)
		}
	}
	big := strings.Repeat("x", int(e.cfg.Workspace.MaxFileBytes)+1)
	if _, err := write("big.txt", big, "create"); !errors.Is(err, broker.ErrTooLarge) {
		t.Errorf("oversize write: err = %v, want ErrTooLarge", err)
	}
	if _, err := os.Stat(filepath.Join(e.ws, "big.txt")); !os.IsNotExist(err) {
		t.Errorf("an oversize write left a file behind")
	}
	leftovers, _ := filepath.Glob(filepath.Join(e.ws, "deep/er/.clawbroker-*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func readBack(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadSymlinkSwapRace flips a workspace directory between a real
// directory and a symlink to a secret outside while reads run: the secret
// must never come back, whichever moment the swap lands.
func TestReadSymlinkSwapRace(t *testing.T) {
	e := newEnv(t, "", nil)
	real := filepath.Join(e.ws, "real")
	mustWrite(t, filepath.Join(real, "secret.txt"), "fine")
	d := filepath.Join(e.ws, "d")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tmpLink := filepath.Join(e.ws, "d.link")
		tmpDir := filepath.Join(e.ws, "d.dir")
		for !stop.Load() {
			_ = os.Symlink(e.outside, tmpLink)
			_ = os.Rename(tmpLink, d)
			_ = os.Symlink(real, tmpDir)
			_ = os.Rename(tmpDir, d)
		}
	}()
	var allowed, denied int
	for range 400 {
		res, err := e.b.ReadFile(context.Background(), bot, "d/secret.txt")
		if bytes.Contains(res.Content, []byte("OUTSIDE-SECRET")) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("a swapped symlink leaked the outside secret")
		}
		if err == nil {
			allowed++
		} else {
			denied++
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads allowed (inside), %d refused", allowed, denied)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestAuditFailureDenies(t *testing.T) {
	e := newEnv(t, "", nil)
	log := audit.New(failingWriter{})
	_, err := broker.New(context.Background(), broker.Options{Config: e.cfg, Audit: log, Log: zerolog.Nop()})
	if !errors.Is(err, broker.ErrAudit) {
		t.Fatalf("New with a broken audit sink: err = %v, want ErrAudit", err)
	}
}

func TestExec(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	res, err := e.b.Exec(ctx, bot, broker.ExecRequest{Tool: "echo", Args: []string{"hello", "world"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "hello world\n" || res.ExitCode != 0 || res.DecisionID == "" {
		t.Errorf("echo = %+v, want hello world", res)
	}
	res, err = e.b.Exec(ctx, bot, broker.ExecRequest{Tool: "cat", Args: []string{"notes.txt"}})
	if err != nil || string(res.Stdout) != "hello notes" {
		t.Errorf("cat notes.txt = %q, %v; want the workspace file (cwd is the workspace)", res.Stdout, err)
	}
	res, err = e.b.Exec(ctx, bot, broker.ExecRequest{Tool: "cat", Args: []string{e.home + "/.ssh/id_rsa"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || bytes.Contains(res.Stdout, []byte("planted")) {
		t.Errorf("cat ~/.ssh/id_rsa inside the sandbox = %+v, want it invisible", res)
	}
	res, err = e.b.Exec(ctx, bot, broker.ExecRequest{Tool: "sleep", Args: []string{"5"}, Timeout: 300 * time.Millisecond})
	if err != nil || !res.TimedOut {
		t.Errorf("sleep 5 with 300ms timeout = %+v, %v; want timed out", res, err)
	}
	if _, err := e.b.Exec(ctx, broker.Subject{Agent: "other"}, broker.ExecRequest{Tool: "cat"}); !errors.Is(err, broker.ErrDenied) {
		t.Errorf("ungranted tool: err = %v, want ErrDenied", err)
	}
	invalid := []broker.ExecRequest{
		{Tool: ""},
		{Tool: "../bin/sh"},
		{Tool: "echo", Env: map[string]string{"LD_PRELOAD": "/tmp/x.so"}},
		{Tool: "echo", Env: map[string]string{"BASH_ENV": "/tmp/x"}},
		{Tool: "echo", Env: map[string]string{"bad name": "x"}},
		{Tool: "echo", Args: []string{"a\x00b"}},
		{Tool: "echo", Args: make([]string, broker.MaxArgs+1)},
		{Tool: "echo", Timeout: -time.Second},
		{Tool: "echo", Timeout: time.Hour},
		{Tool: "sh", Env: map[string]string{"API_TOKEN": "mine"}},
	}
	for i, req := range invalid {
		if _, err := e.b.Exec(ctx, bot, req); !errors.Is(err, broker.ErrInvalid) {
			t.Errorf("invalid request %d (%+v): err = %v, want ErrInvalid", i, req.Env, err)
		}
	}
}

func testStore(t *testing.T, path string, secrets map[string]string) *credstore.Store {
	t.Helper()
	id := credstore.Identity{MachineID: []byte("broker-test-machine"), UID: "1000", Username: "tester"}
	s, err := credstore.Create(path, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for p, v := range secrets {
		if err := s.Set(p, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestCredentialsInjectedAndRedacted(t *testing.T) {
	const token = "sk-test-9f8e7d6c5b4a39281706"
	dir := t.TempDir()
	store := testStore(t, filepath.Join(dir, "creds.enc.json"), map[string]string{"openai": token, "github": "ghp_notgranted000000000000000000000000"})
	e := newEnv(t, "", store)
	ctx := context.Background()

	cr, err := e.b.ReadCredential(ctx, bot, "openai")
	if err != nil || string(cr.Secret.Bytes()) != token {
		t.Fatalf("ReadCredential(openai) = %v; want the token", err)
	}
	cr.Secret.Zero()
	if _, err := e.b.ReadCredential(ctx, bot, "github"); !errors.Is(err, broker.ErrDenied) {
		t.Errorf("ungranted provider: err = %v, want ErrDenied", err)
	}
	if _, err := e.b.ReadCredential(ctx, broker.Subject{Agent: "other"}, "openai"); !errors.Is(err, broker.ErrDenied) {
		t.Errorf("other agent: err = %v, want ErrDenied", err)
	}
	if _, err := e.b.ReadCredential(ctx, bot, "Bad/Name"); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("bad provider name: err = %v, want ErrInvalid", err)
	}
	list, err := e.b.ListCredentials(ctx, bot)
	if err != nil || len(list) != 2 {
		t.Errorf("ListCredentials = %v, %v", list, err)
	}

	half := len(token) / 2
	script := `printf '%s\n' "$API_TOKEN"; printf '%s' "$API_TOKEN" | base64; printf '%s' "$API_TOKEN" | od -An -tx1 | tr -d ' \n'; echo
printf '%s' "` + token[:half] + `"; sleep 0.05; printf '%s\n' "` + token[half:] + `"; echo "$API_TOKEN" >&2`
	res, err := e.b.Exec(ctx, bot, broker.ExecRequest{Tool: "sh", Args: []string{"-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout) + string(res.Stderr)
	for _, form := range []string{token, base64.StdEncoding.EncodeToString([]byte(token)), hex.EncodeToString([]byte(token)), token[:half]} {
		if strings.Contains(out, form) {
			t.Errorf("tool output %q contains the secret in the form %q", out, form)
		}
	}
	if strings.Count(out, broker.Redacted) < 5 {
		t.Errorf("output = %q, want [REDACTED] for each of the five prints", out)
	}
	raw, err := os.ReadFile(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(token)) || bytes.Contains(raw, []byte("ghp_notgranted")) {
		t.Errorf("the audit log contains a secret")
	}
	for _, want := range []string{`"event":"credential_access"`, `"success":true`, `"success":false`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	f, err := os.Open(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := audit.Verify(f, audit.VerifyOptions{}); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

// TestCredentialStoreRotatedWhileRunning: `clawbroker cred rotate` re-keys
// the store under a running broker, which reopens it with the new
// passphrase instead of failing until restarted.
func TestCredentialStoreRotatedWhileRunning(t *testing.T) {
	e := newEnv(t, "", nil)
	t.Setenv(broker.EnvPassphrase, "first passphrase")
	id, err := credstore.LocalIdentity([]byte("first passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := credstore.Create(e.cfg.Credentials.Path, id)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Set("openai", []byte("sk-before-rotation-000000")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cr, err := e.b.ReadCredential(ctx, bot, "openai")
	if err != nil || string(cr.Secret.Bytes()) != "sk-before-rotation-000000" {
		t.Fatalf("first read: %v", err)
	}
	newID, err := credstore.LocalIdentity([]byte("second passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Rotate(newID); err != nil {
		t.Fatal(err)
	}
	t.Setenv(broker.EnvPassphrase, "second passphrase")
	cr, err = e.b.ReadCredential(ctx, bot, "openai")
	if err != nil || string(cr.Secret.Bytes()) != "sk-before-rotation-000000" {
		t.Fatalf("read after rotate: %v, want the store reopened", err)
	}
	// A wrong passphrase fails, and keeps failing without a new key
	// derivation until the file changes.
	t.Setenv(broker.EnvPassphrase, "wrong")
	e2 := newEnvWithConfig(t, e)
	for range 2 {
		if _, err := e2.ReadCredential(ctx, bot, "openai"); !errors.Is(err, credstore.ErrWrongKey) {
			t.Fatalf("wrong passphrase: err = %v, want ErrWrongKey", err)
		}
	}
}

// newEnvWithConfig is a second broker on the same config and audit log.
func newEnvWithConfig(t *testing.T, e *env) *broker.Broker {
	t.Helper()
	log, err := audit.Open(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	b, err := broker.New(context.Background(), broker.Options{Config: e.cfg, Audit: log, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
