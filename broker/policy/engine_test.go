package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const okModule = `package clawbroker.authz

default decision := {"allow": false, "reasons": ["no rule allowed this request"]}

decision := {"allow": true, "reasons": []} if input.action == "path.read"
`

func TestEmbeddedPoliciesLoad(t *testing.T) {
	e, err := New(context.Background(), Options{Data: map[string]any{}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("New(embedded) = %v", err)
	}
	if len(e.Files()) < 5 {
		t.Errorf("Files() = %v, want the five shipped policy files", e.Files())
	}
	for _, f := range e.Files() {
		if strings.HasSuffix(f, "_test.rego") {
			t.Errorf("loaded test file %s", f)
		}
	}
	e2, err := New(context.Background(), Options{Data: map[string]any{}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision() != e2.Revision() {
		t.Errorf("revision not stable: %s != %s", e.Revision(), e2.Revision())
	}
	e3, err := New(context.Background(), Options{Data: map[string]any{"workspace": "/elsewhere"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision() == e3.Revision() {
		t.Errorf("revision %s did not change with the data", e.Revision())
	}
	// Empty data: nothing is granted, so everything is denied with a reason.
	d, err := e.Decide(context.Background(), Input{Action: ActionToolExec, Subject: &Subject{Agent: "a"}, Tool: &ToolInput{Name: "git", Argv: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || len(d.Reasons) == 0 {
		t.Errorf("decision = %+v, want a deny with reasons", d)
	}
	if d.ID == "" || d.Revision != e.Revision() {
		t.Errorf("decision id %q revision %q, want both set", d.ID, d.Revision)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		module  string
		timeout time.Duration
		wantErr error
		reason  string
	}{
		{
			name: "evaluation error",
			module: okModule + `
decision := {"allow": true, "reasons": [x]} if {
	input.action == "tool.exec"
	x := to_number("not a number")
}`,
			wantErr: ErrEvaluation, reason: "policy evaluation failed",
		},
		{
			name: "conflicting values",
			module: okModule + `
decision := {"allow": true, "reasons": []} if input.action == "tool.exec"
decision := {"allow": false, "reasons": ["x"]} if input.action == "tool.exec"`,
			wantErr: ErrEvaluation, reason: "policy evaluation failed",
		},
		{
			name: "timeout",
			module: okModule + `
decision := {"allow": true, "reasons": []} if {
	input.action == "tool.exec"
	count([x | some x in numbers.range(1, 100000000); x % 7 == 0]) > 0
}`,
			timeout: 20 * time.Millisecond, wantErr: ErrTimeout, reason: "exceeded",
		},
		{
			name: "undefined",
			module: `package clawbroker.authz

decision := {"allow": true, "reasons": []} if input.action == "path.read"`,
			wantErr: ErrUndefined, reason: "undefined",
		},
		{
			name: "malformed allow",
			module: okModule + `
decision := {"allow": "yes", "reasons": []} if input.action == "tool.exec"`,
			wantErr: ErrMalformed, reason: `"allow" must be a boolean`,
		},
		{
			name: "malformed reasons",
			module: okModule + `
decision := {"allow": true, "reasons": "fine"} if input.action == "tool.exec"`,
			wantErr: ErrMalformed, reason: `"reasons" must be an array`,
		},
		{
			name: "not an object",
			module: okModule + `
decision := true if input.action == "tool.exec"`,
			wantErr: ErrMalformed, reason: "want an object",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second // -race on a loaded machine
			}
			e, err := New(context.Background(), Options{Modules: map[string]string{"p.rego": tt.module}, Timeout: timeout})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			d, err := e.Decide(context.Background(), Input{Action: ActionToolExec, Subject: &Subject{Agent: "a"}})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if d.Allow {
				t.Errorf("allow = true, want false (fail closed)")
			}
			if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], tt.reason) {
				t.Errorf("reasons = %q, want one containing %q", d.Reasons, tt.reason)
			}
			if d.ID == "" {
				t.Errorf("a failed decision has no id")
			}
		})
	}
}

func TestDecideCallerCancelled(t *testing.T) {
	e, err := New(context.Background(), Options{Modules: map[string]string{"p.rego": okModule}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := e.Decide(ctx, Input{Action: ActionPathRead})
	if err == nil || d.Allow {
		t.Errorf("Decide(cancelled) = %+v, %v; want a deny and an error", d, err)
	}
}

func TestNewRejects(t *testing.T) {
	empty := t.TempDir()
	notDir := filepath.Join(empty, "file.rego")
	if err := os.WriteFile(notDir, []byte(okModule), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"parse error", Options{Modules: map[string]string{"bad.rego": "package clawbroker.authz\n\ndecision := {"}}, "bad.rego"},
		{"compile error", Options{Modules: map[string]string{"bad.rego": "package clawbroker.authz\n\ndecision := x if { y := 1 }"}}, "var x is unsafe"},
		{"smoke undefined", Options{Modules: map[string]string{"p.rego": "package clawbroker.authz\n\ndecision := {\"allow\": true, \"reasons\": []} if input.action == \"tool.exec\""}}, "smoke decision"},
		{"empty dir", Options{Dir: empty + "/none"}, "policy directory"},
		{"no rego files", Options{Dir: t.TempDir()}, "no .rego files"},
		{"not a directory", Options{Dir: notDir}, "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.opts)
			if err == nil {
				t.Fatalf("New = nil, want an error containing %q", tt.want)
			}
			if !errors.Is(err, ErrLoad) {
				t.Errorf("err %v does not wrap ErrLoad", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestAncestors(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/", []string{"/"}},
		{"/a", []string{"/", "/a"}},
		{"/home/u/.ssh/id_rsa", []string{"/", "/home", "/home/u", "/home/u/.ssh", "/home/u/.ssh/id_rsa"}},
		{"relative", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := Ancestors(tt.in)
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Ancestors(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func writeRego(t *testing.T, dir, src string) {
	t.Helper()
	tmp := filepath.Join(dir, ".p.rego.tmp")
	if err := os.WriteFile(tmp, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "p.rego")); err != nil {
		t.Fatal(err)
	}
}

// holder is what a broker keeps in a Reloader: an engine and its context.
type holder struct{ *Engine }

func TestReloaderKeepsOldOnFailureAndWatches(t *testing.T) {
	dir := t.TempDir()
	writeRego(t, dir, okModule)
	var mu sync.Mutex
	var events []ReloadEvent
	build := func(ctx context.Context) (*holder, error) {
		e, err := New(ctx, Options{Dir: dir, Timeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		return &holder{e}, nil
	}
	r, err := NewReloader(context.Background(), build, func(ev ReloadEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	first := (*r.Current()).Revision()

	// Readers hammer the engine while reloads swap it: none may ever see a
	// half-built one (the race detector watches too).
	stop := make(chan struct{})
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := r.Current().Decide(context.Background(), Input{Action: ActionPathRead})
				if err != nil || !d.Allow {
					bad.Add(1)
				}
			}
		}()
	}

	writeRego(t, dir, "package clawbroker.authz\n\ndecision := {")
	if err := r.Reload(context.Background(), "test"); err == nil {
		t.Errorf("Reload(broken) = nil, want an error")
	}
	if got := (*r.Current()).Revision(); got != first {
		t.Errorf("revision after failed reload = %s, want the old %s", got, first)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Watch(ctx, dir, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	writeRego(t, dir, okModule+"\n# changed\n")
	deadline := time.Now().Add(10 * time.Second)
	for (*r.Current()).Revision() == first && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if (*r.Current()).Revision() == first {
		t.Fatalf("watch did not reload after a file change")
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d decisions during reloads were not the expected allow", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 2 || events[0].Success || events[0].Err == nil || !events[len(events)-1].Success {
		t.Errorf("events = %+v, want a failure then a success", events)
	}
	if events[0].Revision != first || events[0].PreviousRevision != first {
		t.Errorf("failed reload event = %+v, want revision and previous both %s", events[0], first)
	}
}

func TestDecisionCache(t *testing.T) {
	ctx := context.Background()
	in := Input{Action: ActionPathRead, Subject: &Subject{Agent: "a"}, Path: &PathInput{Requested: "x", Resolved: "/x", Ancestors: []string{"/", "/x"}}}
	t.Run("deterministic policies are cached per input", func(t *testing.T) {
		e, err := New(ctx, Options{Modules: map[string]string{"p.rego": okModule}, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if on, why := e.Caching(); !on {
			t.Fatalf("Caching() = false (%s), want true", why)
		}
		first, err := e.Decide(ctx, in)
		if err != nil || first.Cached {
			t.Fatalf("first = %+v, %v; want an evaluated decision", first, err)
		}
		second, err := e.Decide(ctx, in)
		if err != nil || !second.Cached || second.Allow != first.Allow || second.ID == first.ID || second.EvalTime != 0 {
			t.Errorf("second = %+v, %v; want a cached copy with its own id", second, err)
		}
		other := in
		other.Subject = &Subject{Agent: "b"}
		if d, _ := e.Decide(ctx, other); d.Cached {
			t.Errorf("a different subject hit the cache")
		}
		// A failure is never cached.
		bad := Input{Action: ActionToolExec, Subject: &Subject{Agent: "a"}}
		e2, err := New(ctx, Options{Modules: map[string]string{"p.rego": okModule + "\ndecision := {\"allow\": \"yes\", \"reasons\": []} if input.action == \"tool.exec\"\n"}})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if d, err := e2.Decide(ctx, bad); err == nil || d.Cached || d.Allow {
				t.Errorf("malformed decision = %+v, %v; want an uncached deny with an error", d, err)
			}
		}
	})
	t.Run("non-deterministic policies are not cached", func(t *testing.T) {
		mod := okModule + "\nafter_epoch if time.now_ns() > 0\n"
		e, err := New(ctx, Options{Modules: map[string]string{"p.rego": mod}})
		if err != nil {
			t.Fatal(err)
		}
		on, why := e.Caching()
		if on || !strings.Contains(why, "time.now_ns") {
			t.Errorf("Caching() = %v, %q; want off because of time.now_ns", on, why)
		}
		for range 2 {
			if d, _ := e.Decide(ctx, in); d.Cached {
				t.Errorf("decision was cached")
			}
		}
	})
	t.Run("turned off", func(t *testing.T) {
		e, err := New(ctx, Options{Modules: map[string]string{"p.rego": okModule}, CacheSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if d, _ := e.Decide(ctx, in); d.Cached {
				t.Errorf("decision was cached with CacheSize -1")
			}
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := newDecisionCache(3)
		for i := range 10 {
			c.put(strings.Repeat("k", i+1), cachedDecision{allow: true})
		}
		if n := len(c.m); n > 3 {
			t.Errorf("cache holds %d entries, want at most 3", n)
		}
	})
}
