package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Logger writes hash-chained audit events, one JSON line each. It is safe
// for concurrent use. Every method that writes an event returns an error
// when the event could not be written in full; the broker then denies the
// request it was about to allow ("audit or deny").
//
// A line reaches the sink in one Write call (one write(2) for a file), so
// concurrent writers to the same file never interleave within a line. After
// a successful Write the line is in the operating system's page cache and
// survives a crash of the broker; Sync and Close also make it durable
// against a crash of the machine.
type Logger struct {
	mu   sync.Mutex
	w    io.Writer
	file *os.File // nil unless the sink is a file opened by Open
	path string   // the file's name, for Healthy and errors
	own  bool     // Close closes file

	zl      zerolog.Logger
	capture captureWriter
	line    []byte

	seq  uint64
	prev [hashHexLen]byte
	end  int64 // a file sink's size after our last write; -1 unknown

	lastErr error // the last write error, cleared by a successful write
	broken  error // set after a partial write; every later write fails
	closed  bool

	now func() time.Time
}

// captureWriter receives the line zerolog builds, so the Logger can append
// the hash before anything reaches the sink.
type captureWriter struct{ buf []byte }

func (c *captureWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf[:0], p...)
	return len(p), nil
}

// New returns a Logger that writes a fresh chain, starting at seq 1, to w.
func New(w io.Writer) *Logger {
	l := &Logger{w: w, now: time.Now}
	copy(l.prev[:], GenesisHash)
	l.zl = zerolog.New(&l.capture)
	return l
}

// Open returns a Logger for output, which is "stderr", "stdout" or a file
// path. A missing file is created with mode 0600 (its directory with mode
// 0700) and starts a fresh chain. An existing file is appended to and its
// chain continued from its last line, whose seq and hash are checked first;
// when the file does not end with a complete, well-formed event Open
// returns a *TailError wrapping ErrUncleanLog and writes nothing, because
// appending after a cut-short line would hide where the damage is.
func Open(output string) (*Logger, error) {
	switch output {
	case "stderr":
		return New(os.Stderr), nil
	case "stdout":
		return New(os.Stdout), nil
	case "":
		return nil, errors.New(`audit: empty output: want "stderr", "stdout" or a file path`)
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o700); err != nil {
		return nil, fmt.Errorf("audit: create log directory: %w", err)
	}
	f, err := os.OpenFile(output, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open log: %w", err)
	}
	rec, err := readTail(f, output)
	if err != nil {
		f.Close()
		return nil, err
	}
	l := New(f)
	l.file, l.path, l.own, l.end = f, output, true, -1
	if rec != nil {
		l.seq = rec.seq
		copy(l.prev[:], rec.hash)
	}
	return l, nil
}

// readTail returns the chain fields of the last line of f, or nil for an
// empty file.
func readTail(f *os.File, name string) (*record, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: stat log: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return nil, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return nil, fmt.Errorf("audit: read log %s: %w", name, err)
	}
	if last[0] != '\n' {
		n, err := countLines(f, size)
		if err != nil {
			return nil, err
		}
		return nil, &TailError{Path: name, Line: n + 1, Incomplete: true}
	}
	// Find the newline before the final one, reading backwards.
	end := size - 1
	start := end
	chunk := make([]byte, 64<<10)
	for start > 0 && end-start <= MaxLineBytes {
		n := min(int64(len(chunk)), start)
		buf := chunk[:n]
		if _, err := f.ReadAt(buf, start-n); err != nil {
			return nil, fmt.Errorf("audit: read log %s: %w", name, err)
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			start = start - n + int64(i) + 1
			break
		}
		start -= n
	}
	if end-start > MaxLineBytes {
		n, err := countLines(f, size)
		if err != nil {
			return nil, err
		}
		return nil, &TailError{Path: name, Line: n, Detail: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
	}
	line := make([]byte, end-start)
	if _, err := f.ReadAt(line, start); err != nil {
		return nil, fmt.Errorf("audit: read log %s: %w", name, err)
	}
	rec, problem := parseLine(line)
	if problem != nil {
		n, err := countLines(f, size)
		if err != nil {
			return nil, err
		}
		return nil, &TailError{Path: name, Line: n, Detail: problem.detail}
	}
	return &rec, nil
}

// countLines counts the newlines in the first size bytes of f. It runs
// only on Open's error path, to name the bad line.
func countLines(f *os.File, size int64) (int, error) {
	n := 0
	buf := make([]byte, 256<<10)
	for off := int64(0); off < size; {
		m, err := f.ReadAt(buf, off)
		n += bytes.Count(buf[:m], []byte{'\n'})
		off += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("audit: read log: %w", err)
		}
	}
	return n, nil
}

