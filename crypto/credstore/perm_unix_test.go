//go:build unix

package credstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInsecurePermissions(t *testing.T) {
	tests := []struct {
		name     string
		fileMode fs.FileMode
		dirMode  fs.FileMode
		wantFix  string // "file" or "dir": which path the fix names
	}{
		{"group-readable file", 0o640, 0o700, "file"},
		{"world-readable file", 0o604, 0o700, "file"},
		{"group-writable file", 0o620, 0o700, "file"},
		{"group-writable dir", 0o600, 0o770, "dir"},
		{"world-writable dir", 0o600, 0o703, "dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newTestStore(t)
			fillTestStore(t, s)
			dir := filepath.Dir(path)
			if err := os.Chmod(path, tt.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			_, err := openWith(path, testIdentity(), testOptions())
			if !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("got %v, want ErrInsecurePermissions", err)
			}
			var pe *PermissionError
			if !errors.As(err, &pe) {
				t.Fatalf("got %T, want *PermissionError", err)
			}
			want := "chmod 600 " + path
			if tt.wantFix == "dir" {
				want = "chmod go-w " + dir
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got %q, want it to contain %q", err, want)
			}
			// An open Store refuses to read the file once it is exposed.
			if tt.wantFix == "file" {
				if err := s.Set("late", []byte("v")); !errors.Is(err, ErrInsecurePermissions) {
					t.Errorf("Set on an exposed file: got %v, want ErrInsecurePermissions", err)
				}
			}
		})
	}
}

func TestGroupReadableFileRefusedByInspect(t *testing.T) {
	_, path := newTestStore(t)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(path); !errors.Is(err, ErrInsecurePermissions) {
		t.Fatalf("got %v, want ErrInsecurePermissions", err)
	}
}

func TestPermissionErrorHasNoSecret(t *testing.T) {
	s, path := newTestStore(t)
	fillTestStore(t, s)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get("openai")
	if !errors.Is(err, ErrInsecurePermissions) {
		t.Fatalf("got %v, want ErrInsecurePermissions", err)
	}
	assertNoSecret(t, err)
}
