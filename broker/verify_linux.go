package broker

import (
	"fmt"
	"os"
	"strconv"
)

// verifyOpened checks, through the kernel's own record of the open file,
// that f is the path the policy judged. A symlink swapped into the path
// after the decision shows up here as a different path.
func verifyOpened(f *os.File, want string) error {
	got, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return fmt.Errorf("cannot confirm the opened file: %w", err)
	}
	if got != want {
		return fmt.Errorf("opened a different file than the one judged")
	}
	return nil
}
