package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on these with errors.Is.
var (
	// ErrClosed is returned by every method of a Logger after Close.
	ErrClosed = errors.New("audit: logger is closed")

	// ErrBroken is wrapped by the error of every write after a line was
	// only partly written. The log then ends with a cut-short line, so the
	// chain cannot continue in this process: the broker must stop and the
	// operator must run `clawbroker audit verify` on the file.
	ErrBroken = errors.New("audit: log ends with a partly written line")

	// ErrDisabled is returned when zerolog's global level is Disabled, which
	// would otherwise drop audit events without a word.
	ErrDisabled = errors.New("audit: zerolog global level is Disabled; refusing to drop audit events")

	// ErrChainBroken is wrapped by every *ChainError.
	ErrChainBroken = errors.New("audit: hash chain is broken")

	// ErrUncleanLog is wrapped by the *TailError that Open returns when an
	// existing log file does not end with a complete, well-formed event.
	ErrUncleanLog = errors.New("audit: log file does not end cleanly")

	// ErrInvalidHead is returned by Verify when VerifyOptions.Head is not a
	// 64-character hex SHA-256.
	ErrInvalidHead = errors.New("audit: head must be 64 hex characters")
)

// ChainErrorKind says how a hash chain was found broken.
type ChainErrorKind int

// The ways a chain can break. A line that was edited without recomputing its
// hash is ChainEdited; one whose hash was recomputed shows up on the next
// line, whose prev_hash no longer matches, and is also reported as
// ChainEdited there.
const (
	// ChainEdited: a line's hash does not match its content, or its
	// prev_hash does not match the hash of the line before although seq is
	// contiguous, or a field the chain needs is missing or has the wrong
	// type.
	ChainEdited ChainErrorKind = iota + 1
	// ChainRemoved: seq jumps forward, so lines are missing before this one
	// (on line 1: the log does not start at seq 1).
	ChainRemoved
	// ChainReordered: seq goes backwards or repeats.
	ChainReordered
	// ChainTruncated: the line is not valid JSON, or the file ends without a
	// newline: a write was cut short.
	ChainTruncated
	// ChainHeadMismatch: VerifyOptions.Head is not the hash of any line, so
	// lines recorded earlier were dropped from the end (or the chain was
	// rewritten).
	ChainHeadMismatch
)

// String returns the kind's lower-case name, as the CLI prints it.
func (k ChainErrorKind) String() string {
	switch k {
	case ChainEdited:
		return "edited"
	case ChainRemoved:
		return "removed"
	case ChainReordered:
		return "reordered"
	case ChainTruncated:
		return "truncated"
	case ChainHeadMismatch:
		return "head mismatch"
	default:
		return fmt.Sprintf("ChainErrorKind(%d)", int(k))
	}
}

// ChainError names the first line at which Verify found the chain broken.
// It wraps ErrChainBroken.
type ChainError struct {
	// Line is the 1-based line number in the verified input. For
	// ChainHeadMismatch it is one past the last line: the first missing one.
	Line   int
	Kind   ChainErrorKind
	Detail string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at line %d (%s): %s", e.Line, e.Kind, e.Detail)
}

// Unwrap returns ErrChainBroken.
func (e *ChainError) Unwrap() error { return ErrChainBroken }

// TailError is returned by Open when an existing log file does not end with
// a complete, well-formed event, so its chain cannot be continued safely.
// It wraps ErrUncleanLog.
type TailError struct {
	Path string
	// Line is the 1-based number of the offending last line.
	Line int
	// Incomplete is true when the file does not end with a newline.
	Incomplete bool
	// Detail says what is wrong with a complete but malformed last line.
	Detail string
}

func (e *TailError) Error() string {
	if e.Incomplete {
		return fmt.Sprintf("audit log %s ends with an incomplete line %d: run `clawbroker audit verify %s` and move it aside",
			e.Path, e.Line, e.Path)
	}
	return fmt.Sprintf("audit log %s ends with a malformed line %d (%s): run `clawbroker audit verify %s` and move it aside",
		e.Path, e.Line, e.Detail, e.Path)
}

// Unwrap returns ErrUncleanLog.
func (e *TailError) Unwrap() error { return ErrUncleanLog }
