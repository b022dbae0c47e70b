package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
)

// seccompData lays out struct seccomp_data as the kernel would on a
// little-endian machine, but in the form golang.org/x/net/bpf's VM reads:
// the VM loads 32-bit words big-endian, so each word the kernel would load
// natively is stored big-endian at its offset.
func seccompData(arch, nr uint32, args ...uint64) []byte {
	buf := make([]byte, 64)
	binary.BigEndian.PutUint32(buf[seccompDataNr:], nr)
	binary.BigEndian.PutUint32(buf[seccompDataArch:], arch)
	for i, a := range args {
		off := seccompDataArgs + 8*i
		binary.BigEndian.PutUint32(buf[off:], uint32(a))       // low half first on little-endian
		binary.BigEndian.PutUint32(buf[off+4:], uint32(a>>32)) // then the high half
	}
	return buf
}

// assembledVM runs the filter exactly as bubblewrap receives it: the byte
// program is decoded back into instructions.
func assembledVM(t *testing.T) *bpf.VM {
	t.Helper()
	prog, err := seccompProgram(binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog)%8 != 0 {
		t.Fatalf("got program of %d bytes, want a multiple of 8", len(prog))
	}
	raw := make([]bpf.RawInstruction, len(prog)/8)
	for i := range raw {
		b := prog[8*i:]
		raw[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	return vm
}

func TestSeccompFilter(t *testing.T) {
	vm := assembledVM(t)
	const (
		eperm  = seccompRetErrno | errnoEPERM
		enosys = seccompRetErrno | errnoENOSYS
		allow  = seccompRetAllow
		kill   = seccompRetKillProcess
	)
	forkFlags := uint64(0x01200011) // CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD, as glibc's fork
	type call struct {
		name string
		nr   uint32
		args []uint64
		want uint32
	}
	var tests []struct {
		arch  string
		audit uint32
		call
	}
	add := func(table syscallTable, c call) {
		tests = append(tests, struct {
			arch  string
			audit uint32
			call
		}{table.name, table.arch, c})
	}
	for _, table := range seccompTables {
		n := table.nr
		for _, name := range seccompDenied {
			add(table, call{name, n[name], nil, eperm})
		}
		add(table, call{"clone3", n["clone3"], nil, enosys})
		add(table, call{"clone fork", n["clone"], []uint64{forkFlags}, allow})
		add(table, call{"clone thread", n["clone"], []uint64{0x3d0f00}, allow})
		add(table, call{"clone CLONE_NEWUSER", n["clone"], []uint64{cloneNewUser | 17}, eperm})
		add(table, call{"ioctl TCGETS", n["ioctl"], []uint64{0, 0x5401}, allow})
		add(table, call{"ioctl TIOCSTI", n["ioctl"], []uint64{0, tiocsti}, eperm})
		add(table, call{"ioctl TIOCLINUX", n["ioctl"], []uint64{0, tioclinux}, eperm})
		add(table, call{"ioctl TIOCSTI high bits", n["ioctl"], []uint64{0, 1<<32 | tiocsti}, eperm})
		add(table, call{"ioctl TIOCLINUX high bits", n["ioctl"], []uint64{0, 0xffffffff00000000 | tioclinux}, eperm})
		add(table, call{"unlisted syscall 0", 0, nil, allow})
		add(table, call{"unlisted syscall 63", 63, nil, allow})
	}
	x86 := seccompTables[0]
	add(x86, call{"x32 read", x32SyscallBit | 0, nil, eperm})
	add(x86, call{"x32 ptrace", x32SyscallBit | 101, nil, eperm})
	add(x86, call{"x32 ioctl", x32SyscallBit | 16, []uint64{0, 0x5401}, eperm})
	for _, other := range []struct {
		name  string
		audit uint32
	}{{"i386", 0x40000003}, {"arm", 0x40000028}, {"zero", 0}, {"x86_64 big-endian twin", 0x3e}} {
		tests = append(tests, struct {
			arch  string
			audit uint32
			call
		}{other.name, other.audit, call{"read", 0, nil, kill}})
	}

	for _, tt := range tests {
		t.Run(tt.arch+"/"+tt.name, func(t *testing.T) {
			got, err := vm.Run(seccompData(tt.audit, tt.nr, tt.args...))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if uint32(got) != tt.want {
				t.Fatalf("got %#x, want %#x", uint32(got), tt.want)
			}
		})
	}
}

func TestSeccompTablesComplete(t *testing.T) {
	for _, table := range seccompTables {
		seen := map[uint32]string{}
		for name, nr := range table.nr {
			if other, dup := seen[nr]; dup {
				t.Errorf("%s: got %s and %s both %d, want distinct numbers", table.name, name, other, nr)
			}
			seen[nr] = name
		}
		for _, name := range append(seccompDenied, "clone", "clone3", "ioctl") {
			if _, ok := table.nr[name]; !ok {
				t.Errorf("%s: got no number for %s, want one", table.name, name)
			}
		}
	}
}

func TestSeccompProgramDeterministic(t *testing.T) {
	a, err := seccompProgram(binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := seccompProgram(binary.LittleEndian)
	if string(a) != string(b) {
		t.Fatal("got two different programs, want the same bytes every time")
	}
}
