package credstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os/user"
)

// Identity is what the store key is derived from: this machine, this user
// and an optional passphrase. Without a passphrase the store protects
// against a copy of the file leaving the machine or the account; with one it
// also protects against other programs running as the same user.
//
// Open, Create and Rotate read the slices but never keep or modify them;
// the caller may zero Passphrase as soon as they return.
type Identity struct {
	MachineID  []byte // e.g. /etc/machine-id, IOPlatformUUID or MachineGuid
	UID        string // numeric uid on unix, the SID on Windows
	Username   string
	Passphrase []byte // may be empty
}

// LocalIdentity returns the identity of this machine and the current user
// with the given passphrase (nil for none). It fails when the machine
// identifier cannot be read (see the per-OS machineID) or the current user
// cannot be looked up.
func LocalIdentity(passphrase []byte) (Identity, error) {
	mid, err := machineID()
	if err != nil {
		return Identity{}, fmt.Errorf("credstore: reading the machine identifier: %w", err)
	}
	u, err := user.Current()
	if err != nil {
		return Identity{}, fmt.Errorf("credstore: looking up the current user: %w", err)
	}
	return Identity{MachineID: mid, UID: u.Uid, Username: u.Username, Passphrase: passphrase}, nil
}

var errEmptyIdentity = errors.New("credstore: identity has no machine identifier and no user")

// kdfInput encodes the identity for Argon2id. Every field is length-prefixed
// so that no two different identities encode the same way (user "ab" with
// passphrase "c" differs from user "a" with passphrase "bc"). The caller
// zeroes the result.
func (id Identity) kdfInput() ([]byte, error) {
	if len(id.MachineID) == 0 && id.UID == "" && id.Username == "" {
		return nil, errEmptyIdentity
	}
	const domain = "clawbroker credstore identity v1"
	n := len(domain) + 4*4 + len(id.MachineID) + len(id.UID) + len(id.Username) + len(id.Passphrase)
	b := make([]byte, 0, n)
	b = append(b, domain...)
	for _, field := range [][]byte{id.MachineID, []byte(id.UID), []byte(id.Username), id.Passphrase} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
		b = append(b, field...)
	}
	return b, nil
}
