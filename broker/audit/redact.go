package audit

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
)

// Redacted replaces every secret value that redaction removes.
const Redacted = "[REDACTED]"

// Redact returns a copy of the JSON document v with secrets replaced by
// Redacted. v is either a decoded JSON tree (map[string]any, []any, string,
// float64, json.Number, bool, nil) or any value encoding/json can marshal,
// which is then marshalled and decoded first. v itself is never modified.
// A value that cannot be marshalled is replaced by Redacted as a whole, so
// redaction fails closed.
//
// The rules, applied at every depth:
//   - A value under a key that names a secret (token, secret, password,
//     passwd, passphrase, auth, authorization, cookie, api key, private key,
//     signature, …; see secretName) is replaced, whatever its type, except
//     null and booleans. Keys that only describe a secret (token_file,
//     key_id, public_key, max_tokens, auth_url, …) are not secret names.
//   - Every value of an "env" or "environment" object is replaced, keeping
//     the variable names; in an env array "NAME=value" becomes
//     "NAME=[REDACTED]".
//   - "credential" and "credentials" hold provider names in clawbroker's
//     input ({"credential":{"provider":"openai"}}, tool.credentials maps
//     ENV_NAME to a provider), so objects and arrays under them are walked,
//     not replaced; a bare string under them is a secret and is replaced.
//   - "argv", "args" and "arguments" arrays go through RedactArgv.
//   - Every other string goes through RedactString.
func Redact(v any) any {
	tree, ok := asTree(v)
	if !ok {
		return Redacted
	}
	return redactValue(tree)
}

// asTree converts v to a decoded JSON tree.
func asTree(v any) (any, bool) {
	switch v.(type) {
	case nil, map[string]any, []any, string, float64, json.Number, bool:
		return v, true
	case json.RawMessage:
		return decodeTree(v.(json.RawMessage))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	return decodeTree(b)
}

func decodeTree(b []byte) (any, bool) {
	var tree any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, false
	}
	return tree, true
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return redactObject(t, false)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(e)
		}
		return out
	case string:
		return RedactString(t)
	case nil, bool, float64, json.Number:
		return v
	default:
		// A typed value inside a generic tree ([]string, a struct, …):
		// decode it to a tree too, so that no rule is skipped.
		tree, ok := asTree(v)
		if !ok {
			return Redacted
		}
		if _, still := tree.(map[string]any); !still {
			if _, arr := tree.([]any); !arr {
				return redactScalar(tree)
			}
		}
		return redactValue(tree)
	}
}

// redactScalar redacts a decoded scalar.
func redactScalar(v any) any {
	if s, ok := v.(string); ok {
		return RedactString(s)
	}
	return v
}

// redactObject redacts the members of an object. In a credentials object,
// ENV_NAME keys map to provider names and are not treated as secret names.
func redactObject(m map[string]any, credentials bool) map[string]any {
	out := make(map[string]any, len(m))
	for k, val := range m {
		key := RedactString(k)
		if key != k {
			key = Redacted
		}
		val, ok := asTree(val)
		if !ok {
			out[key] = Redacted
			continue
		}
		switch {
		case val == nil:
			out[key] = nil
		case isEnvKey(k):
			out[key] = redactEnv(val)
		case isCredentialsKey(k):
			out[key] = redactCredentials(val)
		case isArgvKey(k):
			out[key] = redactArgvValue(val)
		case credentials && isEnvName(k):
			out[key] = redactValue(val)
		case secretName(k):
			out[key] = replaceSecret(val)
		default:
			out[key] = redactValue(val)
		}
	}
	return out
}

func replaceSecret(v any) any {
	switch v.(type) {
	case nil, bool:
		return v
	}
	return Redacted
}

func redactEnv(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			key := RedactString(k)
			if key != k {
				key = Redacted
			}
			out[key] = replaceSecret(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				out[i] = replaceSecret(e)
				continue
			}
			if name, _, found := strings.Cut(s, "="); found {
				out[i] = name + "=" + Redacted
			} else {
				out[i] = RedactString(s)
			}
		}
		return out
	default:
		return redactValue(v)
	}
}

func redactCredentials(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return redactObject(t, true)
	case []any:
		return redactValue(t)
	default:
		return replaceSecret(v)
	}
}

func redactArgvValue(v any) any {
	arr, ok := v.([]any)
	if !ok {
		return redactValue(v)
	}
	strs := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return redactValue(v)
		}
		strs = append(strs, s)
	}
	red := RedactArgv(strs)
	out := make([]any, len(red))
	for i, s := range red {
		out[i] = s
	}
	return out
}