// Head returns the seq and hash of the last line written (0 and
// GenesisHash before the first). Recording it elsewhere lets a later
// Verify with VerifyOptions.Head prove that no line up to it was dropped.
func (l *Logger) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, string(l.prev[:])
}

// Healthy returns nil when the sink took the last event and still looks
// writable: it returns ErrClosed after Close, the error of the last failed
// write until a write succeeds again, an error wrapping ErrBroken after a
// partial write, and for a file, an error when the path no longer names the
// file being written (deleted, or moved aside and replaced).
func (l *Logger) Healthy() error {
	l.mu.Lock()
	closed, broken, lastErr, file, path := l.closed, l.broken, l.lastErr, l.file, l.path
	l.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case broken != nil:
		return broken
	case lastErr != nil:
		return lastErr
	case file == nil:
		return nil
	}
	open, err := file.Stat()
	if err != nil {
		return fmt.Errorf("audit: stat open log: %w", err)
	}
	named, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("audit: log %s: %w", path, err)
	}
	if !os.SameFile(open, named) {
		return fmt.Errorf("audit: log %s was moved or replaced; events go to the old file", path)
	}
	return nil
}

// Sync commits a file sink to stable storage. For other sinks it does
// nothing.
func (l *Logger) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.file == nil {
		return nil
	}
	if err := l.file.Sync(); err != nil {
		return fmt.Errorf("audit: sync log: %w", err)
	}
	return nil
}

// Close syncs and closes a file opened by Open. Standard error and standard
// output, and writers given to New, are left open. Later calls return
// ErrClosed.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	if !l.own {
		return nil
	}
	errSync := l.file.Sync()
	errClose := l.file.Close()
	if errSync != nil {
		return fmt.Errorf("audit: sync log: %w", errSync)
	}
	if errClose != nil {
		return fmt.Errorf("audit: close log: %w", errClose)
	}
	return nil
}

// emit writes one event. fill adds the event's own fields after the chain
// header; it runs under the Logger's lock, so it must only add fields.
func (l *Logger) emit(event string, fill func(e *zerolog.Event)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.broken != nil {
		return l.broken
	}
	if l.file != nil {
		// Another process (the CLI next to a running broker) may append to
		// the same file: hold the file lock for the whole append and pick
		// the chain up from the file's real last line if it moved.
		unlock, err := lockFile(l.file)
		if err != nil {
			l.lastErr = fmt.Errorf("audit: lock log: %w", err)
			return l.lastErr
		}
		defer unlock()
		if err := l.resync(); err != nil {
			l.lastErr = err
			return err
		}
	}
	seq := l.seq + 1
	var ts [len(time.RFC3339Nano) + 8]byte
	e := l.zl.Log()
	if e == nil {
		return ErrDisabled
	}
	l.capture.buf = l.capture.buf[:0]
	e.Str("event", event).
		Bytes("timestamp", l.now().UTC().AppendFormat(ts[:0], time.RFC3339Nano)).
		Uint64("seq", seq).
		Bytes("prev_hash", l.prev[:])
	fill(e)
	e.Send()

	// zerolog wrote `{…}\n`; the body the hash covers is `{…}`.
	c := l.capture.buf
	if len(c) < 3 || c[len(c)-2] != '}' || c[len(c)-1] != '\n' {
		return fmt.Errorf("audit: zerolog produced an unexpected line %q", c)
	}
	var hash [hashHexLen]byte
	chainHash(hash[:], l.prev[:], c[:len(c)-1])
	line := append(l.line[:0], c[:len(c)-2]...)
	line = append(line, hashKeyOpen...)
	line = append(line, hash[:]...)
	line = append(line, hashKeyClose...)
	line = append(line, '\n')
	l.line = line

	n, err := l.w.Write(line)
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		err = fmt.Errorf("audit: write %s event: %w", event, err)
		if n > 0 {
			l.broken = fmt.Errorf("%w (%d of %d bytes of seq %d written): %w", ErrBroken, n, len(line), seq, err)
			return l.broken
		}
		l.lastErr = err
		return err
	}
	l.lastErr = nil
	l.seq = seq
	l.prev = hash
	if l.file != nil && l.end >= 0 {
		l.end += int64(len(line))
	}
	return nil
}

// resync reloads seq and prev from the file's last line when the file is
// not where our last write left it. Called with the file lock held.
func (l *Logger) resync() error {
	st, err := l.file.Stat()
	if err != nil {
		return fmt.Errorf("audit: stat log: %w", err)
	}
	if st.Size() == l.end {
		return nil
	}
	rec, err := readTail(l.file, l.path)
	if err != nil {
		return err
	}
	if rec == nil {
		l.seq = 0
		copy(l.prev[:], GenesisHash)
	} else {
		l.seq = rec.seq
		copy(l.prev[:], rec.hash)
	}
	l.end = st.Size()
	return nil
}
