package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cgroupPoolSize is how many empty sandbox cgroups are kept for reuse;
// creating and removing a memory cgroup costs more than refilling one.
const cgroupPoolSize = 4

// cgroupSweepTimeout bounds how long cleanup waits for killed processes to
// leave a cgroup.
const cgroupSweepTimeout = 5 * time.Second

// cgroupSeq numbers the cgroups of this process across every launcher, so
// two launchers in one broker never pick the same name.
var cgroupSeq atomic.Uint64

// cgroupManager creates, hands out and reclaims the per-run cgroups under
// the broker's own cgroup. Either controller may be missing, in which case
// the launcher falls back to an rlimit for that limit.
type cgroupManager struct {
	v2 bool
	// memoryParent and pidsParent are the directories new cgroups are made
	// in ("" when the controller is unavailable); on v2 they are equal.
	memoryParent, pidsParent string
	prefix                   string

	mu   sync.Mutex
	idle []*runCgroup
}

// runCgroup is the cgroup (one directory per v1 hierarchy, one on v2) that
// holds one sandbox.
type runCgroup struct {
	m          *cgroupManager
	memoryDir  string
	pidsDir    string
	memorySet  int64 // last value written, -1 when unknown
	pidsSet    int64
	memswLimit bool
}

// cgroupMount is one line of /proc/self/mountinfo for a cgroup file system.
type cgroupMount struct {
	root, point string
	v2          bool
	controllers []string
}

// newCgroupManager finds writable memory and pids controllers for the
// broker's cgroup. It returns nil and the reason when there are none.
func newCgroupManager() (*cgroupManager, string) {
	mounts, err := readCgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err.Error()
	}
	own, err := readOwnCgroups("/proc/self/cgroup")
	if err != nil {
		return nil, err.Error()
	}
	m := &cgroupManager{prefix: fmt.Sprintf("clawbroker-%d-", os.Getpid())}

	// A cgroup v2 hierarchy that offers both controllers to our cgroup is
	// the real one; use it alone.
	for _, mt := range mounts {
		if !mt.v2 {
			continue
		}
		dir, ok := cgroupDir(mt, own[""])
		if !ok {
			continue
		}
		avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(avail))
		if !slices.Contains(fields, "memory") || !slices.Contains(fields, "pids") {
			continue
		}
		// Children only get controllers their parent delegates; this
		// fails while our own cgroup has processes and is not the root,
		// and then v2 cannot be used here.
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +pids"), 0); err != nil {
			continue
		}
		if probeCgroupDir(dir, m.prefix) != nil {
			continue
		}
		m.v2 = true
		m.memoryParent, m.pidsParent = dir, dir
		m.reapStale()
		return m, ""
	}

	var reasons []string
	for _, ctrl := range []string{"memory", "pids"} {
		dir := ""
		for _, mt := range mounts {
			if mt.v2 || !slices.Contains(mt.controllers, ctrl) {
				continue
			}
			if d, ok := cgroupDir(mt, own[ctrl]); ok {
				dir = d
				break
			}
		}
		if dir == "" {
			reasons = append(reasons, "no cgroup v1 "+ctrl+" hierarchy")
			continue
		}
		if err := probeCgroupDir(dir, m.prefix); err != nil {
			reasons = append(reasons, fmt.Sprintf("cgroup %s not writable: %v", dir, err))
			continue
		}
		if ctrl == "memory" {
			m.memoryParent = dir
		} else {
			m.pidsParent = dir
		}
	}
	if m.memoryParent == "" && m.pidsParent == "" {
		return nil, strings.Join(reasons, "; ")
	}
	m.reapStale()
	return m, ""
}

