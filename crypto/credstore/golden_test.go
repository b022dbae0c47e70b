package credstore

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata store files")

// goldenFiles are format-version-1 stores sealed with testIdentity and
// testKDF. They pin the format: a later version of this package must still
// open them. They also seed FuzzOpen.
var goldenFiles = []struct {
	name    string
	secrets map[string]string
}{
	{"store-v1.json", testSecrets},
	{"store-v1-empty.json", nil},
	{"store-v1-one.json", map[string]string{"x": "v"}},
}

func TestGoldenV1(t *testing.T) {
	for _, g := range goldenFiles {
		t.Run(g.name, func(t *testing.T) {
			golden := filepath.Join("testdata", g.name)
			if *update {
				writeGolden(t, golden, g.secrets)
			}
			path := filepath.Join(t.TempDir(), g.name)
			copyFile(t, golden, path)
			s, err := openWith(path, testIdentity(), testOptions())
			if err != nil {
				t.Fatalf("openWith(%s): %v", g.name, err)
			}
			defer s.Close()
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(list), len(g.secrets); got != want {
				t.Fatalf("got %d entries, want %d", got, want)
			}
			for _, e := range list {
				sec, err := s.Get(e.Provider)
				if err != nil {
					t.Fatalf("Get(%q): %v", e.Provider, err)
				}
				if got, want := string(sec.Bytes()), g.secrets[e.Provider]; got != want {
					t.Errorf("Get(%q): got %q, want %q", e.Provider, got, want)
				}
				if got, want := e.CreatedAt, fixedNow(); !got.Equal(want) {
					t.Errorf("%s created_at: got %v, want %v", e.Provider, got, want)
				}
			}
			info, err := Inspect(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info.HasPassphrase, true; got != want {
				t.Errorf("HasPassphrase: got %v, want %v", got, want)
			}
		})
	}
}

func writeGolden(t *testing.T, golden string, secrets map[string]string) {
	t.Helper()
	dir := t.TempDir()
	o := testOptions()
	o.now = fixedNow
	s, err := createWith(filepath.Join(dir, "s.json"), testIdentity(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for p, v := range secrets {
		if err := s.Set(p, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(golden, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies a testdata file with mode 0600, since git does not keep
// it and Open refuses anything more open.
func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
