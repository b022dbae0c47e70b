//go:build !linux && !darwin && !windows

package sandbox

import (
	"fmt"
	"runtime"
)

// New returns an error wrapping ErrUnsupported: this OS has no sandbox
// launcher.
func New(opts Options) (Launcher, error) {
	return nil, fmt.Errorf("%w: no sandbox launcher for %s: run the broker on Linux, macOS or Windows", ErrUnsupported, runtime.GOOS)
}
