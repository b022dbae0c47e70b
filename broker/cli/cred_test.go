package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/crypto/credstore"
)

// credEnv is one test's store location and config; every run goes through
// the real command tree, as `clawbroker --config FILE cred ...` would.
type credEnv struct {
	t     *testing.T
	cfg   string
	store string
}

func newCredEnv(t *testing.T) *credEnv {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "state", "credentials.enc.json")
	cfg := filepath.Join(dir, "clawbroker.json5")
	if err := os.WriteFile(cfg, []byte(`{credentials: {path: "`+filepath.ToSlash(store)+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return &credEnv{t: t, cfg: cfg, store: store}
}

// unsetenv removes key for the rest of the test and restores it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	os.Unsetenv(key)
}

type credRun struct {
	code           int
	stdout, stderr string
}

func (e *credEnv) run(stdin string, args ...string) credRun {
	e.t.Helper()
	var out, errb bytes.Buffer
	a := &App{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := a.Run(context.Background(), append([]string{"--config", e.cfg, "cred"}, args...))
	return credRun{code: code, stdout: out.String(), stderr: errb.String()}
}

// fakeTerminal makes the cred verbs believe stdin is a terminal whose user
// types answers in order; it fails the test if more are asked for.
func fakeTerminal(t *testing.T, answers ...string) *[]string {
	t.Helper()
	var asked []string
	saved := credTerminal
	credTerminal = func(*App) (func(string) ([]byte, error), bool) {
		return func(label string) ([]byte, error) {
			asked = append(asked, label)
			if len(answers) == 0 {
				t.Errorf("unexpected prompt %q", label)
				return nil, errors.New("no more answers")
			}
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}, true
	}
	t.Cleanup(func() {
		credTerminal = saved
		if len(answers) != 0 {
			t.Errorf("prompts not asked; answers left: %d", len(answers))
		}
	})
	return &asked
}

const (
	credSecretA = "sk-cli-test-AAAAAAAAAAAAAAAAAAAAAAAA"
	credSecretB = "ghp_CLITESTBBBBBBBBBBBBBBBBBBBBBBBB"
)

func (e *credEnv) get(pass, provider string) string {
	e.t.Helper()
	id, err := credstore.LocalIdentity([]byte(pass))
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := credstore.Open(e.store, id)
	if err != nil {
		e.t.Fatalf("opening the store the CLI wrote: %v", err)
	}
	defer s.Close()
	sec, err := s.Get(provider)
	if err != nil {
		e.t.Fatalf("Get(%q): %v", provider, err)
	}
	return string(sec.Bytes())
}

func assertNoCredSecret(t *testing.T, r credRun) {
	t.Helper()
	for _, s := range []string{credSecretA, credSecretB} {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("output contains a secret value:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
		}
	}
}

func TestCredLifecycleWithPassphraseFromEnv(t *testing.T) {
	e := newCredEnv(t)
	t.Setenv(broker.EnvPassphrase, "old pass")

	steps := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"list before any store", "", []string{"list"}, ExitFailed, "", "clawbroker cred set"},
		{"set creates the store", credSecretA + "\n", []string{"set", "openai"}, ExitOK, "stored credential for openai", "created credential store"},
		{"set a second", credSecretB, []string{"set", "github"}, ExitOK, "stored credential for github", ""},
		{"list", "", []string{"list"}, ExitOK, "github", ""},
		{"rm unknown", "", []string{"rm", "nope"}, ExitFailed, "", `no credential is stored for provider "nope"`},
		{"rm", "", []string{"rm", "github"}, ExitOK, "removed credential for github", ""},
		{"set invalid provider", "v", []string{"set", "Bad/Name"}, ExitUsage, "", "invalid provider name"},
		{"set a value given as an argument", "", []string{"set", "openai", credSecretA}, ExitUsage, "", "accepts 1 arg"},
		{"set with empty stdin", "", []string{"set", "openai"}, ExitUsage, "", "no value on stdin"},
	}
	for _, st := range steps {
		r := e.run(st.stdin, st.args...)
		if r.code != st.wantCode {
			t.Fatalf("%s: exit code: got %d, want %d (stderr: %s)", st.name, r.code, st.wantCode, r.stderr)
		}
		if !strings.Contains(r.stdout, st.wantStdout) {
			t.Errorf("%s: stdout: got %q, want it to contain %q", st.name, r.stdout, st.wantStdout)
		}
		if !strings.Contains(r.stderr, st.wantStderr) {
			t.Errorf("%s: stderr: got %q, want it to contain %q", st.name, r.stderr, st.wantStderr)
		}
		assertNoCredSecret(t, r)
	}
	if got, want := e.get("old pass", "openai"), credSecretA; got != want {
		t.Errorf("stored value: got %q, want %q (the trailing newline from stdin must be dropped)", got, want)
	}

	r := e.run("", "list")
	if strings.Contains(r.stdout, "github") || !strings.Contains(r.stdout, "openai") {
		t.Errorf("list after rm: got %q, want openai only", r.stdout)
	}

	t.Setenv(broker.EnvPassphrase, "not it")
	r = e.run("", "list")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "does not open with this machine, user and passphrase") || !strings.Contains(r.stderr, broker.EnvPassphrase) {
		t.Errorf("wrong passphrase: got code %d, stderr %q; want 1 and a wrong-key message naming $%s", r.code, r.stderr, broker.EnvPassphrase)
	}

	t.Setenv(broker.EnvPassphrase, "old pass")
	t.Setenv(EnvNewPassphrase, "new pass")
	r = e.run("", "rotate")
	if r.code != ExitOK || !strings.Contains(r.stdout, "1 credentials re-encrypted with the new passphrase") {
		t.Fatalf("rotate: got code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run("", "list"); r.code != ExitFailed {
		t.Errorf("list with the old passphrase after rotate: got code %d, want %d", r.code, ExitFailed)
	}
	if got, want := e.get("new pass", "openai"), credSecretA; got != want {
		t.Errorf("value after rotate: got %q, want %q", got, want)
	}
}

