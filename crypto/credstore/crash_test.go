package credstore

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func helperCmd(t *testing.T, mode, path string, extraEnv ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPathEnv+"="+path)
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

// TestCrashConsistency kills a writer with SIGKILL at random points, 200
// times. After every kill the store must open and hold either the last
// value the writer reported as written or the one it was writing.
func TestCrashConsistency(t *testing.T) {
	t.Parallel() // mostly waiting on child processes
	s, path := newTestStore(t)
	if err := s.Set("stable", []byte("untouched")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("counter", []byte(counterValue(0))); err != nil {
		t.Fatal(err)
	}
	s.Close()

	const rounds = 200
	acked, writes := 0, 0
	for round := range rounds {
		cmd := helperCmd(t, "writeloop", path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		if !lines.Scan() || lines.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: helper did not start: %s", round, stderr.String())
		}
		done := make(chan int)
		go func() {
			last := acked
			for lines.Scan() {
				if n, err := strconv.Atoi(lines.Text()); err == nil {
					last = n
				}
			}
			done <- last
		}()
		time.Sleep(time.Duration(rand.IntN(8000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		last := <-done
		writes += last - acked

		r, err := openWith(path, testIdentity(), testOptions())
		if err != nil {
			t.Fatalf("round %d: store does not open after SIGKILL: %v (helper stderr: %s)", round, err, stderr.String())
		}
		sec, err := r.Get("counter")
		if err != nil {
			t.Fatalf("round %d: Get(counter): %v", round, err)
		}
		got, err := parseCounter(string(sec.Bytes()))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if string(sec.Bytes()) != counterValue(got) || (got != last && got != last+1) {
			t.Fatalf("round %d: got counter %d, want %d (last reported) or %d (in flight)", round, got, last, last+1)
		}
		stable, err := r.Get("stable")
		if err != nil || string(stable.Bytes()) != "untouched" {
			t.Fatalf("round %d: Get(stable): got %q, %v; want %q", round, stable.Bytes(), err, "untouched")
		}
		r.Close()
		acked = got
	}
	t.Logf("%d kills, %d completed writes", rounds, writes)
	if writes == 0 {
		t.Fatal("no write completed in any round; the kills did not land during writes")
	}
	// The next writer clears the temp files the killed ones left.
	s2, err := openWith(path, testIdentity(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Set("counter", []byte(counterValue(acked+1))); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(path + tempSuffix + "*"); len(m) != 0 {
		t.Errorf("temporary files left after a write: %v", m)
	}
}

// TestConcurrentWriters runs writers in goroutines (sharing a Store and
// each with its own) and in two other processes at once; no entry may be
// lost.
func TestConcurrentWriters(t *testing.T) {
	shared, path := newTestStore(t)
	const perWriter = 15
	var wg sync.WaitGroup
	errs := make(chan error, 16)

	procs := []*exec.Cmd{}
	for _, name := range []string{"proc-a", "proc-b"} {
		cmd := helperCmd(t, "writer", path, helperNameEnv+"="+name, helperNEnv+"="+strconv.Itoa(perWriter))
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("%s: %v: %s", name, err, stderr.String())
			}
		})
	}
	for g := range 4 {
		wg.Go(func() {
			s := shared
			if g%2 == 1 { // half the goroutines unlock their own Store
				var err error
				if s, err = openWith(path, testIdentity(), testOptions()); err != nil {
					errs <- err
					return
				}
				defer s.Close()
			}
			for j := range perWriter {
				if err := s.Set(fmt.Sprintf("goroutine-%d-%d", g, j), []byte("v")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := shared.List()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range list {
		have[e.Provider] = true
	}
	var want []string
	for _, name := range []string{"proc-a", "proc-b", "goroutine-0", "goroutine-1", "goroutine-2", "goroutine-3"} {
		for j := range perWriter {
			want = append(want, fmt.Sprintf("%s-%d", name, j))
		}
	}
	for _, p := range want {
		if !have[p] {
			t.Errorf("entry %s was lost", p)
		}
	}
	if got := len(list); got != len(want) {
		t.Errorf("got %d entries, want %d", got, len(want))
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
