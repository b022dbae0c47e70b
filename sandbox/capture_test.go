package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// zeroReader yields n zero bytes, in reads of any size asked for.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

func TestCaptureStream(t *testing.T) {
	tests := []struct {
		name          string
		input         int64
		limit         int64
		wantLen       int
		wantTruncated bool
	}{
		{"empty", 0, 10, 0, false},
		{"under the limit", 5, 10, 5, false},
		{"exactly the limit", 10, 10, 10, false},
		{"one over", 11, 10, 10, true},
		{"flood", 64 << 20, 1 << 10, 1 << 10, true},
		{"flood across chunks", 1 << 20, 100 << 10, 100 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := captureStream(&zeroReader{n: tt.input}, tt.limit)
			if len(got.data) != tt.wantLen || got.truncated != tt.wantTruncated {
				t.Fatalf("got %d bytes truncated=%v, want %d and %v", len(got.data), got.truncated, tt.wantLen, tt.wantTruncated)
			}
			if int64(cap(got.data)) > max(tt.limit, 4096) {
				t.Fatalf("got capacity %d, want at most the limit %d", cap(got.data), tt.limit)
			}
		})
	}
}

func TestCaptureStreamMemoryBounded(t *testing.T) {
	allocs := testing.AllocsPerRun(3, func() {
		captureStream(&zeroReader{n: 32 << 20}, 4<<10)
	})
	if allocs > 4 {
		t.Fatalf("got %v allocations for a 32 MiB stream, want a handful", allocs)
	}
}

// fakeProcess is a sandboxProcess that exits with code when released, or
// with 137 when killed; it writes out to its stdout first.
type fakeProcess struct {
	code    int
	release chan struct{}
	once    sync.Once
	killed  chan struct{}
	stdoutW io.WriteCloser
	stderrW io.WriteCloser
	out     string
	waitErr error
}

func newFakeProcess(code int, out string) (*fakeProcess, sandboxStreams) {
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	p := &fakeProcess{code: code, release: make(chan struct{}), killed: make(chan struct{}), stdoutW: outW, stderrW: errW, out: out}
	return p, sandboxStreams{stdout: outR, stderr: errR}
}

func (p *fakeProcess) wait() (int, error) {
	io.WriteString(p.stdoutW, p.out)
	select {
	case <-p.release:
		p.stdoutW.Close()
		p.stderrW.Close()
		return p.code, p.waitErr
	case <-p.killed:
		p.stdoutW.Close()
		p.stderrW.Close()
		return 137, p.waitErr
	}
}

func (p *fakeProcess) kill() { p.once.Do(func() { close(p.killed) }) }

func TestSuperviseExit(t *testing.T) {
	p, s := newFakeProcess(3, "hello")
	close(p.release)
	res, err := supervise(context.Background(), p, s, nil, Limits{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || string(res.Stdout) != "hello" || res.TimedOut {
		t.Fatalf("got exit %d stdout %q timedOut %v, want 3, hello, false", res.ExitCode, res.Stdout, res.TimedOut)
	}
}

func TestSuperviseTimeoutAndCancel(t *testing.T) {
	tests := []struct {
		name    string
		limits  Limits
		timeout time.Duration // of the context; 0 = none
	}{
		{"timeout", Limits{Timeout: 50 * time.Millisecond}, 0},
		{"context", Limits{}, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			p, s := newFakeProcess(0, "partial")
			res, err := supervise(ctx, p, s, nil, tt.limits, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !res.TimedOut || res.ExitCode != 137 || string(res.Stdout) != "partial" {
				t.Fatalf("got timedOut %v exit %d stdout %q, want true, 137, partial", res.TimedOut, res.ExitCode, res.Stdout)
			}
		})
	}
}

func TestSuperviseStdin(t *testing.T) {
	p, s := newFakeProcess(0, "")
	var got bytes.Buffer
	inR, inW := io.Pipe()
	s.stdin = inW
	done := make(chan struct{})
	go func() { io.Copy(&got, inR); close(done) }()
	go func() { <-done; close(p.release) }()
	if _, err := supervise(context.Background(), p, s, []byte("input"), Limits{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got.String() != "input" {
		t.Fatalf("got stdin %q, want %q", got.String(), "input")
	}
}

func TestSuperviseWaitError(t *testing.T) {
	p, s := newFakeProcess(0, "")
	p.waitErr = errors.New("wait failed")
	close(p.release)
	if _, err := supervise(context.Background(), p, s, nil, Limits{}, time.Now()); err == nil || !strings.Contains(err.Error(), "wait failed") {
		t.Fatalf("got %v, want the wait error", err)
	}
}