func TestCredTerminalPrompts(t *testing.T) {
	e := newCredEnv(t)
	unsetenv(t, broker.EnvPassphrase)
	unsetenv(t, EnvNewPassphrase)

	// First set: choose a passphrase (twice), then type the value.
	asked := fakeTerminal(t, "tty pass", "tty pass", credSecretA)
	r := e.run("", "set", "openai")
	if r.code != ExitOK {
		t.Fatalf("set on a terminal: code %d, stderr %q", r.code, r.stderr)
	}
	if got, want := len(*asked), 3; got != want {
		t.Fatalf("prompts: got %q, want %d", *asked, want)
	}
	assertNoCredSecret(t, r)
	if got, want := e.get("tty pass", "openai"), credSecretA; got != want {
		t.Errorf("value: got %q, want %q", got, want)
	}

	// The header says a passphrase is set, so list asks for it.
	asked = fakeTerminal(t, "tty pass")
	if r := e.run("", "list"); r.code != ExitOK || !strings.Contains(r.stdout, "openai") {
		t.Fatalf("list on a terminal: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if len(*asked) != 1 || !strings.Contains((*asked)[0], "Passphrase for") {
		t.Errorf("prompts: got %q, want one passphrase prompt", *asked)
	}

	// Rotate to no passphrase: mismatched repeat first, which changes nothing.
	fakeTerminal(t, "tty pass", "a", "b")
	if r := e.run("", "rotate"); r.code != ExitFailed || !strings.Contains(r.stderr, "differ") {
		t.Errorf("rotate with differing passphrases: code %d, stderr %q", r.code, r.stderr)
	}
	fakeTerminal(t, "tty pass", "", "")
	if r := e.run("", "rotate"); r.code != ExitOK || !strings.Contains(r.stdout, "without a passphrase") {
		t.Fatalf("rotate to none: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// Now the header says no passphrase: list must not prompt at all.
	asked = fakeTerminal(t)
	if r := e.run("", "list"); r.code != ExitOK {
		t.Errorf("list without passphrase: code %d, stderr %q", r.code, r.stderr)
	}
	if len(*asked) != 0 {
		t.Errorf("prompts: got %q, want none", *asked)
	}
}

func TestCredNeedsPassphraseWithoutTerminal(t *testing.T) {
	e := newCredEnv(t)
	t.Setenv(broker.EnvPassphrase, "secret pass")
	if r := e.run(credSecretA, "set", "openai"); r.code != ExitOK {
		t.Fatalf("set: code %d, stderr %q", r.code, r.stderr)
	}
	unsetenv(t, broker.EnvPassphrase)
	r := e.run("", "list")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "sealed with a passphrase") || !strings.Contains(r.stderr, broker.EnvPassphrase) {
		t.Errorf("list with no passphrase source: code %d, stderr %q", r.code, r.stderr)
	}
	t.Setenv(broker.EnvPassphrase, "secret pass")
	unsetenv(t, EnvNewPassphrase)
	if r := e.run("", "rotate"); r.code != ExitUsage || !strings.Contains(r.stderr, EnvNewPassphrase) {
		t.Errorf("rotate with no new passphrase source: code %d, stderr %q", r.code, r.stderr)
	}
}
