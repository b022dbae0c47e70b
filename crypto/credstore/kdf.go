package credstore

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDFParams are the Argon2id cost parameters recorded in a store's header.
type KDFParams struct {
	MemoryKiB   uint32 // memory in KiB
	Iterations  uint32 // passes over the memory
	Parallelism uint8  // lanes
}

// DefaultKDFParams returns the parameters new stores (and rotated ones) are
// sealed with: m = 64 MiB, t = 3, p = 4, the second recommended option of
// RFC 9106 section 4 for memory-constrained settings, and well above the
// OWASP Password Storage minimum (m = 19 MiB, t = 2, p = 1). The key is
// derived once per process, so the ~0.2 s it costs on a laptop core is paid
// at unlock only, while a guesser pays 64 MiB and that time per try.
func DefaultKDFParams() KDFParams {
	return KDFParams{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 4}
}

// kdfLimits bound what a header may ask for, so a damaged or hostile header
// cannot make Open allocate gigabytes or spin for minutes.
type kdfLimits struct {
	maxMemoryKiB  uint32
	maxIterations uint32
}

var defaultKDFLimits = kdfLimits{maxMemoryKiB: 4 << 20, maxIterations: 64} // 4 GiB

const (
	kdfName    = "argon2id"
	saltLen    = 32
	keyLen     = 32 // AES-256
	keyIDLen   = 8
	keyCheckLn = 32
)

func (p KDFParams) validate(lim kdfLimits) error {
	switch {
	case p.Parallelism == 0:
		return fmt.Errorf("argon2id parallelism is 0")
	case p.Iterations == 0 || p.Iterations > lim.maxIterations:
		return fmt.Errorf("argon2id iterations %d outside 1..%d", p.Iterations, lim.maxIterations)
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > lim.maxMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", p.MemoryKiB, 8*uint32(p.Parallelism), lim.maxMemoryKiB)
	}
	return nil
}

// keys are the per-purpose subkeys of one key generation, all expanded with
// HKDF-SHA256 from the Argon2id master key, which is zeroed right after.
type keys struct {
	sealKey  []byte // AES-256-GCM key for entry values
	macKey   []byte // HMAC-SHA256 key over the whole document
	keyCheck []byte // stored in the header; a mismatch means ErrWrongKey
	keyID    string // hex; names the key generation in every entry
}

// deriveKeys runs Argon2id over the identity and expands the subkeys.
func deriveKeys(id Identity, p KDFParams, salt []byte) (*keys, error) {
	in, err := id.kdfInput()
	if err != nil {
		return nil, err
	}
	master := argon2.IDKey(in, salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	clear(in)
	defer clear(master)

	k := &keys{}
	for _, sub := range []struct {
		dst  *[]byte
		info string
		n    int
	}{
		{&k.sealKey, "clawbroker credstore v1 seal", keyLen},
		{&k.macKey, "clawbroker credstore v1 mac", keyLen},
		{&k.keyCheck, "clawbroker credstore v1 key check", keyCheckLn},
	} {
		b, err := hkdf.Key(sha256.New, master, nil, sub.info, sub.n)
		if err != nil {
			k.zero()
			return nil, fmt.Errorf("credstore: hkdf: %w", err)
		}
		*sub.dst = b
	}
	id8, err := hkdf.Key(sha256.New, master, nil, "clawbroker credstore v1 key id", keyIDLen)
	if err != nil {
		k.zero()
		return nil, fmt.Errorf("credstore: hkdf: %w", err)
	}
	k.keyID = hex.EncodeToString(id8)
	return k, nil
}

func (k *keys) zero() {
	if k == nil {
		return
	}
	clear(k.sealKey)
	clear(k.macKey)
	clear(k.keyCheck)
	k.sealKey, k.macKey, k.keyCheck = nil, nil, nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("credstore: reading random bytes: %w", err)
	}
	return b, nil
}
