package credstore

import (
	"fmt"
	"os"
	"path/filepath"
)

const tempSuffix = ".tmp-"

// writeFileAtomic replaces path with data so that a crash at any point
// leaves either the old file or the new one: write a temporary file in the
// same directory with mode 0600, fsync it, rename it over path, fsync the
// directory so the rename itself is durable.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, base+tempSuffix+"*")
	if err != nil {
		return fmt.Errorf("credstore: creating a temporary file next to %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("credstore: writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("credstore: syncing %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("credstore: closing %s: %w", tmp, err)
	}
	if err = replaceFile(tmp, path); err != nil {
		return fmt.Errorf("credstore: replacing %s: %w", path, err)
	}
	if err = syncDir(dir); err != nil {
		return fmt.Errorf("credstore: syncing directory %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps deletes temporary files a crashed writer left behind.
// The caller holds the file lock, so no live writer owns one of them.
func removeStaleTemps(path string) {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(filepath.Base(path))+tempSuffix+"*"))
	if err != nil {
		return
	}
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// globEscape quotes the metacharacters of filepath.Match in a file name.
func globEscape(name string) string {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '*', '?', '[', ']':
			out = append(out, '[', c, ']')
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
