package credstore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s, path := newTestStore(t)
	fillTestStore(t, s)

	for p, want := range testSecrets {
		sec, err := s.Get(p)
		if err != nil {
			t.Fatalf("Get(%q): %v", p, err)
		}
		if got := string(sec.Bytes()); got != want {
			t.Errorf("Get(%q): got %q, want %q", p, got, want)
		}
	}

	// A second Store unlocked from the file sees the same values.
	s2, err := openWith(path, testIdentity(), testOptions())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	list, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Provider)
	}
	if got, want := names, []string{"anthropic", "github", "openai"}; !slices.Equal(got, want) {
		t.Errorf("List: got %v, want %v", got, want)
	}
	for p, want := range testSecrets {
		sec, err := s2.Get(p)
		if err != nil {
			t.Fatalf("reopened Get(%q): %v", p, err)
		}
		if got := string(sec.Bytes()); got != want {
			t.Errorf("reopened Get(%q): got %q, want %q", p, got, want)
		}
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(0o600); got != want {
		t.Errorf("file mode: got %v, want %v", got, want)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := di.Mode().Perm(), fs.FileMode(0o700); got != want {
		t.Errorf("created directory mode: got %v, want %v", got, want)
	}
	raw, _ := os.ReadFile(path)
	for p, v := range testSecrets {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("the file contains the plaintext of %s", p)
		}
	}
}

func TestSetDeleteTimestamps(t *testing.T) {
	s, _ := newTestStore(t)
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.opts.now = func() time.Time { return clock }
	if err := s.Set("openai", []byte("one")); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	if err := s.Set("openai", []byte("two")); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("List: got %d entries, want 1", len(list))
	}
	if got, want := list[0].CreatedAt, clock.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("CreatedAt: got %v, want %v", got, want)
	}
	if got, want := list[0].UpdatedAt, clock; !got.Equal(want) {
		t.Errorf("UpdatedAt: got %v, want %v", got, want)
	}
	sec, err := s.Get("openai")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(sec.Bytes()), "two"; got != want {
		t.Errorf("Get after overwrite: got %q, want %q", got, want)
	}
	if err := s.Delete("openai"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get("openai"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if err := s.Delete("openai"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: got %v, want ErrNotFound", err)
	}
}

func TestWrongIdentity(t *testing.T) {
	_, path := newTestStore(t)
	tests := []struct {
		name string
		edit func(id *Identity)
	}{
		{"wrong passphrase", func(id *Identity) { id.Passphrase = []byte("Correct horse battery staple") }},
		{"no passphrase", func(id *Identity) { id.Passphrase = nil }},
		{"other machine", func(id *Identity) { id.MachineID = []byte("0000000000000000000000000000000") }},
		{"other uid", func(id *Identity) { id.UID = "1001" }},
		{"other username", func(id *Identity) { id.Username = "bob" }},
		{"fields shifted", func(id *Identity) { id.UID, id.Username = "1000a", "lice" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := testIdentity()
			tt.edit(&id)
			s, err := openWith(path, id, testOptions())
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("got %v, want ErrWrongKey", err)
			}
			if errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want it not to wrap ErrCorrupt", err)
			}
			if s != nil {
				t.Errorf("got a store along with the error")
			}
			assertNoSecret(t, err)
		})
	}
}

func TestInvalidInput(t *testing.T) {
	s, _ := newTestStore(t)
	tests := []struct {
		name     string
		provider string
		value    []byte
		want     error
	}{
		{"empty provider", "", []byte("v"), ErrInvalidProvider},
		{"uppercase", "OpenAI", []byte("v"), ErrInvalidProvider},
		{"leading dot", ".openai", []byte("v"), ErrInvalidProvider},
		{"slash", "a/b", []byte("v"), ErrInvalidProvider},
		{"space", "a b", []byte("v"), ErrInvalidProvider},
		{"65 characters", strings.Repeat("a", 65), []byte("v"), ErrInvalidProvider},
		{"empty value", "openai", nil, ErrInvalidValue},
		{"value too large", "openai", make([]byte, MaxValueSize+1), ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Set(tt.provider, tt.value); !errors.Is(err, tt.want) {
				t.Errorf("Set: got %v, want %v", err, tt.want)
			}
		})
	}
	for _, ok := range []string{"a", "0", "openai", "my-provider_2.prod", strings.Repeat("z", 64)} {
		if err := s.Set(ok, []byte("v")); err != nil {
			t.Errorf("Set(%q): got %v, want nil", ok, err)
		}
	}
	if _, err := s.Get("Bad Name"); !errors.Is(err, ErrInvalidProvider) {
		t.Errorf("Get(bad name): got %v, want ErrInvalidProvider", err)
	}
	if err := s.Delete("Bad Name"); !errors.Is(err, ErrInvalidProvider) {
		t.Errorf("Delete(bad name): got %v, want ErrInvalidProvider", err)
	}
	// A secret typed where a provider name belongs must not be echoed.
	if err := s.Set(testSecrets["openai"], []byte("v")); err == nil || strings.Contains(err.Error(), testSecrets["openai"]) {
		t.Errorf("Set(secret as provider): got %v, want an error that does not echo the name", err)
	}
}

func TestCreateExisting(t *testing.T) {
	_, path := newTestStore(t)
	if _, err := createWith(path, testIdentity(), testOptions()); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing store: got %v, want fs.ErrExist", err)
	}
	s, err := openOrCreateWith(path, testIdentity(), testOptions())
	if err != nil {
		t.Fatalf("OpenOrCreate on an existing store: %v", err)
	}
	s.Close()
	fresh := filepath.Join(t.TempDir(), "a", "b", "credentials.enc.json")
	s, err = openOrCreateWith(fresh, testIdentity(), testOptions())
	if err != nil {
		t.Fatalf("OpenOrCreate on a new path: %v", err)
	}
	s.Close()
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("OpenOrCreate did not create the file: %v", err)
	}
}

