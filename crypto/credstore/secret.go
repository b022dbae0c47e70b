package credstore

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret holds a credential value. Every way of printing or serialising it
// (fmt with any verb, %#v, JSON, text, slog) yields "[REDACTED]"; only Bytes
// returns the value. The bytes live behind a pointer, so a Secret stored in an
// unexported field of some other struct prints as an address under %v, not
// as its contents. Copies of a Secret share the same bytes.
type Secret struct {
	buf *secretBuf
}

type secretBuf struct {
	b []byte
}

func newSecret(b []byte) Secret { return Secret{buf: &secretBuf{b: b}} }

// Bytes returns the credential value. The slice is shared with the Secret:
// it is overwritten by Zero, so copy it if it must outlive the Secret.
func (s Secret) Bytes() []byte {
	if s.buf == nil {
		return nil
	}
	return s.buf.b
}

// Zero overwrites the value with zeros and forgets it. Bytes returns nil
// afterwards, for this Secret and every copy of it.
func (s Secret) Zero() {
	if s.buf == nil {
		return
	}
	clear(s.buf.b)
	s.buf.b = nil
}

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]", so %#v does not print the value.
func (s Secret) GoString() string { return redacted }

// Format writes "[REDACTED]" for every verb and flag.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes log/slog print "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