func isEnvKey(k string) bool {
	return strings.EqualFold(k, "env") || strings.EqualFold(k, "environment")
}

func isCredentialsKey(k string) bool {
	return strings.EqualFold(k, "credential") || strings.EqualFold(k, "credentials")
}

func isArgvKey(k string) bool {
	return k == "argv" || k == "args" || k == "arguments"
}

// isEnvName reports whether k looks like an environment variable name
// (GITHUB_TOKEN): upper-case letters, digits and underscores.
func isEnvName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// secretWords are words that make a key or flag name a secret's name.
var secretWords = map[string]bool{
	"token": true, "tokens": true, "secret": true, "secrets": true,
	"password": true, "passwords": true, "passwd": true, "pwd": true,
	"pass": true, "passphrase": true, "auth": true, "oauth": true,
	"authorization": true, "cookie": true, "cookies": true, "bearer": true,
	"apikey": true, "apikeys": true, "privatekey": true, "private": true,
	"signature": true, "jwt": true, "credential": true, "credentials": true,
	"dsn": true, "sessionid": true, "otp": true,
}

// keyWords are secret only when nothing in the name says the value merely
// describes the key (see describingWords).
var keyWords = map[string]bool{"key": true, "keys": true}

// describingWords mark a name whose value describes a secret without being
// one: where it is, what it is called, how it is used.
var describingWords = map[string]bool{
	"file": true, "files": true, "path": true, "dir": true, "stdin": true,
	"env": true, "id": true, "ids": true, "name": true, "names": true,
	"type": true, "ttl": true, "max": true, "min": true, "count": true,
	"limit": true, "num": true, "used": true, "len": true, "length": true,
	"size": true, "public": true, "fingerprint": true, "provider": true,
	"providers": true, "url": true, "uri": true, "helper": true,
	"expiry": true, "expires": true, "expiration": true, "method": true,
	"mode": true, "scheme": true, "source": true, "store": true,
	// Boolean flags: --no-auth, --ask-password, --skip-token-check.
	"no": true, "skip": true, "disable": true, "enable": true,
	"require": true, "required": true, "prompt": true, "ask": true,
}

// secretName reports whether a key, flag or variable name names a secret.
// The name is split into words at punctuation and camelCase boundaries:
// "X-Api-Key", "apiKey", "AWS_SECRET_ACCESS_KEY", "--auth-token" are
// secret names; "token_file", "key_id", "max_tokens" are not.
func secretName(name string) bool {
	var secret, key, describing bool
	forEachWord(name, func(w []byte) {
		// Map lookups with string(w) as the key do not allocate.
		switch {
		case secretWords[string(w)]:
			secret = true
		case keyWords[string(w)]:
			key = true
		case describingWords[string(w)]:
			describing = true
		}
	})
	return (secret || key) && !describing
}

// forEachWord calls fn with each lower-cased word of name. Words longer
// than 64 bytes are skipped: no secret word is that long.
func forEachWord(name string, fn func([]byte)) {
	start := -1
	var buf [64]byte
	emit := func(end int) {
		if start < 0 {
			return
		}
		w := name[start:end]
		start = -1
		if len(w) > len(buf) {
			return
		}
		b := buf[:len(w)]
		for i := 0; i < len(w); i++ {
			c := w[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		fn(b)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isLower(c) || isDigit(c):
			if start < 0 {
				start = i
			}
		case isUpper(c):
			// "apiKey" splits before K; "APIKey" splits before K too.
			if start >= 0 && (isLower(name[i-1]) || isDigit(name[i-1]) ||
				(isUpper(name[i-1]) && i+1 < len(name) && isLower(name[i+1]))) {
				emit(i)
			}
			if start < 0 {
				start = i
			}
		default:
			emit(i)
		}
	}
	emit(len(name))
}

// Character classes, looked up rather than computed: redaction scans every
// byte of every string that is logged.
const (
	classLower = 1 << iota
	classUpper
	classDigit
	classToken   // letters, digits, '-', '_', '.'
	classToken68 // RFC 7235 token68
	className    // key and flag names
	classAlnum   = classLower | classUpper | classDigit
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case b >= 'a' && b <= 'z':
			t[c] = classLower
		case b >= 'A' && b <= 'Z':
			t[c] = classUpper
		case b >= '0' && b <= '9':
			t[c] = classDigit
		}
		if t[c] != 0 {
			t[c] |= classToken | classToken68 | className
		}
		switch b {
		case '-', '_', '.':
			t[c] |= classToken | className
		}
		switch b {
		case '-', '.', '_', '~', '+', '/', '=':
			t[c] |= classToken68
		}
	}
	return t
}()

