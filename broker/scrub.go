package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
)

// Redacted replaces secret values in anything the broker hands back.
const Redacted = "[REDACTED]"

// minPartial is the shortest secret prefix scrubbed at a truncation point:
// shorter than this, a prefix says next to nothing about the secret.
const minPartial = 4

// encodings of a secret that tools commonly print.
func encodings(s []byte) [][]byte {
	out := [][]byte{s}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out = append(out, []byte(enc.EncodeToString(s)))
	}
	h := hex.EncodeToString(s)
	out = append(out, []byte(h), bytes.ToUpper([]byte(h)))
	return out
}

// redactSecrets replaces every occurrence of each secret, and of its
// base64 and hex encodings, with [REDACTED]. The output was collected
// whole, so a secret split across the tool's writes is caught too.
func redactSecrets(out []byte, secrets [][]byte) []byte {
	return redactOutput(out, secrets, false)
}

// redactOutput is redactSecrets; when the stream was cut at the output
// limit, a trailing prefix of a secret (or of one of its encodings) is
// scrubbed as well, so truncation cannot leak its first bytes.
func redactOutput(out []byte, secrets [][]byte, truncated bool) []byte {
	if len(secrets) == 0 || len(out) == 0 {
		return out
	}
	var forms [][]byte
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		forms = append(forms, encodings(s)...)
	}
	// Longest first, so an encoding that contains the raw secret is
	// replaced whole.
	for i := 1; i < len(forms); i++ {
		for j := i; j > 0 && len(forms[j]) > len(forms[j-1]); j-- {
			forms[j], forms[j-1] = forms[j-1], forms[j]
		}
	}
	for _, f := range forms {
		if bytes.Contains(out, f) {
			out = bytes.ReplaceAll(out, f, []byte(Redacted))
		}
	}
	if truncated {
		for _, f := range forms {
			for n := min(len(f)-1, len(out)); n >= minPartial; n-- {
				if bytes.HasSuffix(out, f[:n]) {
					out = append(out[:len(out)-n:len(out)-n], Redacted...)
					break
				}
			}
		}
	}
	return out
}