// readCgroupMounts lists the cgroup file systems in a mountinfo file.
func readCgroupMounts(path string) ([]cgroupMount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			out = append(out, cgroupMount{root: unescapeMountinfo(pf[3]), point: unescapeMountinfo(pf[4]), v2: true})
		case "cgroup":
			out = append(out, cgroupMount{root: unescapeMountinfo(pf[3]), point: unescapeMountinfo(pf[4]), controllers: strings.Split(qf[2], ",")})
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes mountinfo uses for spaces,
// tabs, newlines and backslashes.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readOwnCgroups maps each v1 controller (and "" for v2) to this process's
// cgroup path.
func readOwnCgroups(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// cgroupDir is where the cgroup at path (as /proc/self/cgroup names it)
// appears under mount mt.
func cgroupDir(mt cgroupMount, path string) (string, bool) {
	if path == "" {
		return "", false
	}
	rel, err := filepath.Rel(mt.root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	dir := filepath.Join(mt.point, rel)
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return "", false
	}
	return dir, true
}

// probeCgroupDir proves that child cgroups can be made in dir.
func probeCgroupDir(dir, prefix string) error {
	probe := filepath.Join(dir, prefix+"probe")
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Remove(probe)
}

// reapStale removes cgroups left by brokers that died, killing anything
// still inside them.
func (m *cgroupManager) reapStale() {
	for _, parent := range m.parents() {
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), "clawbroker-")
			if !ok || !e.IsDir() {
				continue
			}
			pidText, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			_ = sweepCgroup(dir, m.v2)
			_ = os.Remove(dir)
		}
	}
}

