package credstore

import (
	"bytes"
	"errors"
	"testing"
)

func TestKDFInputUnambiguous(t *testing.T) {
	ids := []Identity{
		{MachineID: []byte("m"), UID: "1", Username: "ab", Passphrase: []byte("c")},
		{MachineID: []byte("m"), UID: "1", Username: "a", Passphrase: []byte("bc")},
		{MachineID: []byte("m"), UID: "1a", Username: "b", Passphrase: []byte("c")},
		{MachineID: []byte("m1"), UID: "", Username: "ab", Passphrase: []byte("c")},
		{MachineID: []byte("m"), UID: "1", Username: "abc"},
	}
	seen := map[string]int{}
	for i, id := range ids {
		in, err := id.kdfInput()
		if err != nil {
			t.Fatal(err)
		}
		if j, dup := seen[string(in)]; dup {
			t.Errorf("identities %d and %d encode the same", j, i)
		}
		seen[string(in)] = i
	}
	if _, err := (Identity{}).kdfInput(); !errors.Is(err, errEmptyIdentity) {
		t.Errorf("empty identity: got %v, want errEmptyIdentity", err)
	}
}

func TestParseIOPlatformUUID(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    string
		wantErr bool
	}{
		{"ioreg output", `+-o Mac14,2  <class IOPlatformExpertDevice, id 0x100000254, registered, matched, active, busy 0 (15 ms), retain 37>
    {
      "IOPlatformSerialNumber" = "C02ABCDEFGHJ"
      "IOPlatformUUID" = "8C1B5D2E-3F4A-5B6C-7D8E-9F0A1B2C3D4E"
      "model" = <"Mac14,2">
    }`, "8C1B5D2E-3F4A-5B6C-7D8E-9F0A1B2C3D4E", false},
		{"no uuid", `"IOPlatformSerialNumber" = "C02"`, "", true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIOPlatformUUID([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTrimMachineID(t *testing.T) {
	got, err := trimMachineID([]byte("abc123\n"), "f")
	if err != nil || !bytes.Equal(got, []byte("abc123")) {
		t.Errorf("got %q, %v; want %q", got, err, "abc123")
	}
	if _, err := trimMachineID([]byte(" \n"), "f"); !errors.Is(err, errNoMachineID) {
		t.Errorf("blank id: got %v, want errNoMachineID", err)
	}
}
