package sandbox

import (
	"strconv"
	"strings"
)

// hostLayout is how the host's top-level system directories look, learned
// once by the Linux launcher and fed to the pure argv builder.
type hostLayout struct {
	// Dirs are system directories bound read-only at the same path, such
	// as /usr, and /lib64 on hosts where it is a real directory.
	Dirs []string
	// Symlinks recreate top-level links such as /bin -> usr/bin on
	// merged-/usr hosts.
	Symlinks []symlink
}

// symlink is a link created inside the sandbox: Path points to Target.
type symlink struct{ Target, Path string }

// systemTopLevel are the top-level entries the Linux launcher looks at to
// build a hostLayout.
var systemTopLevel = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcBase is the minimal /etc every sandbox gets: who is who, the dynamic
// linker cache, Debian's alternatives links and the time zone. No shadow
// files, no host configuration.
var etcBase = []string{
	"/etc/passwd",
	"/etc/group",
	"/etc/ld.so.cache",
	"/etc/alternatives",
	"/etc/localtime",
}

// etcNetwork is added to /etc only when the tool has the network: name
// resolution and TLS roots.
var etcNetwork = []string{
	"/etc/resolv.conf",
	"/etc/hosts",
	"/etc/nsswitch.conf",
	"/etc/host.conf",
	"/etc/gai.conf",
	"/etc/services",
	"/etc/protocols",
	"/etc/ssl",
	"/etc/ca-certificates",
	"/etc/pki",
}

// forbiddenMountRoots are host trees a spec may not bind: the sandbox
// builds its own /proc and /dev, and the host's would undo the pid and
// device isolation; binding / would expose everything.
var forbiddenMountRoots = []string{"/proc", "/dev", "/sys"}

// bwrapFDs are the descriptor numbers bubblewrap reads its side channels
// from, as laid out by the launcher's ExtraFiles. Info and Block are 0
// when there is no handshake (BwrapCommand): descriptor 0 is stdin, never
// a side channel.
type bwrapFDs struct{ Seccomp, Info, Block int }

// sandboxHostname replaces the host's name inside the UTS namespace.
const sandboxHostname = "sandbox"

// checkLinuxMounts refuses mounts that would defeat the sandbox itself.
func checkLinuxMounts(rs resolvedSpec) error {
	for _, m := range rs.Mounts {
		if m.Path == "/" {
			return invalidSpec("binding / would expose the whole host: list the directories the tool needs instead")
		}
		if withinAny(m.Path, forbiddenMountRoots) {
			return invalidSpec("path %q lies under /proc, /dev or /sys, which the sandbox provides itself: drop it from the spec", m.Path)
		}
	}
	return nil
}

// bwrapArgs builds bubblewrap's argv (without argv[0]) for rs. It is pure:
// the same inputs always give the same argv, which the golden tests pin.
//
// Order matters to bubblewrap, which applies file system operations in
// argv order: system directories, the minimal /etc, fresh /proc, /dev and
// /tmp, and only then the spec's mounts, parents first, so a workspace
// under /tmp is bound on top of the sandbox's /tmp and not hidden by it.
func bwrapArgs(rs resolvedSpec, layout hostLayout, fds bwrapFDs) []string {
	args := []string{
		"--unshare-all",
		"--unshare-user",
		"--disable-userns",
	}
	if rs.Network {
		args = append(args, "--share-net")
	}
	args = append(args,
		"--die-with-parent",
		"--new-session",
		"--cap-drop", "ALL",
		"--hostname", sandboxHostname,
		"--clearenv",
	)
	for _, kv := range rs.Env {
		key, value, _ := strings.Cut(kv, "=")
		args = append(args, "--setenv", key, value)
	}
	for _, d := range layout.Dirs {
		args = append(args, "--ro-bind", d, d)
	}
	for _, s := range layout.Symlinks {
		args = append(args, "--symlink", s.Target, s.Path)
	}
	for _, p := range etcBase {
		args = append(args, "--ro-bind-try", p, p)
	}
	if rs.Network {
		for _, p := range etcNetwork {
			args = append(args, "--ro-bind-try", p, p)
		}
	}
	args = append(args,
		"--proc", "/proc",
		"--dev", "/dev",
		"--tmpfs", "/tmp",
	)
	for _, m := range rs.Mounts {
		op := "--ro-bind"
		if m.Writable {
			op = "--bind"
		}
		args = append(args, op, m.Path, m.Path)
	}
	args = append(args,
		"--chdir", rs.Dir,
		"--seccomp", strconv.Itoa(fds.Seccomp),
	)
	if fds.Info > 0 {
		args = append(args, "--info-fd", strconv.Itoa(fds.Info))
	}
	if fds.Block > 0 {
		args = append(args, "--block-fd", strconv.Itoa(fds.Block))
	}
	args = append(args, "--", rs.Command)
	return append(args, rs.Args...)
}
