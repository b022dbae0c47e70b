package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fixedClock returns a clock that starts at a fixed instant and advances by
// one millisecond per call, so golden lines are reproducible.
func fixedClock() func() time.Time {
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

// sampleInput is a decision input as the broker builds it.
func sampleInput() map[string]any {
	return map[string]any{
		"action":  "tool.exec",
		"subject": map[string]any{"agent": "ci-bot", "source_ip": "127.0.0.1"},
		"tool": map[string]any{
			"name": "git", "command": "/usr/bin/git", "argv": []any{"status", "--short"},
			"cwd":         "/home/u/.clawbroker/workspace",
			"credentials": map[string]any{"GITHUB_TOKEN": "github"},
			"capabilities": []any{
				map[string]any{"type": "file_write", "paths": []any{"/home/u/.clawbroker/workspace"}},
			},
		},
	}
}

// writeAll writes one event of every kind.
func writeAll(t *testing.T, l *Logger) {
	t.Helper()
	steps := []struct {
		name string
		emit func() error
	}{
		{"decision", func() error {
			return l.Decision(DecisionEvent{ID: "d-1", Input: sampleInput(), Allow: true,
				Reasons: []string{"tool git is granted to agent ci-bot"}, Action: "tool.exec",
				Agent: "ci-bot", Revision: "rev-1", EvalNS: 12345})
		}},
		{"credential", func() error {
			return l.CredentialAccess(CredentialAccess{Provider: "github", Agent: "ci-bot", DecisionID: "d-2", Success: true})
		}},
		{"tool", func() error {
			return l.ToolExecution(ToolExecution{Tool: "git", Agent: "ci-bot", DecisionID: "d-1",
				Argv: []string{"status"}, ExitCode: 0, DurationMS: 7})
		}},
		{"auth", func() error {
			return l.AuthFailure(AuthFailure{Reason: "unknown token", SourceIP: "10.0.0.9", Method: "POST", Route: "/v1/exec"})
		}},
		{"ratelimit", func() error {
			return l.RateLimitExceeded(RateLimitExceeded{Agent: "ci-bot", SourceIP: "127.0.0.1", Limit: 60})
		}},
		{"reload", func() error {
			return l.PolicyReload(PolicyReload{Success: false, PreviousRevision: "rev-1", Source: "/etc/clawbroker/policies",
				Error: "tool.rego:3: rego_parse_error"})
		}},
		{"sandbox", func() error {
			return l.SandboxError(SandboxError{Tool: "git", Agent: "ci-bot", DecisionID: "d-3", Error: "bwrap: not found"})
		}},
	}
	for _, s := range steps {
		if err := s.emit(); err != nil {
			t.Fatalf("%s: got error %v, want nil", s.name, err)
		}
	}
}

func decodeLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d: got invalid JSON %q: %v", i+1, line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLineShape(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	l.now = fixedClock()
	writeAll(t, l)
	lines := decodeLines(t, buf.Bytes())
	wantEvents := []string{EventPolicyDecision, EventCredentialAccess, EventToolExecution,
		EventAuthFailure, EventRateLimitExceeded, EventPolicyReload, EventSandboxError}
	if len(lines) != len(wantEvents) {
		t.Fatalf("got %d lines, want %d", len(lines), len(wantEvents))
	}
	prev := GenesisHash
	for i, m := range lines {
		if got := m["event"]; got != wantEvents[i] {
			t.Errorf("line %d: got event %v, want %s", i+1, got, wantEvents[i])
		}
		if got := m["seq"].(json.Number).String(); got != strconv.Itoa(i+1) {
			t.Errorf("line %d: got seq %s, want %d", i+1, got, i+1)
		}
		ts, _ := m["timestamp"].(string)
		if parsed, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || parsed.IsZero() {
			t.Errorf("line %d: got timestamp %q, want RFC3339Nano in UTC", i+1, ts)
		}
		if got := m["prev_hash"]; got != prev {
			t.Errorf("line %d: got prev_hash %v, want %s", i+1, got, prev)
		}
		prev, _ = m["hash"].(string)
		if _, ok := m["level"]; ok {
			t.Errorf("line %d: got a level field, want none", i+1)
		}
	}
	raw := bytes.Split(buf.Bytes(), []byte("\n"))
	for i, line := range raw[:len(lines)] {
		if !bytes.HasPrefix(line, []byte(`{"event":"`)) {
			t.Errorf("line %d: got %.30q, want event as the first field", i+1, line)
		}
		if !bytes.Contains(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) {
			t.Errorf("line %d: got %q at the end, want hash as the last field", i+1, line[len(line)-hashSuffixLen:])
		}
	}

	d := lines[0]
	checks := []struct {
		field string
		got   any
		want  any
	}{
		{"decision_id", d["decision_id"], "d-1"},
		{"path", d["path"], DecisionPath},
		{"revision", d["revision"], "rev-1"},
		{"action", d["action"], "tool.exec"},
		{"agent", d["agent"], "ci-bot"},
		{"allow", d["allow"], true},
		{"result.allow", d["result"].(map[string]any)["allow"], true},
		{"result.reasons[0]", d["result"].(map[string]any)["reasons"].([]any)[0], "tool git is granted to agent ci-bot"},
		{"metrics.timer_rego_query_eval_ns", d["metrics"].(map[string]any)["timer_rego_query_eval_ns"], json.Number("12345")},
		{"input.tool.credentials.GITHUB_TOKEN", d["input"].(map[string]any)["tool"].(map[string]any)["credentials"].(map[string]any)["GITHUB_TOKEN"], "github"},
		{"input.subject.agent", d["input"].(map[string]any)["subject"].(map[string]any)["agent"], "ci-bot"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("decision %s: got %v, want %v", c.field, c.got, c.want)
		}
	}
	if _, ok := d["error"]; ok {
		t.Errorf("decision: got an error field for a decision without Err, want none")
	}
}

