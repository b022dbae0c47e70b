//go:build !linux && !darwin && !windows

package credstore

import (
	"errors"
	"fmt"
	"runtime"
)

// machineID has no source of a machine identifier on this OS, so
// LocalIdentity fails with errors.ErrUnsupported; Open with an explicit
// Identity still works.
func machineID() ([]byte, error) {
	return nil, fmt.Errorf("reading a machine identifier on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
