// Package sandbox runs one tool invocation inside an OS sandbox: bubblewrap
// on Linux, sandbox-exec on macOS and a Job Object on Windows. It knows
// nothing about policy; the broker decides, then hands it a Spec.
//
// Every launcher follows the same contract (see Launcher): the tool sees
// only the environment in Spec.Env, only the paths in Spec.ReadOnlyPaths
// and Spec.ReadWritePaths besides the system directories it needs to run,
// and the network only when Spec.Network is set. Output is captured as
// streams and kept up to Limits.MaxOutputBytes per stream; the rest is read
// and discarded, so a flood never grows the broker's memory. A timeout or a
// cancelled context kills the whole process tree.
//
// The pure parts (the bubblewrap argv, the seccomp program, the Seatbelt
// profile and the Job Object limits) live in files without a build tag so
// that they are tested on every OS; the files named *_linux.go,
// *_darwin.go and *_windows.go only start processes.
package sandbox
