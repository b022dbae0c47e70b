package credstore

import (
	"errors"
	"io/fs"
	"os"
)

// machineIDFiles are read in order; the dbus copy exists on older systems
// that lack the systemd one.
var machineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// machineID returns the systemd machine id.
func machineID() ([]byte, error) {
	var errs []error
	for _, p := range machineIDFiles {
		b, err := os.ReadFile(p)
		if err == nil {
			return trimMachineID(b, p)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, &machineIDError{source: "machine-id", err: errors.Join(append([]error{errNoMachineID}, errs...)...)}
}