func isLower(c byte) bool { return charClass[c]&classLower != 0 }
func isUpper(c byte) bool { return charClass[c]&classUpper != 0 }
func isDigit(c byte) bool { return charClass[c]&classDigit != 0 }
func isAlnum(c byte) bool { return charClass[c]&classAlnum != 0 }

// RedactArgv returns a copy of argv with secrets replaced by Redacted:
// the value of a secret-named flag, whether joined (--token=abc,
// --password=abc) or the next element (--password abc), the password of
// -u/--user user:pass, the element after a lone "Bearer", and any secret
// RedactString finds inside an element. Short flags other than -u are left
// alone: -p means a password to mysql but a port to most tools.
func RedactArgv(argv []string) []string {
	if argv == nil {
		return nil
	}
	out := make([]string, len(argv))
	next := nextKeep
	for i, a := range argv {
		switch next {
		case nextSecret:
			next = nextKeep
			if !looksLikeFlag(a) {
				out[i] = Redacted
				continue
			}
		case nextUserPass:
			next = nextKeep
			if user, _, ok := strings.Cut(a, ":"); ok && !looksLikeFlag(a) {
				out[i] = user + ":" + Redacted
				continue
			}
		}
		out[i] = RedactString(a)
		switch {
		case a == "-u" || a == "--user":
			next = nextUserPass
		case strings.HasPrefix(a, "--user=") && strings.Contains(a, ":"):
			user, _, _ := strings.Cut(a, ":")
			out[i] = user + ":" + Redacted
		case strings.EqualFold(a, "bearer") || strings.EqualFold(a, "basic"):
			next = nextSecret
		case strings.HasPrefix(a, "--") && !strings.Contains(a, "=") && secretName(a):
			next = nextSecret
		case strings.HasPrefix(a, "-") && len(a) > 2 && !strings.Contains(a, "=") && secretName(a):
			// Single-dash long flags (-password, Go's flag package style).
			next = nextSecret
		}
	}
	return out
}

const (
	nextKeep = iota
	nextSecret
	nextUserPass
)

// looksLikeFlag reports whether a is an option rather than a value.
func looksLikeFlag(a string) bool {
	return len(a) > 1 && a[0] == '-' && (isAlnum(a[1]) || a[1] == '-') && !isDigit(a[1])
}

// RedactString returns s with embedded secrets replaced by Redacted:
//   - PEM private key blocks (-----BEGIN … PRIVATE KEY----- to -----END …-----);
//   - the password in URL user info (https://user:[REDACTED]@host);
//   - "Bearer <token>" and "Basic <base64 user:pass>" credentials;
//   - name=value and name: value pairs whose name is a secret name
//     (--token=x, GITHUB_TOKEN=x, ?access_token=x, "X-Api-Key: x");
//   - tokens with a known secret prefix: sk-, sk-ant-, sk_live_, ghp_,
//     gho_, ghs_, ghu_, ghr_, github_pat_, xoxb-, xoxp-, glpat-, npm_,
//     hf_, AIza…, AKIA/ASIA followed by 16 characters, JSON web tokens;
//   - long high-entropy tokens: at least 32 characters of letters, digits,
//     '-' and '_', containing upper case, lower case and digits, with a
//     Shannon entropy of at least 4 bits per character. Paths, words,
//     identifiers, UUIDs and hex digests do not qualify.
//
// Strings with nothing to redact are returned as is, without allocating.
func RedactString(s string) string {
	if len(s) < 4 {
		return s
	}
	s = redactPEM(s)
	s = redactURLUserinfo(s)
	s = redactAuthSchemes(s)
	s = redactAssignments(s)
	s = redactTokens(s)
	return s
}

