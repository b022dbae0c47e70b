// Package audit writes security events as hash-chained zerolog JSON lines,
// redacts secrets from them, and verifies a chain after the fact.
package audit
