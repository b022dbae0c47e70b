package sandbox

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// readChunk is how much of a stream is read at a time; with the kept
// bytes it bounds the memory a stream can cost the broker.
const readChunk = 32 << 10

// streamGrace is how long the streams may stay open after the sandbox has
// been killed before the broker closes its ends. Killing the sandbox
// closes them at once; the grace only matters if something escaped the
// kill, and then the run must still end.
const streamGrace = 2 * time.Second

// capturedStream is what was kept of one output stream.
type capturedStream struct {
	data      []byte
	truncated bool
}

// captureStream reads r to the end, keeping the first limit bytes and
// discarding the rest, so a flood costs at most limit plus one chunk.
func captureStream(r io.Reader, limit int64) capturedStream {
	var c capturedStream
	buf := make([]byte, readChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			keep := int64(n)
			if room := limit - int64(len(c.data)); keep > room {
				keep = room
				c.truncated = true
			}
			if keep > 0 {
				c.data = appendBounded(c.data, buf[:keep], limit)
			}
		}
		if err != nil {
			return c
		}
	}
}

// appendBounded appends p to b, never letting b's capacity exceed limit.
func appendBounded(b, p []byte, limit int64) []byte {
	need := len(b) + len(p)
	if need <= cap(b) {
		return append(b, p...)
	}
	newCap := max(2*cap(b), need, 4096)
	if int64(newCap) > limit {
		newCap = int(limit)
	}
	nb := make([]byte, len(b), newCap)
	copy(nb, b)
	return append(nb, p...)
}

// sandboxProcess is a started sandbox as the shared supervisor sees it.
type sandboxProcess interface {
	// wait blocks until the sandbox's top process exits and returns its
	// exit code (128+signal when a signal killed it).
	wait() (int, error)
	// kill ends every process of the sandbox. It may be called more than
	// once and concurrently with wait.
	kill()
}

// sandboxStreams are the broker's ends of the tool's standard streams.
// stdin is nil when the tool gets no input.
type sandboxStreams struct {
	stdin          io.WriteCloser
	stdout, stderr io.ReadCloser
}

// supervise feeds stdin, captures the output streams, enforces the timeout
// and the context, and waits for p. It kills the sandbox when its top
// process ends, so that nothing the tool left behind survives the run.
// The caller owns p and the streams' other ends; supervise closes the
// streams it is given.
func supervise(ctx context.Context, p sandboxProcess, s sandboxStreams, stdin []byte, limits Limits, started time.Time) (Result, error) {
	limit := outputLimit(limits)
	var streams sync.WaitGroup
	var stdout, stderr capturedStream
	streams.Add(2)
	go func() { defer streams.Done(); stdout = captureStream(s.stdout, limit) }()
	go func() { defer streams.Done(); stderr = captureStream(s.stderr, limit) }()
	if s.stdin != nil {
		go func() {
			// A tool that exits without reading its input is not an error.
			_, _ = s.stdin.Write(stdin)
			_ = s.stdin.Close()
		}()
	}

	type exit struct {
		code int
		err  error
	}
	exited := make(chan exit, 1)
	go func() {
		code, err := p.wait()
		exited <- exit{code, err}
	}()

	var deadline <-chan time.Time
	if limits.Timeout > 0 {
		timer := time.NewTimer(limits.Timeout - time.Since(started))
		defer timer.Stop()
		deadline = timer.C
	}
	var res Result
	var ex exit
	select {
	case ex = <-exited:
	case <-deadline:
		res.TimedOut = true
		p.kill()
		ex = <-exited
	case <-ctx.Done():
		res.TimedOut = true
		p.kill()
		ex = <-exited
	}
	res.Duration = time.Since(started)
	p.kill()

	streamsDone := make(chan struct{})
	go func() { streams.Wait(); close(streamsDone) }()
	select {
	case <-streamsDone:
	case <-time.After(streamGrace):
		_ = s.stdout.Close()
		_ = s.stderr.Close()
		<-streamsDone
	}
	_ = s.stdout.Close()
	_ = s.stderr.Close()
	if s.stdin != nil {
		_ = s.stdin.Close()
	}
	if ex.err != nil {
		return Result{}, ex.err
	}
	res.ExitCode = ex.code
	res.Stdout, res.StdoutTruncated = stdout.data, stdout.truncated
	res.Stderr, res.StderrTruncated = stderr.data, stderr.truncated
	return res, nil
}

// errNotStarted reports a context that ended before the sandbox started.
func errNotStarted(ctx context.Context) error {
	return errors.Join(errors.New("sandbox: not started"), context.Cause(ctx))
}
