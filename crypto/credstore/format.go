package credstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The store file is one JSON document (see doc.go for an example):
//
//   - format, version: "clawbroker-credstore", 1
//   - kdf: Argon2id name, parameters and salt
//   - has_passphrase: whether the identity included a passphrase, so a
//     front end knows whether to ask for one before unlocking
//   - key_id, key_check: name and check value of the key generation
//   - entries: sorted by provider; each value sealed with AES-256-GCM
//   - mac: HMAC-SHA256 over the document with mac empty
//
// The file must be byte for byte what encode writes: decode re-encodes what
// it parsed and refuses any difference, so every edit of the file either
// changes authenticated content (and fails the MAC, an entry's tag or the
// key check) or is refused as non-canonical.
const (
	formatName    = "clawbroker-credstore"
	formatVersion = 1
	nonceLen      = 12
	tagLen        = 16
	macLen        = sha256.Size

	// MaxValueSize is the largest credential value Set accepts.
	MaxValueSize = 64 << 10
	// maxEntries and maxFileSize bound what decode will parse.
	maxEntries  = 4096
	maxFileSize = 16 << 20
)

var providerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidProvider reports whether name is a valid provider name:
// [a-z0-9][a-z0-9._-]{0,63}.
func ValidProvider(name string) bool { return providerRE.MatchString(name) }

type fileDoc struct {
	Format        string      `json:"format"`
	Version       int         `json:"version"`
	KDF           kdfHeader   `json:"kdf"`
	HasPassphrase bool        `json:"has_passphrase"`
	KeyID         string      `json:"key_id"`
	KeyCheck      []byte      `json:"key_check"`
	Entries       []fileEntry `json:"entries"`
	MAC           []byte      `json:"mac"`
}

type kdfHeader struct {
	Name        string `json:"name"`
	MemoryKiB   uint32 `json:"memory_kib"`
	Iterations  uint32 `json:"iterations"`
	Parallelism uint8  `json:"parallelism"`
	Salt        []byte `json:"salt"`
}

func (h kdfHeader) params() KDFParams {
	return KDFParams{MemoryKiB: h.MemoryKiB, Iterations: h.Iterations, Parallelism: h.Parallelism}
}