// redactPEM replaces private key blocks.
func redactPEM(s string) string {
	const begin = "-----BEGIN "
	if !strings.Contains(s, begin) {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, begin)
		if i < 0 {
			break
		}
		hdrEnd := strings.Index(rest[i+len(begin):], "-----")
		if hdrEnd < 0 {
			break
		}
		label := rest[i+len(begin) : i+len(begin)+hdrEnd]
		after := i + len(begin) + hdrEnd + len("-----")
		if !strings.HasSuffix(label, "PRIVATE KEY") || !isPEMLabel(label) {
			b.WriteString(rest[:after])
			rest = rest[after:]
			continue
		}
		b.WriteString(rest[:i])
		b.WriteString(Redacted)
		end := "-----END " + label + "-----"
		j := strings.Index(rest[after:], end)
		if j < 0 {
			// A cut-short key: everything after BEGIN is secret.
			rest = ""
			break
		}
		rest = rest[after+j+len(end):]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// isPEMLabel reports whether label is made of the characters RFC 7468
// labels use in practice: upper-case letters, digits and spaces.
func isPEMLabel(label string) bool {
	for i := 0; i < len(label); i++ {
		if c := label[i]; !isUpper(c) && !isDigit(c) && c != ' ' {
			return false
		}
	}
	return true
}

// redactURLUserinfo replaces the password of scheme://user:pass@host.
func redactURLUserinfo(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	pos := 0 // s[:pos] is written or decided
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			break
		}
		authStart := from + i + 3
		authEnd := authStart
		for authEnd < len(s) && !strings.ContainsRune("/?#@ \t\r\n\"'<>", rune(s[authEnd])) {
			authEnd++
		}
		from = authStart
		if authEnd >= len(s) || s[authEnd] != '@' {
			continue
		}
		colon := strings.IndexByte(s[authStart:authEnd], ':')
		if colon < 0 || authStart+colon+1 == authEnd {
			continue
		}
		b.WriteString(s[pos : authStart+colon+1])
		b.WriteString(Redacted)
		pos = authEnd
		from = authEnd
	}
	if pos == 0 {
		return s
	}
	b.WriteString(s[pos:])
	return b.String()
}

// redactAuthSchemes replaces the credentials after "Bearer" and "Basic".
func redactAuthSchemes(s string) string {
	if !hasAuthScheme(s) {
		return s
	}
	var b strings.Builder
	pos := 0
	for i := 0; i+6 < len(s); i++ {
		var scheme int
		switch {
		case hasPrefixFold(s[i:], "bearer"):
			scheme = 6
		case hasPrefixFold(s[i:], "basic"):
			scheme = 5
		default:
			continue
		}
		if i > 0 && isAlnum(s[i-1]) {
			continue
		}
		j := i + scheme
		if j >= len(s) || (s[j] != ' ' && s[j] != '\t') {
			continue
		}
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		k := j
		for k < len(s) && isToken68(s[k]) {
			k++
		}
		cred := s[j:k]
		if k == j {
			continue
		}
		if scheme == 6 && len(cred) < 8 {
			continue
		}
		if scheme == 5 && !isBasicCredential(cred) {
			continue
		}
		b.WriteString(s[pos:j])
		b.WriteString(Redacted)
		pos = k
		i = k - 1
	}
	if pos == 0 {
		return s
	}
	b.WriteString(s[pos:])
	return b.String()
}

// isToken68 reports whether c may appear in an RFC 7235 token68.
func isToken68(c byte) bool { return charClass[c]&classToken68 != 0 }

// isBasicCredential reports whether cred is base64 of "user:pass", so that
// "basic usage" is left alone.
func isBasicCredential(cred string) bool {
	dec, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		dec, err = base64.RawStdEncoding.DecodeString(cred)
	}
	return err == nil && strings.IndexByte(string(dec), ':') >= 0
}

// redactAssignments replaces the value of name=value and name: value where
// name is a secret name. The name may be quoted, as in a JSON or YAML
// fragment inside a string.
func redactAssignments(s string) string {
	if strings.IndexByte(s, '=') < 0 && strings.IndexByte(s, ':') < 0 {
		return s
	}
	var b strings.Builder
	pos := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '=' && s[i] != ':' {
			continue
		}
		// Name: the run of name characters before the separator,
		// optionally inside quotes.
		end := i
		quote := byte(0)
		if end > 0 && (s[end-1] == '"' || s[end-1] == '\'') {
			quote = s[end-1]
			end--
		}
		start := end
		for start > 0 && isNameChar(s[start-1]) {
			start--
		}
		if start == end {
			continue
		}
		if quote != 0 && (start == 0 || s[start-1] != quote) {
			continue
		}
		if s[i] == ':' && i+2 < len(s) && s[i+1] == '/' && s[i+2] == '/' {
			continue // a URL scheme
		}
		if !secretName(s[start:end]) {
			continue
		}
		// Value: after optional spaces and an optional quote, up to the
		// closing quote or a delimiter.
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		// "Authorization: Bearer x": keep the scheme, as redactAuthSchemes
		// does, and redact what follows unless it already did.
		for _, scheme := range [...]string{"bearer", "basic"} {
			if hasPrefixFold(s[j:], scheme) && j+len(scheme) < len(s) && s[j+len(scheme)] == ' ' {
				j += len(scheme)
				for j < len(s) && s[j] == ' ' {
					j++
				}
				break
			}
		}
		if strings.HasPrefix(s[j:], Redacted) {
			continue
		}
		var vq byte
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			vq = s[j]
			j++
		}
		k := j
		for k < len(s) {
			c := s[k]
			if vq != 0 {
				if c == '\\' && k+1 < len(s) {
					k += 2
					continue
				}
				if c == vq {
					break
				}
			} else if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '&' ||
				c == ';' || c == ',' || c == '"' || c == '\'' || c == '}' || c == ']' {
				break
			}
			k++
		}
		if k > len(s) {
			k = len(s)
		}
		val := s[j:k]
		if val == "" || val == "null" || val == "true" || val == "false" {
			continue
		}
		b.WriteString(s[pos:j])
		b.WriteString(Redacted)
		pos = k
		i = k - 1
	}
	if pos == 0 {
		return s
	}
	b.WriteString(s[pos:])
	return b.String()
}