func (m *cgroupManager) parents() []string {
	if m.v2 {
		return []string{m.memoryParent}
	}
	var out []string
	for _, p := range []string{m.memoryParent, m.pidsParent} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// get returns an empty cgroup, reused from the pool or newly made. A
// pooled cgroup is reused only once the tasks it held are fully released.
func (m *cgroupManager) get() (*runCgroup, error) {
	m.mu.Lock()
	for i, cg := range m.idle {
		if cg.pidsDir == "" || pidsReleased(cg.pidsDir) {
			m.idle = slices.Delete(m.idle, i, i+1)
			m.mu.Unlock()
			return cg, nil
		}
	}
	m.mu.Unlock()

	name := m.prefix + strconv.FormatUint(cgroupSeq.Add(1), 10)
	cg := &runCgroup{m: m, memorySet: -1, pidsSet: -1}
	if m.memoryParent != "" {
		cg.memoryDir = filepath.Join(m.memoryParent, name)
	}
	if m.pidsParent != "" {
		cg.pidsDir = filepath.Join(m.pidsParent, name)
	}
	for _, d := range cg.dirs() {
		if err := os.Mkdir(d, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("sandbox: create cgroup: %w", err)
		}
	}
	if !m.v2 && cg.memoryDir != "" {
		_, err := os.Stat(filepath.Join(cg.memoryDir, "memory.memsw.limit_in_bytes"))
		cg.memswLimit = err == nil
	}
	return cg, nil
}

// dirs are the distinct directories of the cgroup.
func (cg *runCgroup) dirs() []string {
	var out []string
	if cg.memoryDir != "" {
		out = append(out, cg.memoryDir)
	}
	if cg.pidsDir != "" && cg.pidsDir != cg.memoryDir {
		out = append(out, cg.pidsDir)
	}
	return out
}

// setLimits writes the memory and process limits (0 = none) and returns
// what now enforces them.
func (cg *runCgroup) setLimits(memory int64, procs int) ([]Enforcement, error) {
	var enforced []Enforcement
	if cg.memoryDir != "" {
		if memory != cg.memorySet {
			if err := cg.writeMemory(memory); err != nil {
				cg.memorySet = -1
				return nil, err
			}
			cg.memorySet = memory
		}
		if memory > 0 {
			by := "cgroup v1 memory.limit_in_bytes"
			if cg.m.v2 {
				by = "cgroup v2 memory.max"
			}
			enforced = append(enforced, Enforcement{Limit: "memory", By: by})
		}
	}
	if cg.pidsDir != "" {
		want := int64(procs)
		if want != cg.pidsSet {
			value := "max"
			if procs > 0 {
				value = strconv.Itoa(procs)
			}
			if err := writeCgroupFile(cg.pidsDir, "pids.max", value); err != nil {
				cg.pidsSet = -1
				return nil, err
			}
			cg.pidsSet = want
		}
		if procs > 0 {
			by := "cgroup v1 pids.max"
			if cg.m.v2 {
				by = "cgroup v2 pids.max"
			}
			enforced = append(enforced, Enforcement{Limit: "processes", By: by})
		}
	}
	return enforced, nil
}

func (cg *runCgroup) writeMemory(memory int64) error {
	if cg.m.v2 {
		value := "max"
		if memory > 0 {
			value = strconv.FormatInt(memory, 10)
		}
		if err := writeCgroupFile(cg.memoryDir, "memory.max", value); err != nil {
			return err
		}
		// Swap would let the sandbox grow past memory.max.
		if _, err := os.Stat(filepath.Join(cg.memoryDir, "memory.swap.max")); err == nil {
			swap := "max"
			if memory > 0 {
				swap = "0"
			}
			return writeCgroupFile(cg.memoryDir, "memory.swap.max", swap)
		}
		return nil
	}
	value := "-1"
	if memory > 0 {
		value = strconv.FormatInt(memory, 10)
	}
	// memsw (memory+swap) must stay >= the memory limit: lift it first,
	// set the memory limit, then pin memsw to it so swap adds nothing.
	if cg.memswLimit {
		if err := writeCgroupFile(cg.memoryDir, "memory.memsw.limit_in_bytes", "-1"); err != nil {
			return err
		}
	}
	if err := writeCgroupFile(cg.memoryDir, "memory.limit_in_bytes", value); err != nil {
		return err
	}
	if cg.memswLimit && memory > 0 {
		return writeCgroupFile(cg.memoryDir, "memory.memsw.limit_in_bytes", value)
	}
	return nil
}

// add moves the processes into every directory of the cgroup.
func (cg *runCgroup) add(pids ...int) error {
	for _, d := range cg.dirs() {
		for _, pid := range pids {
			if err := writeCgroupFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// holds reports whether pid is listed in every directory of the cgroup.
// Reading cgroup.procs is far cheaper than writing it: a write takes the
// kernel's cgroup threadgroup lock for writing, which can wait for an RCU
// grace period (0.4 ms median, several ms at p90 on a loaded host).
func (cg *runCgroup) holds(pid int) bool {
	want := []byte(strconv.Itoa(pid))
	for _, d := range cg.dirs() {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil || !slices.ContainsFunc(bytes.Fields(data), func(f []byte) bool { return bytes.Equal(f, want) }) {
			return false
		}
	}
	return true
}

// release kills whatever is left in the cgroup and returns it to the pool,
// or removes it when the pool is full or the cgroup would not empty.
func (cg *runCgroup) release() {
	clean := true
	for _, d := range cg.dirs() {
		if sweepCgroup(d, cg.m.v2) != nil {
			clean = false
		}
	}
	if clean {
		cg.m.mu.Lock()
		if len(cg.m.idle) < cgroupPoolSize {
			cg.m.idle = append(cg.m.idle, cg)
			cg.m.mu.Unlock()
			return
		}
		cg.m.mu.Unlock()
	}
	cg.remove()
}

// remove deletes the cgroup's directories.
func (cg *runCgroup) remove() {
	for _, d := range cg.dirs() {
		_ = os.Remove(d)
	}
}

// close removes every pooled cgroup.
func (m *cgroupManager) close() {
	m.mu.Lock()
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, cg := range idle {
		cg.remove()
	}
}

// sweepCgroup SIGKILLs every process in dir until it is empty. On v2 it
// uses cgroup.kill where the kernel has it.
func sweepCgroup(dir string, v2 bool) error {
	deadline := time.Now().Add(cgroupSweepTimeout)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return err
		}
		data = bytes.TrimSpace(data)
		if len(data) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sandbox: cgroup %s still has processes after %v", dir, cgroupSweepTimeout)
		}
		if !v2 || writeCgroupFile(dir, "cgroup.kill", "1") != nil {
			for field := range bytes.FieldsSeq(data) {
				if pid, err := strconv.Atoi(string(field)); err == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// pidsReleased reports whether a pids cgroup no longer counts any task.
// An exited task leaves cgroup.procs at once but stays charged until the
// kernel releases it, which can take a while; a pooled cgroup must not
// hand that charge to the next run.
func pidsReleased(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "pids.current"))
	if err != nil {
		return true
	}
	return string(bytes.TrimSpace(data)) == "0"
}

// writeCgroupFile writes one control file without creating it.
func writeCgroupFile(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("sandbox: write %s to %s: %w", value, f.Name(), werr)
	}
	return cerr
}
