package broker

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors front ends branch on (with errors.Is) to pick a status.
var (
	// ErrDenied is wrapped by *DenyError: policy said no.
	ErrDenied = errors.New("denied by policy")
	// ErrInvalid is wrapped by *InvalidError: the request itself is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: the tool, file or credential does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a file is over the configured size limit.
	ErrTooLarge = errors.New("too large")
	// ErrSandbox: the sandbox could not run the tool.
	ErrSandbox = errors.New("sandbox error")
	// ErrAudit: the audit log could not be written, so nothing was done.
	ErrAudit = errors.New("audit log unavailable")
)

// DenyError carries the decision that refused a request.
type DenyError struct {
	DecisionID string
	Reasons    []string
}

func (e *DenyError) Error() string {
	return "denied by policy: " + strings.Join(e.Reasons, "; ")
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DenyError) Unwrap() error { return ErrDenied }

// InvalidError names the request field that is wrong.
type InvalidError struct {
	Field string
	Msg   string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
