package credstore

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// smallStore returns the bytes of a store holding one short entry, so the
// exhaustive tests below stay fast.
func smallStore(t *testing.T) (string, []byte) {
	t.Helper()
	s, path := newTestStore(t)
	if err := s.Set("openai", []byte(testSecrets["openai"])); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return path, raw
}

// openBytes writes raw to path and opens it through the public code path.
func openBytes(t *testing.T, path string, raw []byte) (*Store, error) {
	t.Helper()
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return openWith(path, testIdentity(), testOptions())
}

func TestEveryByteFlipFails(t *testing.T) {
	// unlock is what Open runs on the bytes it read; calling it directly
	// keeps 9 masks times every byte fast. Truncations go through files.
	path, raw := smallStore(t)
	for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff} {
		for i := range raw {
			mut := append([]byte(nil), raw...)
			mut[i] ^= mask
			d, k, err := unlock(path, mut, testIdentity(), testOptions().limits)
			if err == nil {
				k.zero()
				t.Fatalf("byte %d (%q) ^ %#x: got a store, want an error", i, raw[i], mask)
			}
			if d != nil || k != nil {
				t.Fatalf("byte %d ^ %#x: got a document along with error %v", i, mask, err)
			}
			if !isOneOf(err, ErrCorrupt, ErrWrongKey, ErrUnsupportedVersion) {
				t.Fatalf("byte %d ^ %#x: got %v, want ErrCorrupt, ErrWrongKey or ErrUnsupportedVersion", i, mask, err)
			}
			assertNoSecret(t, err)
		}
	}
}

func TestEveryTruncationFails(t *testing.T) {
	path, raw := smallStore(t)
	for n := range len(raw) {
		s, err := openBytes(t, path, raw[:n])
		if err == nil || s != nil {
			t.Fatalf("truncated to %d of %d bytes: got store %v, error %v; want only an error", n, len(raw), s != nil, err)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: got %v, want ErrCorrupt", n, err)
		}
		assertNoSecret(t, err)
	}
}

// rewrite decodes the store at path, lets edit change it, and writes it
// back, re-MACed with the right key when remac is set (to show that the
// entry tags alone catch the edit).
func rewrite(t *testing.T, path string, remac bool, edit func(d *fileDoc)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, k, err := unlock(path, raw, testIdentity(), testOptions().limits)
	if err != nil {
		t.Fatal(err)
	}
	defer k.zero()
	edit(d)
	var out []byte
	if remac {
		out, err = k.finish(d)
	} else {
		out, err = encode(d)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedEntries(t *testing.T) {
	swap := func(d *fileDoc) {
		a, b := &d.Entries[0], &d.Entries[1]
		a.Nonce, b.Nonce = b.Nonce, a.Nonce
		a.Ciphertext, b.Ciphertext = b.Ciphertext, a.Ciphertext
	}
	tests := []struct {
		name      string
		remac     bool
		edit      func(d *fileDoc)
		wantEntry string // "" for a header-level CorruptError
	}{
		{"ciphertext swapped between providers, MAC fixed", true, swap, "anthropic"},
		{"ciphertext swapped between providers", false, swap, "anthropic"},
		{"provider renamed, MAC fixed", true, func(d *fileDoc) { d.Entries[2].Provider = "openai2" }, "openai2"},
		{"ciphertext flipped", false, func(d *fileDoc) { d.Entries[1].Ciphertext[0] ^= 1 }, "github"},
		{"tag truncated, MAC fixed", true, func(d *fileDoc) { d.Entries[1].Ciphertext = d.Entries[1].Ciphertext[:20] }, "github"},
		{"nonce changed, MAC fixed", true, func(d *fileDoc) { d.Entries[0].Nonce[11] ^= 0x80 }, "anthropic"},
		{"entry removed", false, func(d *fileDoc) { d.Entries = d.Entries[1:] }, ""},
		{"timestamp changed", false, func(d *fileDoc) { d.Entries[0].CreatedAt = d.Entries[0].CreatedAt.Add(1) }, ""},
		{"has_passphrase cleared", false, func(d *fileDoc) { d.HasPassphrase = false }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newTestStore(t)
			fillTestStore(t, s)
			s.Close()
			rewrite(t, path, tt.remac, tt.edit)
			s2, err := openWith(path, testIdentity(), testOptions())
			if err == nil {
				s2.Close()
				t.Fatal("got a store, want ErrCorrupt")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *CorruptError", err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want it to wrap ErrCorrupt", err)
			}
			if got, want := ce.Entry, tt.wantEntry; got != want {
				t.Errorf("CorruptError.Entry: got %q, want %q (%v)", got, want, err)
			}
			assertNoSecret(t, err)
		})
	}
}

// TestTamperSeenByOpenStore checks that a Store already unlocked notices a
// damaged file on its next Get instead of serving stale or partial data.
func TestTamperSeenByOpenStore(t *testing.T) {
	s, path := newTestStore(t)
	fillTestStore(t, s)
	rewrite(t, path, false, func(d *fileDoc) { d.Entries[0].Ciphertext[3] ^= 4 })
	sec, err := s.Get("openai")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get after tampering: got %v, want ErrCorrupt", err)
	}
	if sec.Bytes() != nil {
		t.Fatalf("Get after tampering returned %d bytes of plaintext", len(sec.Bytes()))
	}
	assertNoSecret(t, err)
}

func TestDecodeRejects(t *testing.T) {
	_, raw := smallStore(t)
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(m map[string]any)
		want error
	}{
		{"newer version", func(m map[string]any) { m["version"] = 2 }, ErrUnsupportedVersion},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }, ErrCorrupt},
		{"other format", func(m map[string]any) { m["format"] = "x" }, ErrCorrupt},
		{"huge memory", func(m map[string]any) { m["kdf"].(map[string]any)["memory_kib"] = 1 << 31 }, ErrCorrupt},
		{"zero parallelism", func(m map[string]any) { m["kdf"].(map[string]any)["parallelism"] = 0 }, ErrCorrupt},
		{"other kdf", func(m map[string]any) { m["kdf"].(map[string]any)["name"] = "scrypt" }, ErrCorrupt},
		{"null entries", func(m map[string]any) { m["entries"] = nil }, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			tt.edit(m)
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			_, err = decode("x.json", append(b, '\n'), testOptions().limits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMissingStore(t *testing.T) {
	path := t.TempDir() + "/nope/credentials.enc.json"
	for name, open := range map[string]func() (*Store, error){
		"Open":    func() (*Store, error) { return Open(path, testIdentity()) },
		"Inspect": func() (*Store, error) { _, err := Inspect(path); return nil, err },
	} {
		_, err := open()
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: got %v, want fs.ErrNotExist", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "clawbroker cred set") {
			t.Errorf("%s: got %q, want a hint naming clawbroker cred set", name, msg)
		}
	}
}
