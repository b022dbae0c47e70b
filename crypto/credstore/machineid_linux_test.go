package credstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestMachineIDLinux(t *testing.T) {
	dir := t.TempDir()
	primary, fallback := filepath.Join(dir, "etc-machine-id"), filepath.Join(dir, "dbus-machine-id")
	saved := machineIDFiles
	machineIDFiles = []string{primary, fallback}
	defer func() { machineIDFiles = saved }()

	if _, err := machineID(); !errors.Is(err, errNoMachineID) {
		t.Errorf("no files: got %v, want errNoMachineID", err)
	}
	if err := os.WriteFile(fallback, []byte("dbus0123\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if got, err := machineID(); err != nil || string(got) != "dbus0123" {
		t.Errorf("fallback only: got %q, %v; want %q", got, err, "dbus0123")
	}
	if err := os.WriteFile(primary, []byte("systemd0123\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if got, err := machineID(); err != nil || string(got) != "systemd0123" {
		t.Errorf("both: got %q, %v; want %q", got, err, "systemd0123")
	}
}

// TestLocalIdentity needs /etc/machine-id, which every systemd or dbus
// Linux has; in a bare container create it with systemd-machine-id-setup
// or dbus-uuidgen --ensure=/etc/machine-id.
func TestLocalIdentity(t *testing.T) {
	id, err := LocalIdentity([]byte("pw"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNoMachineID) {
		t.Fatalf("LocalIdentity: %v (create /etc/machine-id with dbus-uuidgen --ensure=/etc/machine-id)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(id.MachineID) == 0 || id.UID == "" || id.Username == "" || string(id.Passphrase) != "pw" {
		t.Errorf("got %+v, want every field set", id)
	}
}