func TestDecisionEmptyReasonsAndBadInput(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	if err := l.Decision(DecisionEvent{ID: "d", Input: make(chan int), Err: "evaluation timed out"}); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	m := decodeLines(t, buf.Bytes())[0]
	if got := m["input"]; got != nil {
		t.Errorf("got input %v, want null", got)
	}
	if got := m["input_error"]; got != "input is not JSON-marshalable" {
		t.Errorf("got input_error %v, want the reason", got)
	}
	if got := m["result"].(map[string]any)["reasons"]; len(got.([]any)) != 0 {
		t.Errorf("got reasons %v, want []", got)
	}
	if got := m["error"]; got != "evaluation timed out" {
		t.Errorf("got error %v, want %q", got, "evaluation timed out")
	}
}

func TestOpenContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "audit.log")
	for run := 0; run < 3; run++ {
		l, err := Open(path)
		if err != nil {
			t.Fatalf("run %d: Open: %v", run, err)
		}
		if seq, _ := l.Head(); seq != uint64(run*7) {
			t.Errorf("run %d: got head seq %d, want %d", run, seq, run*7)
		}
		writeAll(t, l)
		if err := l.Close(); err != nil {
			t.Fatalf("run %d: Close: %v", run, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Verify(f, VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify across restarts: got %v, want nil", err)
	}
	if rep.Lines != 21 {
		t.Errorf("got %d lines, want 21", rep.Lines)
	}
}

func TestOpenRefusesUncleanTail(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func([]byte) []byte
		wantLine   int
		incomplete bool
	}{
		{"cut short", func(b []byte) []byte { return b[:len(b)-20] }, 7, true},
		{"missing final newline", func(b []byte) []byte { return b[:len(b)-1] }, 7, true},
		{"partial line after complete ones", func(b []byte) []byte { return append(b, `{"event":"pol`...) }, 8, true},
		{"edited last line", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"bwrap: not found"`), []byte(`"bwrap: not there"`), 1)
		}, 7, false},
		{"blank last line", func(b []byte) []byte { return append(b, '\n') }, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, l)
			l.Close()
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(path, tt.tamper(data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Open(path)
			var te *TailError
			if !errors.As(err, &te) || !errors.Is(err, ErrUncleanLog) {
				t.Fatalf("got error %v, want a *TailError wrapping ErrUncleanLog", err)
			}
			if te.Line != tt.wantLine || te.Incomplete != tt.incomplete {
				t.Errorf("got line %d incomplete %v, want line %d incomplete %v", te.Line, te.Incomplete, tt.wantLine, tt.incomplete)
			}
			if tt.incomplete {
				want := "audit log " + path + " ends with an incomplete line " + strconv.Itoa(tt.wantLine) +
					": run `clawbroker audit verify " + path + "` and move it aside"
				if err.Error() != want {
					t.Errorf("got message %q, want %q", err.Error(), want)
				}
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, tt.tamper(data)) {
				t.Errorf("Open modified a log it refused")
			}
		})
	}
}

func TestOpenStdStreams(t *testing.T) {
	for _, out := range []string{"stderr", "stdout"} {
		l, err := Open(out)
		if err != nil {
			t.Fatalf("Open(%q): %v", out, err)
		}
		if err := l.Healthy(); err != nil {
			t.Errorf("Open(%q).Healthy: got %v, want nil", out, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Open(%q).Close: got %v, want nil", out, err)
		}
	}
	if _, err := Open(""); err == nil {
		t.Errorf(`Open(""): got nil error, want one`)
	}
}

// flakyWriter fails the writes it is told to, writing partial bytes first.
type flakyWriter struct {
	buf     bytes.Buffer
	fail    bool
	partial int
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.fail {
		n := min(w.partial, len(p))
		w.buf.Write(p[:n])
		return n, errors.New("disk full")
	}
	return w.buf.Write(p)
}

func TestWriteFailureIsReturned(t *testing.T) {
	w := &flakyWriter{}
	l := New(w)
	ev := AuthFailure{Reason: "bad token"}
	if err := l.AuthFailure(ev); err != nil {
		t.Fatal(err)
	}
	w.fail = true
	if err := l.AuthFailure(ev); err == nil {
		t.Fatalf("failed write: got nil error, want one")
	}
	if err := l.Healthy(); err == nil {
		t.Errorf("Healthy after a failed write: got nil, want the write error")
	}
	w.fail = false
	if err := l.AuthFailure(ev); err != nil {
		t.Fatalf("write after recovery: got %v, want nil", err)
	}
	if err := l.Healthy(); err != nil {
		t.Errorf("Healthy after recovery: got %v, want nil", err)
	}
	rep, err := Verify(bytes.NewReader(w.buf.Bytes()), VerifyOptions{})
	if err != nil || rep.Lines != 2 {
		t.Errorf("Verify after a failed write: got %d lines, %v; want 2 lines, nil", rep.Lines, err)
	}
}

func TestPartialWriteBreaksLogger(t *testing.T) {
	w := &flakyWriter{fail: true, partial: 10}
	l := New(w)
	err := l.AuthFailure(AuthFailure{Reason: "x"})
	if !errors.Is(err, ErrBroken) {
		t.Fatalf("partial write: got %v, want ErrBroken", err)
	}
	w.fail = false
	if err := l.AuthFailure(AuthFailure{Reason: "x"}); !errors.Is(err, ErrBroken) {
		t.Errorf("write after partial write: got %v, want ErrBroken", err)
	}
	if err := l.Healthy(); !errors.Is(err, ErrBroken) {
		t.Errorf("Healthy after partial write: got %v, want ErrBroken", err)
	}
}

func TestClosed(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Decision(DecisionEvent{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Decision after Close: got %v, want ErrClosed", err)
	}
	if err := l.Healthy(); !errors.Is(err, ErrClosed) {
		t.Errorf("Healthy after Close: got %v, want ErrClosed", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: got %v, want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: got %v, want ErrClosed", err)
	}
}

func TestHealthyNoticesMovedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Healthy(); err != nil {
		t.Fatalf("Healthy: got %v, want nil", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: got %v, want nil", err)
	}
	if err := os.Rename(path, filepath.Join(dir, "moved.log")); err != nil {
		t.Skipf("cannot rename an open file here: %v", err)
	}
	if err := l.Healthy(); err == nil {
		t.Errorf("Healthy after the log was moved: got nil, want an error")
	}
}

func TestZerologDisabledFailsClosed(t *testing.T) {
	old := zerolog.GlobalLevel()
	zerolog.SetGlobalLevel(zerolog.Disabled)
	defer zerolog.SetGlobalLevel(old)
	l := New(io.Discard)
	if err := l.AuthFailure(AuthFailure{}); !errors.Is(err, ErrDisabled) {
		t.Errorf("got %v, want ErrDisabled", err)
	}
}

func TestConcurrentWritersKeepTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Decision(DecisionEvent{ID: "d", Input: sampleInput(), Allow: i%2 == 0}); err != nil {
					t.Error(err)
					return
				}
				_ = l.Healthy()
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	rep, err := Verify(f, VerifyOptions{})
	if err != nil || rep.Lines != workers*each {
		t.Errorf("got %d lines, %v; want %d lines, nil", rep.Lines, err, workers*each)
	}
}

func TestOpenContinuesAfterLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	big := map[string]any{"action": "path.write", "note": strings.Repeat("a b ", 100<<10)}
	if err := l.Decision(DecisionEvent{ID: "d1", Input: big}); err != nil {
		t.Fatal(err)
	}
	if err := l.Decision(DecisionEvent{ID: "d2", Input: big}); err != nil {
		t.Fatal(err)
	}
	_, head := l.Head()
	l.Close()
	l, err = Open(path)
	if err != nil {
		t.Fatalf("reopen after a %d-byte line: %v", 400<<10, err)
	}
	if seq, h := l.Head(); seq != 2 || h != head {
		t.Errorf("got head %d %s, want 2 %s", seq, h, head)
	}
	if err := l.AuthFailure(AuthFailure{Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, _ := os.Open(path)
	defer f.Close()
	if rep, err := Verify(f, VerifyOptions{Head: head}); err != nil || rep.Lines != 3 || rep.HeadLine != 2 {
		t.Errorf("got %+v, %v; want 3 lines, head at line 2", rep, err)
	}
}

// TestTwoWritersShareOneChain: a broker and the CLI append to the same
// file; the chain stays whole because each append takes the file lock and
// continues from the file's real last line.
func TestTwoWritersShareOneChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for _, l := range []*Logger{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if err := l.AuthFailure(AuthFailure{Reason: "unknown token", SourceIP: "127.0.0.1"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Verify(f, VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify after two writers: %v", err)
	}
	if rep.Lines != 200 {
		t.Errorf("lines = %d, want 200", rep.Lines)
	}
}
