// Package credstore keeps API keys in one AES-256-GCM encrypted file whose
// key is derived with Argon2id from the machine, the user and an optional
// passphrase.
//
// # Keys
//
// Open runs Argon2id once over an unambiguous, length-prefixed encoding of
// the Identity (machine identifier, uid, user name, passphrase) and the
// file's random 32-byte salt, then expands the 32-byte master key with
// HKDF-SHA256 into per-purpose subkeys and zeroes it:
//
//   - a sealing key: AES-256-GCM for every entry value, with a fresh random
//     96-bit nonce per write and the format version, provider name and key
//     id as additional data, so a ciphertext moved to another entry fails;
//   - a MAC key: HMAC-SHA256 over the whole document, which covers what the
//     entry tags do not (the header, the timestamps, which entries exist);
//   - a key-check value stored in the header, compared in constant time, so
//     a wrong identity is reported as ErrWrongKey and never as ErrCorrupt;
//   - a key id (8 bytes, hex) naming the key generation in every entry.
//
// The subkeys are held as []byte for the life of the Store and zeroed by
// Close. Argon2id costs m = 64 MiB, t = 3, p = 4 (DefaultKDFParams): RFC
// 9106's second recommended setting, above the OWASP minimum (19 MiB,
// t = 2). Unlocking is once per process, so its cost (0.1 to 0.3 s on a
// 2-core machine; see BenchmarkUnlock) is paid once by the user, and by a
// guesser on every try along with 64 MiB of memory.
//
// # File
//
// The store is one JSON document, by default
// ~/.clawbroker/credentials.enc.json:
//
//	{
//	  "format": "clawbroker-credstore",
//	  "version": 1,
//	  "kdf": {"name": "argon2id", "memory_kib": 65536, "iterations": 3,
//	          "parallelism": 4, "salt": "<base64, 32 bytes>"},
//	  "has_passphrase": true,
//	  "key_id": "<16 hex>",
//	  "key_check": "<base64, 32 bytes>",
//	  "entries": [{"provider": "openai", "key_id": "<16 hex>",
//	               "nonce": "<base64, 12 bytes>", "ciphertext": "<base64>",
//	               "created_at": "2026-01-02T03:04:05Z",
//	               "updated_at": "2026-01-02T03:04:05Z"}],
//	  "mac": "<base64, 32 bytes>"
//	}
//
// The file must be byte for byte what this package writes; a reader
// re-encodes what it parsed and refuses any difference, so no edit (not
// even a changed letter case or whitespace) goes unnoticed. The header
// (format, version, kdf, has_passphrase) is readable without a key, see
// Inspect, so a front end knows whether to ask for a passphrase.
//
// # Files on disk
//
// Every write goes to a temporary file in the same directory (mode 0600),
// is fsynced, renamed over the store and the directory fsynced: a crash
// leaves the old file or the new one. Writers serialise on an exclusive
// lock on "<path>.lock" (flock on unix, LockFileEx on Windows) and re-read
// the file under it, so concurrent writers in several processes lose no
// entry. Readers need no lock: each Get costs one stat to notice a file
// another process replaced. On unix a store file readable or writable by
// group or others, a directory writable by them, or either owned by another
// user is refused with ErrInsecurePermissions, as ssh refuses private keys.
//
// # What it protects against
//
// Without a passphrase, a copy of the file (a backup, a synced dotfile
// directory, a stolen disk image without /etc/machine-id) does not open
// elsewhere or for another user. It does not protect against programs that
// run as the same user on the same machine: they can read the machine id
// and the file. A passphrase (CLAWBROKER_PASSPHRASE, or a prompt) closes
// that gap for as long as it is kept out of their reach.
package credstore