func isNameChar(c byte) bool { return charClass[c]&className != 0 }

// secretPrefixes are prefixes of well-known credential formats, with the
// number of token characters that must follow.
var secretPrefixes = []struct {
	prefix string
	min    int
}{
	{"sk-ant-", 20}, {"sk-", 20}, {"sk_live_", 16}, {"sk_test_", 16},
	{"rk_live_", 16}, {"rk_test_", 16},
	{"ghp_", 20}, {"gho_", 20}, {"ghs_", 20}, {"ghu_", 20}, {"ghr_", 20},
	{"github_pat_", 20},
	{"xoxb-", 10}, {"xoxp-", 10}, {"xoxa-", 10}, {"xoxr-", 10}, {"xoxs-", 10}, {"xoxe-", 10},
	{"glpat-", 20}, {"npm_", 30}, {"hf_", 30}, {"AIza", 30},
}

// redactTokens replaces tokens with a known prefix, JSON web tokens and
// long high-entropy tokens. A token is a run of letters, digits, '-', '_'
// and '.'.
func redactTokens(s string) string {
	var b strings.Builder
	pos := 0
	for i := 0; i < len(s); {
		if !isTokenChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		next := j
		for j > i && s[j-1] == '.' {
			j-- // a sentence's full stop
		}
		if j-i >= 16 && secretToken(s[i:j]) {
			b.WriteString(s[pos:i])
			b.WriteString(Redacted)
			pos = j
		}
		i = next
	}
	if pos == 0 {
		return s
	}
	b.WriteString(s[pos:])
	return b.String()
}

func isTokenChar(c byte) bool { return charClass[c]&classToken != 0 }

// secretToken reports whether tok (a maximal run of token characters) is a
// credential.
func secretToken(tok string) bool {
	for _, p := range secretPrefixes {
		if !strings.HasPrefix(tok, p.prefix) || len(tok)-len(p.prefix) < p.min {
			continue
		}
		// "sk-" is also an ordinary word prefix (sk-learn-extension-name);
		// real keys are random, so they carry a digit or an upper-case letter.
		if p.prefix == "sk-" && !strings.ContainsFunc(tok[3:], func(r rune) bool {
			return (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z')
		}) {
			continue
		}
		return true
	}
	if len(tok) == 20 && (strings.HasPrefix(tok, "AKIA") || strings.HasPrefix(tok, "ASIA")) {
		upperAlnum := true
		for i := 4; i < 20; i++ {
			if !isUpper(tok[i]) && !isDigit(tok[i]) {
				upperAlnum = false
				break
			}
		}
		if upperAlnum {
			return true
		}
	}
	if strings.HasPrefix(tok, "eyJ") && strings.Count(tok, ".") == 2 {
		return true // header.payload.signature of a JWT
	}
	for piece := range strings.SplitSeq(tok, ".") {
		if highEntropy(piece) {
			return true
		}
	}
	return false
}

// highEntropy is the conservative random-token heuristic: 32+ characters,
// upper case, lower case and digits all present, and at least 4 bits of
// Shannon entropy per character. Hex digests and UUIDs lack upper case;
// words, identifiers and paths lack digits or entropy.
func highEntropy(s string) bool {
	if len(s) < 32 {
		return false
	}
	var upper, lower, digit bool
	var counts [256]int
	for i := 0; i < len(s); i++ {
		c := s[i]
		counts[c]++
		switch {
		case isUpper(c):
			upper = true
		case isLower(c):
			lower = true
		case isDigit(c):
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return false
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 4.0
}

// hasAuthScheme reports whether s contains "bearer" or "basic" in any case.
func hasAuthScheme(s string) bool {
	for i := 0; i+5 <= len(s); i++ {
		if s[i]|0x20 == 'b' && (hasPrefixFold(s[i:], "bearer") || hasPrefixFold(s[i:], "basic")) {
			return true
		}
	}
	return false
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
