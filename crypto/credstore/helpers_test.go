package credstore

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKDF is cheap enough to run thousands of times; the shipped
// parameters are exercised by BenchmarkUnlock and the Example.
var testKDF = KDFParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func testOptions() options {
	return options{params: testKDF, limits: kdfLimits{maxMemoryKiB: 1024, maxIterations: 2}, now: time.Now}
}

// fixedNow makes timestamps, and so the golden file, reproducible.
func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func testIdentity() Identity {
	return Identity{
		MachineID:  []byte("4c1f0f6a9d2b4e7c8a5b3d1e0f9a8b7c"),
		UID:        "1000",
		Username:   "alice",
		Passphrase: []byte("correct horse battery staple"),
	}
}

// testSecrets are the values the tests store; no error string may contain
// any of them.
var testSecrets = map[string]string{
	"openai":    "sk-test-OPENAI-0123456789abcdefghijklmnop",
	"anthropic": "sk-ant-test-ANTHROPIC-qrstuvwxyz987654321",
	"github":    "ghp_TESTGITHUBTOKENabcdefghijklmnopqrstuv",
}

func newTestStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "creds", "credentials.enc.json")
	s, err := createWith(path, testIdentity(), testOptions())
	if err != nil {
		t.Fatalf("createWith: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func fillTestStore(t testing.TB, s *Store) {
	t.Helper()
	for p, v := range testSecrets {
		if err := s.Set(p, []byte(v)); err != nil {
			t.Fatalf("Set(%q): %v", p, err)
		}
	}
}

// assertNoSecret fails if err's text contains any test secret or the
// passphrase.
func assertNoSecret(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for p, v := range testSecrets {
		if strings.Contains(msg, v) {
			t.Errorf("error %q contains the secret of %s", msg, p)
		}
	}
	if bytes.Contains([]byte(msg), testIdentity().Passphrase) {
		t.Errorf("error %q contains the passphrase", msg)
	}
}

func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
