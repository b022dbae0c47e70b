package credstore

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive LockFileEx lock on path, creating it, and
// returns the function that releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	h := windows.Handle(f.Fd())
	ol := new(windows.Overlapped)
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = windows.UnlockFileEx(h, 0, 1, 0, ol)
		_ = f.Close()
	}, nil
}

// replaceFile renames tmp over path with MoveFileEx (os.Rename). A reader
// in another process that has path open without FILE_SHARE_DELETE, as Go's
// os.Open does, makes the rename fail for the microseconds it reads, so
// sharing errors are retried for up to a second.
func replaceFile(tmp, path string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := os.Rename(tmp, path)
		if err == nil || time.Now().After(deadline) ||
			!(errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncDir is a no-op: Windows cannot open a directory for FlushFileBuffers
// through os, and MoveFileEx with MOVEFILE_REPLACE_EXISTING (os.Rename) is
// the atomic step there.
func syncDir(string) error { return nil }

// checkFile accepts any mode: Windows access is governed by the ACL of the
// user profile directory the store lives in, not by mode bits.
func checkFile(string, fs.FileInfo) error { return nil }

// checkDir accepts any directory, for the reason given at checkFile.
func checkDir(string) error { return nil }
