package sandbox

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkLaunchOverhead measures, interleaved in one run, /bin/true
// through the Launcher, through bare bwrap with the same arguments and the
// same seccomp program (without the launcher's info/block handshake), and
// bare. It reports the medians and the Launcher/bare-bwrap ratio.
func BenchmarkLaunchOverhead(b *testing.B) {
	l := newTestLauncher(b).(*bwrapLauncher)
	ws := b.TempDir()
	spec := Spec{
		Command:        "/bin/true",
		Env:            []string{"PATH=/usr/bin:/bin"},
		ReadWritePaths: []string{ws},
		Limits:         Limits{Timeout: 10 * time.Second, MemoryBytes: 512 << 20, MaxProcesses: 64},
	}
	rs, err := resolveSpec(spec, osResolver, l.layout.Dirs)
	if err != nil {
		b.Fatal(err)
	}
	// The same argv without --info-fd/--block-fd, which need the launcher.
	bare := dropFlagArgs(bwrapArgs(rs, l.layout, linuxFDs), "--info-fd", "--block-fd")
	filter, err := seccompProgram(binary.NativeEndian)
	if err != nil {
		b.Fatal(err)
	}

	runLauncher := func() {
		res, err := l.Launch(context.Background(), spec)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("launcher: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
		}
	}
	runBwrap := func() {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		w.Write(filter)
		w.Close()
		cmd := exec.Command(l.bwrap, bare...)
		cmd.Env = []string{}
		cmd.ExtraFiles = []*os.File{r}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("bare bwrap: %v: %s", err, out)
		}
		r.Close()
	}
	runTrue := func() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up caches and the cgroup pool.
	for range 3 {
		runLauncher()
		runBwrap()
	}

	var launcherT, bwrapT, trueT []time.Duration
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate the order so neither side always runs first.
		if i%2 == 0 {
			launcherT = append(launcherT, timeIt(runLauncher))
			bwrapT = append(bwrapT, timeIt(runBwrap))
		} else {
			bwrapT = append(bwrapT, timeIt(runBwrap))
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

// dropFlagArgs removes each flag in flags together with its value.
func dropFlagArgs(args []string, flags ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if slices.Contains(flags, args[i]) && args[i] != "--" {
			i++
			continue
		}
		if args[i] == "--" {
			return append(out, args[i:]...)
		}
		out = append(out, args[i])
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
