// Package credstore keeps API keys in one AES-256-GCM encrypted file whose
// key is derived with Argon2id from the machine, the user and an optional
// passphrase.
package credstore
