package sandbox

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkLaunchOverhead measures, interleaved in one run, /bin/true
// through the Launcher, through BwrapCommand (bare bwrap with the same
// arguments and seccomp program, without the launcher's info/block
// handshake and limits), and bare. It reports the medians and the
// Launcher/bare-bwrap ratio.
func BenchmarkLaunchOverhead(b *testing.B) {
	l := newTestLauncher(b).(*bwrapLauncher)
	ws := b.TempDir()
	spec := Spec{
		Command:        "/bin/true",
		Env:            []string{"PATH=/usr/bin:/bin"},
		ReadWritePaths: []string{ws},
		Limits:         Limits{Timeout: 10 * time.Second, MemoryBytes: 512 << 20, MaxProcesses: 64},
	}

	runLauncher := func() {
		res, err := l.Launch(context.Background(), spec)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("launcher: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
		}
	}
	// The command is built before the clock starts, so the bare side is
	// bubblewrap alone.
	bareCmd := func() *exec.Cmd {
		cmd, err := BwrapCommand(context.Background(), l.bwrap, spec)
		if err != nil {
			b.Fatal(err)
		}
		return cmd
	}
	runBwrap := func(cmd *exec.Cmd) func() {
		return func() {
			out, err := cmd.CombinedOutput()
			cmd.ExtraFiles[0].Close()
			if err != nil {
				b.Fatalf("bare bwrap: %v: %s", err, out)
			}
		}
	}
	runTrue := func() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up caches and the cgroup pool.
	for range 3 {
		runLauncher()
		runBwrap(bareCmd())()
	}

	var launcherT, bwrapT, trueT []time.Duration
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bare := runBwrap(bareCmd())
		// Alternate the order so neither side always runs first.
		if i%2 == 0 {
			launcherT = append(launcherT, timeIt(runLauncher))
			bwrapT = append(bwrapT, timeIt(bare))
		} else {
			bwrapT = append(bwrapT, timeIt(bare))
			launcherT = append(launcherT, timeIt(runLauncher))
		}
		trueT = append(trueT, timeIt(runTrue))
	}
	b.StopTimer()
	ml, mb, mt := median(launcherT), median(bwrapT), median(trueT)
	b.ReportMetric(float64(ml.Nanoseconds()), "launcher-ns/op")
	b.ReportMetric(float64(mb.Nanoseconds()), "bwrap-ns/op")
	b.ReportMetric(float64(mt.Nanoseconds()), "true-ns/op")
	b.ReportMetric(float64(ml)/float64(mb), "launcher/bwrap")
	b.Logf("n=%d median launcher %v, bare bwrap %v, bare /bin/true %v; launcher/bwrap = %.3f", len(launcherT), ml, mb, mt, float64(ml)/float64(mb))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
