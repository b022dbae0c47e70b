//go:build !linux

package broker

import (
	"errors"
	"os"
)

// verifyOpened checks that f is the same file as the path the policy
// judged (no kernel path record is used here, so this compares identity).
func verifyOpened(f *os.File, want string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	wi, err := os.Lstat(want)
	if err != nil {
		return err
	}
	if !os.SameFile(fi, wi) {
		return errors.New("opened a different file than the one judged")
	}
	return nil
}
