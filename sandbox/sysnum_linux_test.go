package sandbox

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// hostSeccompArch names the seccomp table for the test binary's
// architecture.
func hostSeccompArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// hostSyscallNumbers are golang.org/x/sys/unix's numbers for the syscalls
// the filter names, for the architecture the tests are built for.
func hostSyscallNumbers() map[string]uint32 {
	return map[string]uint32{
		"ioctl": unix.SYS_IOCTL, "clone": unix.SYS_CLONE, "ptrace": unix.SYS_PTRACE,
		"pivot_root": unix.SYS_PIVOT_ROOT, "chroot": unix.SYS_CHROOT, "mount": unix.SYS_MOUNT,
		"umount2": unix.SYS_UMOUNT2, "init_module": unix.SYS_INIT_MODULE,
		"delete_module": unix.SYS_DELETE_MODULE, "kexec_load": unix.SYS_KEXEC_LOAD,
		"add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY, "keyctl": unix.SYS_KEYCTL,
		"unshare": unix.SYS_UNSHARE, "perf_event_open": unix.SYS_PERF_EVENT_OPEN,
		"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT, "setns": unix.SYS_SETNS,
		"process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
		"finit_module": unix.SYS_FINIT_MODULE, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD,
		"bpf": unix.SYS_BPF, "userfaultfd": unix.SYS_USERFAULTFD,
		"io_uring_setup": unix.SYS_IO_URING_SETUP, "io_uring_enter": unix.SYS_IO_URING_ENTER,
		"io_uring_register": unix.SYS_IO_URING_REGISTER, "open_tree": unix.SYS_OPEN_TREE,
		"move_mount": unix.SYS_MOVE_MOUNT, "fsopen": unix.SYS_FSOPEN, "fsconfig": unix.SYS_FSCONFIG,
		"fsmount": unix.SYS_FSMOUNT, "fspick": unix.SYS_FSPICK, "clone3": unix.SYS_CLONE3,
		"mount_setattr": unix.SYS_MOUNT_SETATTR,
	}
}
