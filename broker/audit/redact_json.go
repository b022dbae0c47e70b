package audit

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
	"unsafe"
)

// errBadJSON is returned by redactJSON for input that is not one valid
// JSON value.
var errBadJSON = errors.New("audit: not valid JSON")

// redactJSON appends to dst the JSON document in with the rules of Redact
// applied, in one pass over the bytes and without building a tree: this is
// what keeps a decision event in the low microseconds. Member order is
// kept.
func redactJSON(dst, in []byte) ([]byte, error) {
	r := jsonRedactor{in: in, out: dst}
	if err := r.value(modeNormal); err != nil {
		return dst, err
	}
	r.space()
	if r.pos != len(r.in) {
		return dst, errBadJSON
	}
	return r.out, nil
}

// How a value is redacted, decided by the key it sits under.
const (
	modeNormal      = iota
	modeSecret      // replaced whole, unless null or a boolean
	modeEnv         // every member value replaced; "NAME=value" elements redacted
	modeCredentials // provider names: walked; a bare scalar is a secret
	modeCredMap     // the members of a credentials object
	modeArgv        // an array of strings goes through RedactArgv
)

type jsonRedactor struct {
	in    []byte
	pos   int
	out   []byte
	depth int
}

// maxDepth bounds nesting, as encoding/json does when decoding.
const maxDepth = 10000

func (r *jsonRedactor) space() {
	for r.pos < len(r.in) {
		switch r.in[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonRedactor) peek() byte {
	r.space()
	if r.pos >= len(r.in) {
		return 0
	}
	return r.in[r.pos]
}

func (r *jsonRedactor) value(mode int) error {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxDepth {
		return errBadJSON
	}
	c := r.peek()
	switch c {
	case 'n', 't', 'f':
		return r.literal()
	}
	switch mode {
	case modeSecret:
		if err := r.skip(); err != nil {
			return err
		}
		r.out = appendJSONString(r.out, Redacted)
		return nil
	case modeCredentials:
		if c != '{' && c != '[' {
			return r.value(modeSecret)
		}
		if c == '{' {
			return r.object(modeCredMap)
		}
	case modeEnv:
		switch c {
		case '{':
			return r.object(modeEnv)
		case '[':
			return r.envArray()
		}
	case modeArgv:
		if c == '[' {
			if ok, err := r.argv(); ok || err != nil {
				return err
			}
		}
	}
	switch c {
	case '{':
		return r.object(modeNormal)
	case '[':
		r.pos++
		r.out = append(r.out, '[')
		if r.peek() == ']' {
			r.pos++
			r.out = append(r.out, ']')
			return nil
		}
		for {
			if err := r.value(modeNormal); err != nil {
				return err
			}
			switch r.peek() {
			case ',':
				r.pos++
				r.out = append(r.out, ',')
			case ']':
				r.pos++
				r.out = append(r.out, ']')
				return nil
			default:
				return errBadJSON
			}
		}
	case '"':
		raw, s, err := r.str()
		if err != nil {
			return err
		}
		if red := RedactString(s); red != s || raw == nil {
			r.out = appendJSONString(r.out, red)
		} else {
			r.out = append(r.out, raw...)
		}
		return nil
	default:
		return r.number()
	}
}

// object copies an object, choosing each member's mode from its key. In
// modeEnv every non-null member value is replaced; in modeCredMap
// ENV_NAME keys map to provider names and are not secret names.
func (r *jsonRedactor) object(mode int) error {
	r.pos++ // {
	r.out = append(r.out, '{')
	if r.peek() == '}' {
		r.pos++
		r.out = append(r.out, '}')
		return nil
	}
	for {
		if r.peek() != '"' {
			return errBadJSON
		}
		raw, k, err := r.str()
		if err != nil {
			return err
		}
		if red := RedactString(k); red != k {
			r.out = appendJSONString(r.out, Redacted)
		} else if raw == nil {
			r.out = appendJSONString(r.out, k)
		} else {
			r.out = append(r.out, raw...)
		}
		if r.peek() != ':' {
			return errBadJSON
		}
		r.pos++
		r.out = append(r.out, ':')
		var m int
		switch {
		case mode == modeEnv:
			m = modeSecret
		case isEnvKey(k):
			m = modeEnv
		case isCredentialsKey(k):
			m = modeCredentials
		case isArgvKey(k):
			m = modeArgv
		case mode == modeCredMap && isEnvName(k):
			m = modeNormal
		case secretName(k):
			m = modeSecret
		default:
			m = modeNormal
		}
		if err := r.value(m); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
			r.out = append(r.out, ',')
		case '}':
			r.pos++
			r.out = append(r.out, '}')
			return nil
		default:
			return errBadJSON
		}
	}
}

// envArray redacts ["NAME=value", …].
func (r *jsonRedactor) envArray() error {
	r.pos++
	r.out = append(r.out, '[')
	if r.peek() == ']' {
		r.pos++
		r.out = append(r.out, ']')
		return nil
	}
	for {
		if r.peek() == '"' {
			_, s, err := r.str()
			if err != nil {
				return err
			}
			if name, _, found := cutByte(s, '='); found {
				r.out = appendJSONString(r.out, name+"="+Redacted)
			} else {
				r.out = appendJSONString(r.out, RedactString(s))
			}
		} else if err := r.value(modeSecret); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
			r.out = append(r.out, ',')
		case ']':
			r.pos++
			r.out = append(r.out, ']')
			return nil
		default:
			return errBadJSON
		}
	}
}

