package credstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary files to the parser and opener. Bad input must
// return an error and no document; input that opens must be exactly what
// the writer would produce, and must survive a write round trip.
func FuzzOpen(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed files in testdata (%v); run go test -run TestGoldenV1 -update", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"clawbroker-credstore","version":2}`))
	f.Add([]byte{})

	id := testIdentity()
	lim := testOptions().limits
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, k, err := unlock("fuzz.json", raw, id, lim)
		if err != nil {
			if d != nil || k != nil {
				t.Fatalf("unlock returned a document with error %v", err)
			}
			assertNoSecret(t, err)
			return
		}
		defer k.zero()
		again, err := k.finish(d.clone())
		if err != nil {
			t.Fatalf("re-encoding an opened store: %v", err)
		}
		if !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding an opened store changed it:\n got %q\nwant %q", again, raw)
		}
		for i := range d.Entries {
			pt, err := k.open("fuzz.json", &d.Entries[i])
			if err != nil {
				t.Fatalf("entry %q verified at unlock but does not open: %v", d.Entries[i].Provider, err)
			}
			clear(pt)
		}
		nonce, ct, err := k.seal("fuzz-added", []byte("value"))
		if err != nil {
			t.Fatal(err)
		}
		d2 := d.clone()
		if i, ok := d2.find("fuzz-added"); !ok {
			d2.Entries = append(d2.Entries[:i], append([]fileEntry{{Provider: "fuzz-added", KeyID: k.keyID, Nonce: nonce, Ciphertext: ct}}, d2.Entries[i:]...)...)
		}
		out, err := k.finish(d2)
		if err != nil {
			t.Fatal(err)
		}
		if _, k2, err := unlock("fuzz.json", out, id, lim); err != nil {
			t.Fatalf("store written after a fuzzed open does not reopen: %v", err)
		} else {
			k2.zero()
		}
	})
}
