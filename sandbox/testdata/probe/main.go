// Command probe is run inside the sandbox by the escape tests: each verb
// attempts one thing and reports "ok ..." on stdout (exit 0) or
// "denied ERRNO" (exit 1), so a test can tell a block from a crash.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: probe VERB [ARGS]"))
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "read":
		data, err := os.ReadFile(args[0])
		check(err)
		fmt.Printf("ok %s", data)
	case "write":
		check(os.WriteFile(args[0], []byte("pwned"), 0o644))
		fmt.Println("ok")
	case "link":
		check(os.Link(args[0], args[1]))
		fmt.Println("ok")
	case "connect":
		c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
		check(err)
		fmt.Fprintln(c, "hello from the sandbox")
		c.Close()
		fmt.Println("ok")
	case "udp":
		c, err := net.Dial("udp", args[0])
		check(err)
		_, err = c.Write([]byte("query"))
		check(err)
		fmt.Println("ok")
	case "lookup":
		addrs, err := net.LookupHost(args[0])
		check(err)
		fmt.Println("ok", addrs)
	case "ptrace":
		// A child of our own is the one process ptrace would allow
		// without the filter.
		child := exec.Command("/proc/self/exe", "sleep", "10")
		check(child.Start())
		defer child.Process.Kill()
		check(syscall.PtraceAttach(child.Process.Pid))
		fmt.Println("ok")
	case "vmread":
		child := exec.Command("/proc/self/exe", "sleep", "10")
		check(child.Start())
		defer child.Process.Kill()
		var buf [8]byte
		local := []unix.Iovec{{Base: &buf[0], Len: 8}}
		remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&buf[0])), Len: 8}}
		_, err := unix.ProcessVMReadv(child.Process.Pid, local, remote, 0)
		check(err)
		fmt.Println("ok")
	case "clone-userns":
		cmd := exec.Command("/proc/self/exe", "sleep", "0")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		check(cmd.Run())
		fmt.Println("ok")
	case "syscall":
		// syscall NAME: raw call with harmless arguments; only the errno
		// matters.
		nr, a1, a2, a3 := rawCall(args[0])
		r, _, errno := syscall.RawSyscall6(nr, a1, a2, a3, 0, 0, 0)
		if errno != 0 {
			fail(errno)
		}
		fmt.Println("ok", r)
	case "tiocsti":
		fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, 0)
		check(err)
		c := byte('x')
		cmd := uintptr(unix.TIOCSTI)
		if len(args) > 0 && args[0] == "high" {
			cmd |= 1 << 32
		}
		_, _, errno := syscall.Syscall(unix.SYS_IOCTL, uintptr(fd), cmd, uintptr(unsafe.Pointer(&c)))
		if errno != 0 {
			fail(errno)
		}
		fmt.Println("ok")
	case "balloon":
		mib, _ := strconv.Atoi(args[0])
		var keep [][]byte
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("ok allocated", len(keep), "MiB")
	case "sleep":
		s, _ := strconv.Atoi(args[0])
		time.Sleep(time.Duration(s) * time.Second)
	default:
		fail(fmt.Errorf("unknown verb %q", os.Args[1]))
	}
}

// rawCall maps a syscall name to its number and arguments that would
// succeed or fail harmlessly if the filter let them through.
func rawCall(name string) (nr, a1, a2, a3 uintptr) {
	switch name {
	case "io_uring_setup":
		var params [120]byte
		return unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0
	case "bpf":
		return unix.SYS_BPF, 0, 0, 0
	case "keyctl":
		return unix.SYS_KEYCTL, 0, 0, 0 // KEYCTL_GET_KEYRING_ID
	case "add_key":
		return unix.SYS_ADD_KEY, 0, 0, 0
	case "perf_event_open":
		return unix.SYS_PERF_EVENT_OPEN, 0, 0, 0
	case "unshare-user":
		return unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0
	case "unshare-net":
		return unix.SYS_UNSHARE, unix.CLONE_NEWNET, 0, 0
	case "setns":
		return unix.SYS_SETNS, 0, 0, 0
	case "mount":
		src, _ := unix.BytePtrFromString("none")
		dst, _ := unix.BytePtrFromString("/tmp")
		fs, _ := unix.BytePtrFromString("tmpfs")
		return unix.SYS_MOUNT, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(dst)), uintptr(unsafe.Pointer(fs))
	case "umount2":
		dst, _ := unix.BytePtrFromString("/tmp")
		return unix.SYS_UMOUNT2, uintptr(unsafe.Pointer(dst)), 0, 0
	case "pivot_root":
		dot, _ := unix.BytePtrFromString(".")
		return unix.SYS_PIVOT_ROOT, uintptr(unsafe.Pointer(dot)), uintptr(unsafe.Pointer(dot)), 0
	case "fsopen":
		fs, _ := unix.BytePtrFromString("tmpfs")
		return unix.SYS_FSOPEN, uintptr(unsafe.Pointer(fs)), 0, 0
	case "clone3":
		return unix.SYS_CLONE3, 0, 0, 0
	case "init_module":
		return unix.SYS_INIT_MODULE, 0, 0, 0
	case "kexec_load":
		return unix.SYS_KEXEC_LOAD, 0, 0, 0
	case "getpid":
		return unix.SYS_GETPID, 0, 0, 0
	}
	fail(fmt.Errorf("unknown syscall %q", name))
	return 0, 0, 0, 0
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

// fail reports err as "denied NAME", naming the errno when there is one.
func fail(err error) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fmt.Printf("denied %s\n", unix.ErrnoName(errno))
	} else {
		fmt.Printf("denied %v\n", err)
	}
	os.Exit(1)
}
