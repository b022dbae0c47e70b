// Package policies holds clawbroker's shipped Rego policies. They are
// embedded in the binary and used whenever policies.dir is empty.
package policies

import "embed"

// FS holds the shipped policies (tests live in rego_test/, not here).
//
//go:embed *.rego
var FS embed.FS
