//go:build !unix && !windows

package audit

import "os"

// lockFile is a no-op where the OS offers no file lock; one process per
// log file is then the operator's job.
func lockFile(*os.File) (func(), error) { return func() {}, nil }
