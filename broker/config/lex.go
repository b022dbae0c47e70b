package config

import (
	"fmt"
	"strconv"
)

// scanJSON5 walks the source once, before the json5 library decodes it, to
// do what that library does not: report duplicate keys (it keeps the last
// silently), reject the JSON5 syntax it does not support with a line number
// instead of a confusing offset, and remember the line of every key path so
// later type and validation errors can name it.
//
// The supported subset is JSON plus // comments, unquoted keys and trailing
// commas.
//
// It also returns the source with every comment blanked out (line breaks
// kept): the json5 library mis-parses a comment between a trailing comma
// and the closing brace.
func scanJSON5(src []byte) (lines map[string]int, stripped []byte, err error) {
	s := &scanner{src: src, line: 1, lines: map[string]int{}}
	if err := s.value(""); err != nil {
		return nil, nil, err
	}
	s.skipSpace()
	if s.err != nil {
		return nil, nil, s.err
	}
	if s.pos < len(s.src) {
		return nil, nil, s.errorf("unexpected %q after the top-level object", s.src[s.pos])
	}
	out := append([]byte(nil), src...)
	for _, c := range s.comments {
		for i := c[0]; i < c[1]; i++ {
			out[i] = ' '
		}
	}
	return s.lines, out, nil
}

type scanner struct {
	src      []byte
	pos      int
	line     int
	lines    map[string]int
	comments [][2]int // byte ranges of // comments
	err      error
}

// lineError is a syntax problem at a line of the config file.
type lineError struct {
	Line int
	Msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func (s *scanner) errorf(format string, args ...any) error {
	return &lineError{Line: s.line, Msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case c == '\n':
			s.line++
			s.pos++
		case c == ' ' || c == '\t' || c == '\r':
			s.pos++
		case c == '/' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '/':
			start := s.pos
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
			s.comments = append(s.comments, [2]int{start, s.pos})
		case c == '/' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '*':
			if s.err == nil {
				s.err = s.errorf("/* block comments */ are not supported: use // line comments")
			}
			s.pos = len(s.src)
		default:
			return
		}
	}
}

func (s *scanner) peek() (byte, bool) {
	s.skipSpace()
	if s.err != nil || s.pos >= len(s.src) {
		return 0, false
	}
	return s.src[s.pos], true
}

func (s *scanner) value(path string) error {
	c, ok := s.peek()
	if !ok {
		if s.err != nil {
			return s.err
		}
		return s.errorf("unexpected end of file")
	}
	switch {
	case c == '{':
		return s.object(path)
	case c == '[':
		return s.array(path)
	case c == '"':
		_, err := s.str()
		return err
	case c == '\'':
		return s.errorf("single-quoted strings are not supported: use double quotes")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == '+' || c == '.':
		return s.errorf("numbers must start with a digit or '-'")
	case isIdentStart(c):
		word := s.ident()
		switch word {
		case "true", "false", "null":
			return nil
		case "Infinity", "NaN":
			return s.errorf("%s is not supported", word)
		}
		return s.errorf("unexpected word %q: strings must be double-quoted", word)
	}
	return s.errorf("unexpected %q", c)
}

func (s *scanner) object(path string) error {
	s.pos++ // {
	seen := map[string]bool{}
	for {
		c, ok := s.peek()
		if !ok {
			return s.orEOF("unclosed object")
		}
		if c == '}' {
			s.pos++
			return nil
		}
		var key string
		switch {
		case c == '"':
			k, err := s.str()
			if err != nil {
				return err
			}
			key = k
		case isIdentStart(c):
			key = s.ident()
		case c == '\'':
			return s.errorf("single-quoted keys are not supported: use double quotes or a bare name")
		default:
			return s.errorf("expected a key, found %q", c)
		}
		full := joinPath(path, key)
		if seen[key] {
			return s.errorf("duplicate key %q", full)
		}
		seen[key] = true
		s.lines[full] = s.line
		if c, ok := s.peek(); !ok || c != ':' {
			return s.orEOF(fmt.Sprintf("expected ':' after key %q", full))
		}
		s.pos++
		if err := s.value(full); err != nil {
			return err
		}
		c, ok = s.peek()
		if !ok {
			return s.orEOF("unclosed object")
		}
		switch c {
		case ',':
			s.pos++
		case '}':
		default:
			return s.errorf("expected ',' or '}' after the value of %q", full)
		}
	}
}

func (s *scanner) array(path string) error {
	s.pos++ // [
	for i := 0; ; i++ {
		c, ok := s.peek()
		if !ok {
			return s.orEOF("unclosed array")
		}
		if c == ']' {
			s.pos++
			return nil
		}
		elem := path + "[" + strconv.Itoa(i) + "]"
		s.lines[elem] = s.line
		if err := s.value(elem); err != nil {
			return err
		}
		c, ok = s.peek()
		if !ok {
			return s.orEOF("unclosed array")
		}
		switch c {
		case ',':
			s.pos++
		case ']':
		default:
			return s.errorf("expected ',' or ']' in %q", path)
		}
	}
}

func (s *scanner) orEOF(msg string) error {
	if s.err != nil {
		return s.err
	}
	return s.errorf("%s", msg)
}

func (s *scanner) str() (string, error) {
	start := s.line
	s.pos++ // opening quote
	var out []byte
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch c {
		case '"':
			s.pos++
			return string(out), nil
		case '\n':
			return "", &lineError{Line: start, Msg: "unterminated string"}
		case '\\':
			if s.pos+1 >= len(s.src) {
				return "", &lineError{Line: start, Msg: "unterminated string"}
			}
			out = append(out, c, s.src[s.pos+1])
			s.pos += 2
			continue
		}
		out = append(out, c)
		s.pos++
	}
	return "", &lineError{Line: start, Msg: "unterminated string"}
}

func (s *scanner) number() error {
	start := s.pos
	if s.src[s.pos] == '-' {
		s.pos++
	}
	if s.pos+1 < len(s.src) && s.src[s.pos] == '0' && (s.src[s.pos+1] == 'x' || s.src[s.pos+1] == 'X') {
		return s.errorf("hexadecimal numbers are not supported: write the number in decimal")
	}
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			s.pos++
			continue
		}
		break
	}
	if _, err := strconv.ParseFloat(string(s.src[start:s.pos]), 64); err != nil {
		return s.errorf("malformed number %q", s.src[start:s.pos])
	}
	return nil
}

func (s *scanner) ident() string {
	start := s.pos
	for s.pos < len(s.src) && (isIdentStart(s.src[s.pos]) || (s.src[s.pos] >= '0' && s.src[s.pos] <= '9')) {
		s.pos++
	}
	return string(s.src[start:s.pos])
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
