package credstore

import (
	"bytes"
	"errors"
	"regexp"
)

var errNoMachineID = errors.New("no machine identifier found")

// trimMachineID strips the whitespace around an identifier read from a file
// or a command and rejects an empty one.
func trimMachineID(b []byte, source string) ([]byte, error) {
	id := bytes.TrimSpace(b)
	if len(id) == 0 {
		return nil, &machineIDError{source: source, err: errNoMachineID}
	}
	return id, nil
}

type machineIDError struct {
	source string
	err    error
}

func (e *machineIDError) Error() string { return e.source + ": " + e.err.Error() }
func (e *machineIDError) Unwrap() error { return e.err }

var ioregUUID = regexp.MustCompile(`"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]+)"`)

// parseIOPlatformUUID finds the IOPlatformUUID in the output of
// `ioreg -rd1 -c IOPlatformExpertDevice`. It lives in an untagged file so it
// is tested on every OS.
func parseIOPlatformUUID(out []byte) ([]byte, error) {
	m := ioregUUID.FindSubmatch(out)
	if m == nil {
		return nil, &machineIDError{source: "ioreg IOPlatformUUID", err: errNoMachineID}
	}
	return m[1], nil
}
