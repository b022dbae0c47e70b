package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// The hash chain.
//
// Every line is a JSON object whose last field is "hash":
//
//	{"event":"…","timestamp":"…","seq":N,"prev_hash":"<64 hex>", …,"hash":"<64 hex>"}\n
//
// and
//
//	hash = hex(SHA-256(prev_hash_hex || body))
//
// where prev_hash_hex is the 64 ASCII hex characters of the previous line's
// hash (64 zeros on the first line) and body is the exact bytes of the line
// without its newline and without its trailing `,"hash":"<64 hex>"` member,
// that is the line up to that member followed by the closing `}`. Hashing
// bytes, not a re-encoding, lets any verifier recompute the hash without
// agreeing on a JSON canonical form.

// GenesisHash is the prev_hash of the first line of a chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

const (
	hashHexLen   = 2 * sha256.Size
	hashKeyOpen  = `,"hash":"`
	hashKeyClose = `"}`
	// hashSuffixLen is the length of `,"hash":"<64 hex>"}`.
	hashSuffixLen = len(hashKeyOpen) + hashHexLen + len(hashKeyClose)
	// MaxLineBytes bounds one audit line, for Open's tail read and Verify.
	// Inputs are bounded by the gateway's body limit (1 MiB by default), so
	// a real line stays well below this.
	MaxLineBytes = 16 << 20
)

// chainHash returns hex(SHA-256(prevHex || body)) into dst, which must be
// hashHexLen bytes long.
func chainHash(dst, prevHex, body []byte) {
	h := sha256.New()
	h.Write(prevHex)
	h.Write(body)
	var sum [sha256.Size]byte
	hex.Encode(dst, h.Sum(sum[:0]))
}

// record is what the chain needs from one line.
type record struct {
	seq  uint64
	prev string
	hash string
}

// lineProblem describes why a line is not a valid chain link.
type lineProblem struct {
	kind   ChainErrorKind
	detail string
}

// parseLine checks one line (without its newline) and returns its chain
// fields. It checks that the line is valid JSON, carries event, seq,
// prev_hash and a trailing hash member, and that the hash matches the
// line's own content. It does not look at neighbouring lines.
func parseLine(line []byte) (record, *lineProblem) {
	if !json.Valid(line) {
		return record{}, &lineProblem{ChainTruncated, "not valid JSON: the line was cut short or mangled"}
	}
	var fields struct {
		Event    *string      `json:"event"`
		Seq      *json.Number `json:"seq"`
		PrevHash *string      `json:"prev_hash"`
		Hash     *string      `json:"hash"`
	}
	if err := json.Unmarshal(line, &fields); err != nil {
		return record{}, &lineProblem{ChainEdited, "not a JSON object with the audit fields: " + err.Error()}
	}
	switch {
	case fields.Event == nil || *fields.Event == "":
		return record{}, &lineProblem{ChainEdited, `missing "event"`}
	case fields.Seq == nil:
		return record{}, &lineProblem{ChainEdited, `missing "seq"`}
	case fields.PrevHash == nil || !isHashHex(*fields.PrevHash):
		return record{}, &lineProblem{ChainEdited, `missing or malformed "prev_hash"`}
	case fields.Hash == nil || !isHashHex(*fields.Hash):
		return record{}, &lineProblem{ChainEdited, `missing or malformed "hash"`}
	}
	seq, err := strconv.ParseUint(fields.Seq.String(), 10, 64)
	if err != nil || seq == 0 {
		return record{}, &lineProblem{ChainEdited, fmt.Sprintf(`"seq" %s is not a positive integer`, fields.Seq.String())}
	}
	n := len(line)
	if n < hashSuffixLen+1 ||
		!bytes.HasPrefix(line[n-hashSuffixLen:], []byte(hashKeyOpen)) ||
		!bytes.HasSuffix(line, []byte(hashKeyClose)) ||
		string(line[n-hashSuffixLen+len(hashKeyOpen):n-len(hashKeyClose)]) != *fields.Hash {
		return record{}, &lineProblem{ChainEdited, `"hash" is not the last member of the line`}
	}
	body := make([]byte, 0, n-hashSuffixLen+1)
	body = append(append(body, line[:n-hashSuffixLen]...), '}')
	var got [hashHexLen]byte
	chainHash(got[:], []byte(*fields.PrevHash), body)
	if string(got[:]) != *fields.Hash {
		return record{}, &lineProblem{ChainEdited, fmt.Sprintf("hash %s does not match the line's content (recomputed %s)", *fields.Hash, got[:])}
	}
	return record{seq: seq, prev: *fields.PrevHash, hash: *fields.Hash}, nil
}

// isHashHex reports whether s is 64 lower-case hex characters, the form the
// Logger writes.
func isHashHex(s string) bool {
	if len(s) != hashHexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
