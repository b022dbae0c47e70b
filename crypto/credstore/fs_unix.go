//go:build unix

package credstore

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on path, creating it with mode 0600,
// and returns the function that releases it. flock locks belong to the open
// file description, so two Stores in one process exclude each other too.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		_ = f.Close()
	}, nil
}

// replaceFile renames tmp over path; rename(2) is atomic.
func replaceFile(tmp, path string) error { return os.Rename(tmp, path) }

// syncDir fsyncs a directory so a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkFile refuses a store file that others may read or write, or that
// belongs to another user, as ssh does for private keys.
func checkFile(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o077 != 0 {
		return &PermissionError{Path: path, Mode: fi.Mode(), Why: "readable or writable by group or others", Fix: "chmod 600 " + path}
	}
	return checkOwner(path, fi)
}

// checkDir refuses a directory that others may write to, since they could
// replace the store file.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &PermissionError{Path: dir, Mode: fi.Mode(), Why: "a directory writable by group or others", Fix: "chmod go-w " + dir}
	}
	return checkOwner(dir, fi)
}

func checkOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return &PermissionError{Path: path, Mode: fi.Mode(), Why: fmt.Sprintf("owned by uid %d, not by uid %d", st.Uid, uid), Fix: fmt.Sprintf("chown %d %s", uid, path)}
	}
	return nil
}
