//go:build !linux && !darwin && !windows

package credstore

import (
	"errors"
	"fmt"
	"runtime"
)

// machineID is not implemented on this OS; LocalIdentity fails, while Open
// with an explicit Identity still works.
func machineID() ([]byte, error) {
	return nil, fmt.Errorf("reading a machine identifier on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
