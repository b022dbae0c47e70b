package credstore

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors. Callers branch on them with errors.Is; the messages never
// contain a credential value.
var (
	// ErrWrongKey means the key derived from the identity (machine, user and
	// passphrase) is not the key the store was sealed with.
	ErrWrongKey = errors.New("the credential store does not open with this machine, user and passphrase")

	// ErrCorrupt means the store file or one of its entries was modified,
	// truncated or is not a file this package wrote. Errors wrapping it are
	// usually a *CorruptError naming the entry.
	ErrCorrupt = errors.New("credential store is corrupt or was tampered with")

	// ErrNotFound means the store has no entry for the provider.
	ErrNotFound = errors.New("no credential stored for this provider")

	// ErrInsecurePermissions means the store file or its directory can be
	// read or changed by users other than its owner. Errors wrapping it are
	// a *PermissionError that says how to fix the mode.
	ErrInsecurePermissions = errors.New("credential store has insecure permissions")

	// ErrInvalidProvider means a provider name does not match
	// [a-z0-9][a-z0-9._-]{0,63}.
	ErrInvalidProvider = errors.New("invalid provider name: want 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")

	// ErrInvalidValue means a credential value is empty or larger than
	// MaxValueSize.
	ErrInvalidValue = errors.New("invalid credential value")

	// ErrUnsupportedVersion means the file was written by a newer (or
	// unknown) format version.
	ErrUnsupportedVersion = errors.New("unsupported credential store format version")

	// ErrClosed means the Store was used after Close.
	ErrClosed = errors.New("credential store is closed")
)

// CorruptError reports where a store file failed to parse or authenticate.
// It wraps ErrCorrupt. Entry is the provider whose entry is damaged, or ""
// when the damage is in the header, the entry list or the file syntax.
type CorruptError struct {
	Path   string // the store file
	Entry  string // the damaged provider entry, or "" for the file as a whole
	Reason string // what check failed; never contains secret material
}

func (e *CorruptError) Error() string {
	where := "header"
	if e.Entry != "" {
		where = fmt.Sprintf("entry %q", e.Entry)
	}
	return fmt.Sprintf("credential store %s: %s: %s: %v", e.Path, where, e.Reason, ErrCorrupt)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// PermissionError reports a store file or directory whose mode or owner lets
// other users read or replace it. It wraps ErrInsecurePermissions.
type PermissionError struct {
	Path string      // the offending file or directory
	Mode fs.FileMode // its mode
	Fix  string      // a shell command that fixes it, e.g. "chmod 600 /path"
	Why  string      // what is wrong, e.g. "readable by group or others"
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%v: %s (mode %04o) is %s; fix with: %s", ErrInsecurePermissions, e.Path, uint32(e.Mode.Perm()), e.Why, e.Fix)
}

// Unwrap returns ErrInsecurePermissions.
func (e *PermissionError) Unwrap() error { return ErrInsecurePermissions }

// notExistError wraps fs.ErrNotExist with a hint on how to create a store.
type notExistError struct{ path string }

func (e *notExistError) Error() string {
	return fmt.Sprintf("credential store %s does not exist; create it by storing a first credential with: clawbroker cred set PROVIDER", e.path)
}

func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

func corrupt(path, entry, reason string) error {
	return &CorruptError{Path: path, Entry: entry, Reason: reason}
}
