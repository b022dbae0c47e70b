// Package sandbox runs one tool invocation inside an OS sandbox: bubblewrap
// on Linux, sandbox-exec on macOS and a Job Object on Windows. It knows
// nothing about policy; the broker decides, then hands it a Spec.
package sandbox