type fileEntry struct {
	Provider   string    `json:"provider"`
	KeyID      string    `json:"key_id"`
	Nonce      []byte    `json:"nonce"`
	Ciphertext []byte    `json:"ciphertext"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// encode returns the canonical bytes of d: indented JSON and a final newline.
func encode(d *fileDoc) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("credstore: encoding the store: %w", err)
	}
	return append(b, '\n'), nil
}

// decode parses raw and checks everything that needs no key: syntax,
// canonical form, version, KDF parameters, entry shapes and order.
func decode(path string, raw []byte, lim kdfLimits) (*fileDoc, error) {
	if len(raw) > maxFileSize {
		return nil, corrupt(path, "", "file larger than "+strconv.Itoa(maxFileSize)+" bytes")
	}
	// Peek at the version first so a newer file says "upgrade", not "corrupt".
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, corrupt(path, "", "not valid JSON: "+syntaxReason(err))
	}
	if probe.Format != formatName {
		return nil, corrupt(path, "", "not a clawbroker credential store (format field)")
	}
	if probe.Version != formatVersion {
		return nil, fmt.Errorf("credential store %s has format version %d, this build reads version %d: %w", path, probe.Version, formatVersion, ErrUnsupportedVersion)
	}

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	d := new(fileDoc)
	if err := dec.Decode(d); err != nil {
		return nil, corrupt(path, "", "not valid JSON: "+syntaxReason(err))
	}
	canon, err := encode(d)
	if err != nil {
		return nil, corrupt(path, "", "cannot re-encode")
	}
	if !bytes.Equal(canon, raw) {
		return nil, corrupt(path, "", "file is not in the canonical form this package writes (edited by hand or damaged)")
	}

	if d.KDF.Name != kdfName {
		return nil, corrupt(path, "", "unknown KDF (want argon2id)")
	}
	if err := d.KDF.params().validate(lim); err != nil {
		return nil, corrupt(path, "", err.Error())
	}
	if len(d.KDF.Salt) != saltLen {
		return nil, corrupt(path, "", "salt length is not "+strconv.Itoa(saltLen))
	}
	if len(d.KeyID) != 2*keyIDLen || len(d.KeyCheck) != keyCheckLn {
		return nil, corrupt(path, "", "key id or key check has the wrong length")
	}
	if len(d.MAC) != macLen {
		return nil, corrupt(path, "", "mac has the wrong length")
	}
	if d.Entries == nil || len(d.Entries) > maxEntries {
		return nil, corrupt(path, "", "entry list missing or longer than "+strconv.Itoa(maxEntries))
	}
	for i, e := range d.Entries {
		if !ValidProvider(e.Provider) {
			return nil, corrupt(path, "", "entry "+strconv.Itoa(i)+" has an invalid provider name")
		}
		if i > 0 && d.Entries[i-1].Provider >= e.Provider {
			return nil, corrupt(path, e.Provider, "entries not sorted or duplicated")
		}
		switch {
		case e.KeyID != d.KeyID:
			return nil, corrupt(path, e.Provider, "key id differs from the header's")
		case len(e.Nonce) != nonceLen:
			return nil, corrupt(path, e.Provider, "nonce length is not 12")
		case len(e.Ciphertext) <= tagLen || len(e.Ciphertext) > MaxValueSize+tagLen:
			return nil, corrupt(path, e.Provider, "ciphertext length out of range")
		}
	}
	return d, nil
}

// syntaxReason describes a JSON error without quoting the input.
func syntaxReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "wrong type for field " + te.Field
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return "unknown field"
	}
	return "malformed document"
}

// aad binds a sealed value to its format version, provider and key
// generation, so a ciphertext copied to another entry or file fails to open.
func aad(provider, keyID string) []byte {
	return []byte("clawbroker-credstore\x00v" + strconv.Itoa(formatVersion) + "\x00" + provider + "\x00" + keyID)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credstore: aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts value for provider under a fresh random nonce.
func (k *keys) seal(provider string, value []byte) (nonce, ct []byte, err error) {
	aead, err := newAEAD(k.sealKey)
	if err != nil {
		return nil, nil, err
	}
	nonce, err = randomBytes(nonceLen)
	if err != nil {
		return nil, nil, err
	}
	return nonce, aead.Seal(nil, nonce, value, aad(provider, k.keyID)), nil
}

// open decrypts an entry. It returns plaintext only when the tag verifies;
// the caller zeroes it.
func (k *keys) open(path string, e *fileEntry) ([]byte, error) {
	if len(e.Nonce) != nonceLen || len(e.Ciphertext) <= tagLen {
		return nil, corrupt(path, e.Provider, "nonce or ciphertext too short")
	}
	aead, err := newAEAD(k.sealKey)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, e.Nonce, e.Ciphertext, aad(e.Provider, e.KeyID))
	if err != nil {
		return nil, corrupt(path, e.Provider, "value does not authenticate (modified, truncated or moved from another entry)")
	}
	return pt, nil
}

// docMAC is HMAC-SHA256 over the canonical encoding of d with mac emptied.
func (k *keys) docMAC(d *fileDoc) ([]byte, error) {
	c := *d
	c.MAC = nil
	b, err := encode(&c)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k.macKey)
	m.Write(b)
	return m.Sum(nil), nil
}

// verify checks a decoded document against k: the key check first (a wrong
// identity is ErrWrongKey, never ErrCorrupt), then every entry's tag, so
// that damage is reported against the entry it hit, then the document MAC,
// which covers what no entry tag does: the header, timestamps, and which
// entries exist.
func (k *keys) verify(path string, d *fileDoc) error {
	if subtle.ConstantTimeCompare(k.keyCheck, d.KeyCheck) != 1 || subtle.ConstantTimeCompare([]byte(k.keyID), []byte(d.KeyID)) != 1 {
		return fmt.Errorf("credential store %s: %w", path, ErrWrongKey)
	}
	for i := range d.Entries {
		pt, err := k.open(path, &d.Entries[i])
		clear(pt)
		if err != nil {
			return err
		}
	}
	want, err := k.docMAC(d)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, d.MAC) {
		return corrupt(path, "", "document MAC does not match (header, timestamps or the set of entries changed)")
	}
	return nil
}

// newDoc returns an empty document for a new key generation.
func newDoc(k *keys, p KDFParams, salt []byte, hasPassphrase bool) *fileDoc {
	return &fileDoc{
		Format:        formatName,
		Version:       formatVersion,
		KDF:           kdfHeader{Name: kdfName, MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism, Salt: salt},
		HasPassphrase: hasPassphrase,
		KeyID:         k.keyID,
		KeyCheck:      slices.Clone(k.keyCheck),
		Entries:       []fileEntry{},
	}
}

// finish computes d's MAC and returns its canonical bytes.
func (k *keys) finish(d *fileDoc) ([]byte, error) {
	m, err := k.docMAC(d)
	if err != nil {
		return nil, err
	}
	d.MAC = m
	return encode(d)
}

func (d *fileDoc) clone() *fileDoc {
	c := *d
	c.Entries = slices.Clone(d.Entries)
	return &c
}

func (d *fileDoc) find(provider string) (int, bool) {
	return slices.BinarySearchFunc(d.Entries, provider, func(e fileEntry, p string) int { return strings.Compare(e.Provider, p) })
}
