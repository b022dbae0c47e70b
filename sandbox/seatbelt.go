package sandbox

import (
	"strings"
)

// seatbeltSystemRead are the macOS paths every tool may read: the system,
// the dynamic linker's caches and the few /etc files programs expect.
var seatbeltSystemRead = []string{
	"/usr",
	"/bin",
	"/sbin",
	"/System",
	"/Library/Apple",
	"/private/var/db/dyld",
	"/private/var/db/timezone",
	"/private/etc/passwd",
	"/private/etc/group",
	"/private/etc/localtime",
}

// seatbeltNetworkRead are added when the tool has the network.
var seatbeltNetworkRead = []string{
	"/private/etc/hosts",
	"/private/etc/resolv.conf",
	"/private/var/run/resolv.conf",
	"/private/etc/services",
	"/private/etc/protocols",
	"/private/etc/ssl",
}

// seatbeltExec are the system directories whose programs a tool may run
// besides its own command (git runs its helpers, scripts run sh).
var seatbeltExec = []string{"/usr/bin", "/usr/libexec", "/usr/sbin", "/bin", "/sbin"}

// seatbeltDevices are the character devices a tool may read; only
// /dev/null may also be written.
var seatbeltDevices = []string{"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"}

// seatbeltSystemDirs are where a command or working directory may lie on
// macOS without being listed in the spec.
var seatbeltSystemDirs = []string{"/usr", "/bin", "/sbin", "/System"}

// seatbeltProfile builds the sandbox-exec profile for rs: deny by default,
// run the command, read the system and the spec's paths, write only the
// read-write paths, and reach the network only when allowed. It returns an
// error wrapping ErrInvalidSpec for a path SBPL cannot hold.
func seatbeltProfile(rs resolvedSpec) (string, error) {
	var b strings.Builder
	var err error
	// line writes "(allow OP FILTER...)" with each path quoted.
	line := func(op, filter string, paths ...string) {
		if err != nil || len(paths) == 0 {
			return
		}
		b.WriteString("(allow " + op)
		for _, p := range paths {
			q, qerr := sbplString(p)
			if qerr != nil {
				err = qerr
				return
			}
			b.WriteString("\n    (" + filter + " " + q + ")")
		}
		b.WriteString(")\n")
	}

	b.WriteString("(version 1)\n(deny default)\n")
	line("process-exec", "literal", rs.Command)
	line("process-exec", "subpath", seatbeltExec...)
	if rs.Limits.MaxProcesses != 1 {
		b.WriteString("(allow process-fork)\n")
	}
	b.WriteString("(allow signal (target same-sandbox))\n")
	b.WriteString("(allow process-info* (target same-sandbox))\n")
	b.WriteString("(allow sysctl-read)\n")
	b.WriteString("(allow file-read-metadata)\n")
	b.WriteString("(allow mach-lookup (global-name \"com.apple.system.opendirectoryd.libinfo\"))\n")
	line("file-read*", "subpath", seatbeltSystemRead...)
	if rs.Network {
		line("file-read*", "subpath", seatbeltNetworkRead...)
	}
	line("file-read*", "literal", seatbeltDevices...)
	line("file-write*", "literal", "/dev/null")
	line("file-read*", "literal", rs.Command)
	var read, write []string
	for _, m := range rs.Mounts {
		read = append(read, m.Path)
		if m.Writable {
			write = append(write, m.Path)
		}
	}
	line("file-read*", "subpath", read...)
	line("file-write*", "subpath", write...)
	if rs.Network {
		b.WriteString("(allow network*)\n")
		b.WriteString("(allow mach-lookup\n    (global-name \"com.apple.dnssd.service\")\n    (global-name \"com.apple.SystemConfiguration.configd\")\n    (global-name \"com.apple.trustd.agent\"))\n")
	}
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// sbplString quotes s as an SBPL string literal. Backslashes and double
// quotes are escaped; parentheses and semicolons are plain characters
// inside quotes. Newlines and other control characters are refused rather
// than escaped, since no real path needs them and they are where a quoting
// bug would turn into a policy injection.
func sbplString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return "", invalidSpec("path %q contains a control character, which a Seatbelt profile cannot hold: rename it", s)
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}
