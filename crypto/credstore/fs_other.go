//go:build !unix && !windows

package credstore

import (
	"errors"
	"io/fs"
	"os"
)

// lockFile fails: this OS has no advisory file lock, so writers could not
// be serialised safely.
func lockFile(string) (func(), error) { return nil, errors.ErrUnsupported }

func replaceFile(tmp, path string) error { return os.Rename(tmp, path) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func checkFile(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o077 != 0 {
		return &PermissionError{Path: path, Mode: fi.Mode(), Why: "readable or writable by group or others", Fix: "chmod 600 " + path}
	}
	return nil
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &PermissionError{Path: dir, Mode: fi.Mode(), Why: "a directory writable by group or others", Fix: "chmod go-w " + dir}
	}
	return nil
}