func TestCloseZeroesKeys(t *testing.T) {
	s, _ := newTestStore(t)
	fillTestStore(t, s)
	k := s.keys
	seal, mac := k.sealKey, k.macKey
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !allZero(seal) || !allZero(mac) {
		t.Error("Close left key material in memory")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	if _, err := s.Get("openai"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: got %v, want ErrClosed", err)
	}
	if err := s.Set("openai", []byte("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close: got %v, want ErrClosed", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close: got %v, want ErrClosed", err)
	}
	if err := s.Rotate(testIdentity()); !errors.Is(err, ErrClosed) {
		t.Errorf("Rotate after Close: got %v, want ErrClosed", err)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestRotate(t *testing.T) {
	s, path := newTestStore(t)
	fillTestStore(t, s)
	other, err := openWith(path, testIdentity(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	before, _ := s.Info()

	newID := testIdentity()
	newID.Passphrase = nil
	if err := s.Rotate(newID); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	after, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	if after.KeyID == before.KeyID {
		t.Errorf("key id: got %s after rotating, want a new one", after.KeyID)
	}
	if got, want := after.HasPassphrase, false; got != want {
		t.Errorf("HasPassphrase after rotating to none: got %v, want %v", got, want)
	}
	for p, want := range testSecrets {
		sec, err := s.Get(p)
		if err != nil {
			t.Fatalf("Get(%q) after Rotate: %v", p, err)
		}
		if got := string(sec.Bytes()); got != want {
			t.Errorf("Get(%q) after Rotate: got %q, want %q", p, got, want)
		}
	}
	if _, err := openWith(path, testIdentity(), testOptions()); !errors.Is(err, ErrWrongKey) {
		t.Errorf("open with the old identity: got %v, want ErrWrongKey", err)
	}
	s2, err := openWith(path, newID, testOptions())
	if err != nil {
		t.Fatalf("open with the new identity: %v", err)
	}
	s2.Close()
	if _, err := other.Get("openai"); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Get from a Store unlocked before the rotation: got %v, want ErrWrongKey", err)
	}
	if err := other.Set("new", []byte("v")); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Set from a Store unlocked before the rotation: got %v, want ErrWrongKey", err)
	}
}

// TestSeesOtherWriters checks that Get and List pick up writes made through
// another Store, as the broker must after `clawbroker cred set`.
func TestSeesOtherWriters(t *testing.T) {
	a, path := newTestStore(t)
	b, err := openWith(path, testIdentity(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i, v := range []string{"first", "second", "third"} {
		if err := a.Set("openai", []byte(v)); err != nil {
			t.Fatal(err)
		}
		sec, err := b.Get("openai")
		if err != nil {
			t.Fatalf("round %d: Get: %v", i, err)
		}
		if got := string(sec.Bytes()); got != v {
			t.Fatalf("round %d: got %q, want %q", i, got, v)
		}
	}
	if err := a.Delete("openai"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get("openai"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after another Store deleted: got %v, want ErrNotFound", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get("openai"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after the file was removed: got %v, want fs.ErrNotExist", err)
	}
}

func TestInspect(t *testing.T) {
	s, path := newTestStore(t)
	fillTestStore(t, s)
	info, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Version: 1, KDF: testKDF, HasPassphrase: true, KeyID: s.keys.keyID, Entries: 3}
	if info != want {
		t.Errorf("Inspect: got %+v, want %+v", info, want)
	}
}

func TestSymlinkedStore(t *testing.T) {
	s, path := newTestStore(t)
	link := filepath.Join(t.TempDir(), "link.json")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ls, err := openWith(link, testIdentity(), testOptions())
	if err != nil {
		t.Fatalf("open through a symlink: %v", err)
	}
	defer ls.Close()
	if err := ls.Set("openai", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Set replaced the symlink instead of the file it points to (%v)", err)
	}
}

func TestNoStaleTempFiles(t *testing.T) {
	s, path := newTestStore(t)
	stale := path + tempSuffix + "123"
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("openai", []byte("v")); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(path + tempSuffix + "*")
	if len(matches) != 0 {
		t.Errorf("temporary files left after a write: %v", matches)
	}
}

// TestErrorsNeverContainSecrets drives every failure a caller can meet with
// the test secrets in play and checks no error text carries one.
func TestErrorsNeverContainSecrets(t *testing.T) {
	s, path := newTestStore(t)
	fillTestStore(t, s)
	var errs []error
	collect := func(err error) {
		if err == nil {
			t.Error("expected an error, got nil")
		}
		errs = append(errs, err)
	}
	wrong := testIdentity()
	wrong.Passphrase = []byte(testSecrets["openai"]) // a secret used as a passphrase
	_, err := openWith(path, wrong, testOptions())
	collect(err)
	collect(s.Set(testSecrets["github"], []byte("v")))
	collect(s.Set("openai", []byte{}))
	collect(s.Set("openai", append([]byte(testSecrets["openai"]), make([]byte, MaxValueSize)...)))
	_, err = s.Get("missing")
	collect(err)
	collect(s.Delete("missing"))
	rewrite(t, path, false, func(d *fileDoc) { d.Entries[2].Ciphertext[0] ^= 1 })
	_, err = s.Get("openai")
	collect(err)
	_, err = openWith(path, testIdentity(), testOptions())
	collect(err)
	s.Close()
	_, err = s.Get("openai")
	collect(err)
	for _, err := range errs {
		assertNoSecret(t, err)
	}
}
