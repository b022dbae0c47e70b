package credstore

import (
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// machineID returns the MachineGuid that Windows setup writes under
// HKLM\SOFTWARE\Microsoft\Cryptography. The 64-bit view is read even from a
// 32-bit binary so both see the same value.
func machineID() ([]byte, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return nil, fmt.Errorf(`opening HKLM\SOFTWARE\Microsoft\Cryptography: %w`, err)
	}
	defer k.Close()
	guid, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return nil, fmt.Errorf("reading MachineGuid: %w", err)
	}
	return trimMachineID([]byte(guid), "MachineGuid")
}
