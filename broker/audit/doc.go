// Package audit writes security events as hash-chained zerolog JSON lines,
// redacts secrets from them, and verifies a chain after the fact.
//
// Every policy decision and every other security event (credential_access,
// tool_execution, auth_failure, rate_limit_exceeded, policy_reload,
// sandbox_error) is one JSON line written by a Logger. A policy_decision
// line is shaped like an OPA decision-log entry, so OPA tooling can read it.
//
// # Audit or deny
//
// Every Logger method returns an error when its line could not be written
// in full, and the broker denies the request it was about to allow. After a
// partial write the Logger refuses all further events (ErrBroken), and Open
// refuses to continue a file that ends with a cut-short line: the operator
// runs `clawbroker audit verify FILE` and moves the file aside.
//
// # The chain
//
// Each line carries seq (1, 2, 3, … within a file), prev_hash and, as its
// last member, hash:
//
//	hash = hex(SHA-256(prev_hash || body))
//
// where prev_hash is the previous line's hash as 64 ASCII hex characters
// (GenesisHash, 64 zeros, on the first line) and body is the line's exact
// bytes without the newline and without its trailing `,"hash":"…"` member,
// closed with `}`. Hashing bytes rather than a re-encoding means a verifier
// in any language recomputes it without a canonical JSON form. Verify
// reports the first line that was edited, removed, reordered or cut short;
// given a hash recorded earlier (Logger.Head) it also proves that no line
// up to that point was dropped from the end, which the chain alone cannot.
// A file moved aside ends its chain; the new file starts at seq 1 again.
//
// # Redaction
//
// Decision inputs go through Redact, tool argv through RedactArgv and every
// other string field through RedactString before anything is written, so a
// secret value never reaches the log. The broker uses the same functions
// for error messages and tool output.
package audit
