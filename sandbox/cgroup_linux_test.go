package sandbox

import (
	"os/exec"
	"testing"
)

func TestCgroupHolds(t *testing.T) {
	l := newTestLauncher(t).(*bwrapLauncher)
	if l.cgroups == nil {
		t.Fatal("this host gives the broker no writable cgroup: run the tests as root or in a delegated cgroup")
	}
	cg, err := l.cgroups.get()
	if err != nil {
		t.Fatal(err)
	}
	defer cg.release()
	sleep := exec.Command("/bin/sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = sleep.Process.Kill()
		_ = sleep.Wait()
	}()
	pid := sleep.Process.Pid
	if cg.holds(pid) {
		t.Fatalf("got holds(%d) true before the move, want false", pid)
	}
	if err := cg.add(pid); err != nil {
		t.Fatal(err)
	}
	if !cg.holds(pid) {
		t.Fatalf("got holds(%d) false after the move, want true", pid)
	}
	if cg.holds(pid + 1_000_000) {
		t.Fatal("got holds true for a pid nobody has, want false")
	}
}
