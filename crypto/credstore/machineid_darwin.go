package credstore

import (
	"fmt"
	"os/exec"
)

// machineID returns the IOPlatformUUID of this Mac.
func machineID() ([]byte, error) {
	out, err := exec.Command("/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return nil, fmt.Errorf("running ioreg: %w", err)
	}
	return parseIOPlatformUUID(out)
}