// argv redacts an array of strings with RedactArgv. It returns false, with
// nothing consumed, when the array holds anything but strings.
func (r *jsonRedactor) argv() (bool, error) {
	start := r.pos
	r.pos++
	var args []string
	if r.peek() == ']' {
		r.pos++
		r.out = append(r.out, "[]"...)
		return true, nil
	}
	for {
		if r.peek() != '"' {
			r.pos = start
			return false, nil
		}
		_, s, err := r.str()
		if err != nil {
			return false, err
		}
		args = append(args, s)
		c := r.peek()
		r.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			return false, errBadJSON
		}
	}
	r.out = append(r.out, '[')
	for i, a := range RedactArgv(args) {
		if i > 0 {
			r.out = append(r.out, ',')
		}
		r.out = appendJSONString(r.out, a)
	}
	r.out = append(r.out, ']')
	return true, nil
}

func (r *jsonRedactor) literal() error {
	for _, lit := range [...]string{"null", "true", "false"} {
		if len(r.in)-r.pos >= len(lit) && string(r.in[r.pos:r.pos+len(lit)]) == lit {
			r.out = append(r.out, lit...)
			r.pos += len(lit)
			return nil
		}
	}
	return errBadJSON
}

func (r *jsonRedactor) number() error {
	start := r.pos
	for r.pos < len(r.in) {
		c := r.in[r.pos]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		r.pos++
	}
	if r.pos == start || !json.Valid(r.in[start:r.pos]) {
		return errBadJSON
	}
	r.out = append(r.out, r.in[start:r.pos]...)
	return nil
}

// str reads a string and returns its raw bytes (with quotes) and value.
// raw is nil when the string must be re-encoded rather than copied.
func (r *jsonRedactor) str() ([]byte, string, error) {
	start := r.pos
	r.pos++ // "
	escaped := false
	for r.pos < len(r.in) {
		c := r.in[r.pos]
		switch {
		case c == '"':
			r.pos++
			raw := r.in[start:r.pos]
			valid := utf8.Valid(raw)
			if !escaped && valid {
				return raw, bytesView(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, "", errBadJSON
			}
			if !valid {
				raw = nil // re-encode: invalid UTF-8 becomes U+FFFD
			}
			return raw, s, nil
		case c == '\\':
			escaped = true
			r.pos += 2
		case c < 0x20:
			return nil, "", errBadJSON
		default:
			r.pos++
		}
	}
	return nil, "", errBadJSON
}

// skip consumes one value without copying it.
func (r *jsonRedactor) skip() error {
	out := r.out
	err := r.value(modeNormal)
	r.out = out
	return err
}

// bytesView returns b as a string without copying. The redactor never
// modifies its input while it runs and keeps no such string after it
// returns (values that go into the output are copied there), so the view
// is safe; it saves an allocation for every string of every decision.
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func cutByte(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
