package sandbox

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// Values from <linux/seccomp.h>, <linux/audit.h> and <linux/sched.h>. They
// are spelled out here, not taken from golang.org/x/sys/unix, so that the
// filter builds and is tested on every OS.
const (
	seccompRetKillProcess = 0x80000000
	seccompRetErrno       = 0x00050000
	seccompRetAllow       = 0x7fff0000

	auditArchX8664   = 0xc000003e
	auditArchAArch64 = 0xc00000b7

	// x32SyscallBit marks the x32 ABI on x86_64; those numbers alias the
	// 64-bit ones and would slip past a filter keyed on them.
	x32SyscallBit = 0x40000000

	cloneNewUser = 0x10000000

	tiocsti   = 0x5412
	tioclinux = 0x541c

	errnoEPERM  = 1
	errnoENOSYS = 38
)

// Offsets into struct seccomp_data.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16
)

// syscallTable maps the syscall names the filter refers to onto one
// architecture's numbers.
type syscallTable struct {
	name string
	arch uint32
	// x32 is set on x86_64, whose syscall numbers can carry x32SyscallBit.
	x32 bool
	nr  map[string]uint32
}

// seccompTables are the architectures the filter knows; any other
// architecture, including 32-bit compat calls on x86_64, is killed.
var seccompTables = []syscallTable{
	{
		name: "x86_64",
		arch: auditArchX8664,
		x32:  true,
		nr: map[string]uint32{
			"ioctl": 16, "clone": 56, "ptrace": 101, "pivot_root": 155,
			"chroot": 161, "mount": 165, "umount2": 166, "init_module": 175,
			"delete_module": 176, "kexec_load": 246, "add_key": 248,
			"request_key": 249, "keyctl": 250, "unshare": 272,
			"perf_event_open": 298, "open_by_handle_at": 304, "setns": 308,
			"process_vm_readv": 310, "process_vm_writev": 311,
			"finit_module": 313, "kexec_file_load": 320, "bpf": 321,
			"userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
			"io_uring_register": 427, "open_tree": 428, "move_mount": 429,
			"fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
			"clone3": 435, "mount_setattr": 442,
		},
	},
	{
		name: "aarch64",
		arch: auditArchAArch64,
		nr: map[string]uint32{
			"ioctl": 29, "umount2": 39, "mount": 40, "pivot_root": 41,
			"chroot": 51, "unshare": 97, "kexec_load": 104, "init_module": 105,
			"delete_module": 106, "ptrace": 117, "add_key": 217,
			"request_key": 218, "keyctl": 219, "clone": 220,
			"perf_event_open": 241, "open_by_handle_at": 265, "setns": 268,
			"process_vm_readv": 270, "process_vm_writev": 271,
			"finit_module": 273, "bpf": 280, "userfaultfd": 282,
			"kexec_file_load": 294, "io_uring_setup": 425, "io_uring_enter": 426,
			"io_uring_register": 427, "open_tree": 428, "move_mount": 429,
			"fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
			"clone3": 435, "mount_setattr": 442,
		},
	},
}

// seccompDenied are refused outright with EPERM: debugging other
// processes, kernel attack surface the tool has no business with, key
// rings, and anything that builds namespaces or mounts.
var seccompDenied = []string{
	"ptrace", "process_vm_readv", "process_vm_writev",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	"mount", "umount2", "pivot_root", "chroot",
	"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"unshare", "setns",
	"kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module",
	"open_by_handle_at",
}

// seccompInstructions builds the filter bubblewrap installs before it runs
// the tool. It is pure and deterministic.
//
// Per architecture block: x32 numbers are refused; each denied syscall
// returns EPERM; clone3 returns ENOSYS so that libc falls back to clone,
// whose flags a classic BPF filter can inspect; clone with CLONE_NEWUSER and
// ioctl TIOCSTI or TIOCLINUX (compared on the low 32 bits, as the kernel
// does) return EPERM; everything else is allowed.
func seccompInstructions() ([]bpf.Instruction, error) {
	prog := []bpf.Instruction{bpf.LoadAbsolute{Off: seccompDataArch, Size: 4}}
	for _, table := range seccompTables {
		block, err := archBlock(table)
		if err != nil {
			return nil, err
		}
		if len(block) > 255 {
			return nil, fmt.Errorf("seccomp: %s block has %d instructions, more than a BPF jump can skip", table.name, len(block))
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: table.arch, SkipFalse: uint8(len(block))})
		prog = append(prog, block...)
	}
	return append(prog, bpf.RetConstant{Val: seccompRetKillProcess}), nil
}

// archBlock is one architecture's checks; the accumulator holds the
// architecture on entry, and every path through the block returns.
func archBlock(t syscallTable) ([]bpf.Instruction, error) {
	nr := func(name string) (uint32, error) {
		n, ok := t.nr[name]
		if !ok {
			return 0, fmt.Errorf("seccomp: no %s number for %s", t.name, name)
		}
		return n, nil
	}
	block := []bpf.Instruction{bpf.LoadAbsolute{Off: seccompDataNr, Size: 4}}
	if t.x32 {
		block = append(block,
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: x32SyscallBit, SkipFalse: 1},
			bpf.RetConstant{Val: seccompRetErrno | errnoEPERM},
		)
	}
	// rule emits "if nr == n { body }"; body must end in a return.
	rule := func(name string, body ...bpf.Instruction) error {
		n, err := nr(name)
		if err != nil {
			return err
		}
		block = append(block, bpf.JumpIf{Cond: bpf.JumpEqual, Val: n, SkipFalse: uint8(len(body))})
		block = append(block, body...)
		return nil
	}
	deny := bpf.RetConstant{Val: seccompRetErrno | errnoEPERM}
	allow := bpf.RetConstant{Val: seccompRetAllow}
	for _, name := range seccompDenied {
		if err := rule(name, deny); err != nil {
			return nil, err
		}
	}
	if err := rule("clone3", bpf.RetConstant{Val: seccompRetErrno | errnoENOSYS}); err != nil {
		return nil, err
	}
	// clone(flags, ...): flags are argument 0 on both architectures.
	if err := rule("clone",
		bpf.LoadAbsolute{Off: seccompArgLow(0), Size: 4},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: cloneNewUser, SkipFalse: 1},
		deny,
		allow,
	); err != nil {
		return nil, err
	}
	// ioctl(fd, request, ...): the kernel takes request as an unsigned
	// int, so only the low 32 bits count.
	if err := rule("ioctl",
		bpf.LoadAbsolute{Off: seccompArgLow(1), Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: tiocsti, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: tioclinux, SkipFalse: 1},
		deny,
		allow,
	); err != nil {
		return nil, err
	}
	return append(block, allow), nil
}

// seccompArgLow is the offset of the low 32 bits of syscall argument i in
// seccomp_data on the little-endian architectures the filter supports.
func seccompArgLow(i uint32) uint32 { return seccompDataArgs + 8*i }

// seccompProgram is the assembled filter as bubblewrap's --seccomp expects
// it: an array of struct sock_filter in the host's byte order.
func seccompProgram(order binary.AppendByteOrder) ([]byte, error) {
	insns, err := seccompInstructions()
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		out = order.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = order.AppendUint32(out, r.K)
	}
	return out, nil
}
