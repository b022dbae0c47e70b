package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Head, when set, is a hash recorded earlier (Logger.Head): it must be
	// the hash of some line of the chain, or lines were dropped from the
	// end. The log may have grown since, so it need not be the last line.
	Head string
}

// Report describes a verified chain.
type Report struct {
	// Lines is the number of lines verified.
	Lines int
	// Head is the hash of the last line, or GenesisHash for an empty log.
	Head string
	// HeadLine is the line whose hash is VerifyOptions.Head (0 when no
	// head was given).
	HeadLine int
}

// Verify reads a log written by Logger and checks its hash chain: every
// line is complete, valid JSON whose hash matches its content, seq starts
// at 1 and increases by one, and each prev_hash is the hash of the line
// before. It stops at the first bad line and returns a *ChainError naming
// it and how it is bad (wrapping ErrChainBroken), together with a Report of
// the lines verified before it. An error reading r is returned wrapped,
// not as a *ChainError.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	wantHead := strings.ToLower(opts.Head)
	if wantHead != "" && !isHashHex(wantHead) {
		return Report{}, fmt.Errorf("%w: got %q", ErrInvalidHead, opts.Head)
	}
	rep := Report{Head: GenesisHash}
	// GenesisHash is the head of the empty prefix of every chain.
	headFound := wantHead == "" || wantHead == GenesisHash
	br := bufio.NewReaderSize(r, 64<<10)
	var prevSeq uint64
	for lineNo := 1; ; lineNo++ {
		line, complete, err := readLine(br)
		if err != nil {
			return rep, fmt.Errorf("audit: read log at line %d: %w", lineNo, err)
		}
		if line == nil {
			break
		}
		if !complete {
			if len(line) > MaxLineBytes {
				return rep, &ChainError{Line: lineNo, Kind: ChainTruncated,
					Detail: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)}
			}
			return rep, &ChainError{Line: lineNo, Kind: ChainTruncated,
				Detail: "the log ends without a newline: the last write was cut short"}
		}
		rec, problem := parseLine(line)
		if problem != nil {
			return rep, &ChainError{Line: lineNo, Kind: problem.kind, Detail: problem.detail}
		}
		switch {
		case rec.seq <= prevSeq:
			return rep, &ChainError{Line: lineNo, Kind: ChainReordered,
				Detail: fmt.Sprintf("seq %d follows seq %d", rec.seq, prevSeq)}
		case rec.seq > prevSeq+1:
			// Missing here: removed, unless a missing seq turns up later.
			if at, ok, err := findSeq(br, lineNo, prevSeq+1, rec.seq-1); err != nil {
				return rep, fmt.Errorf("audit: read log: %w", err)
			} else if ok {
				return rep, &ChainError{Line: lineNo, Kind: ChainReordered,
					Detail: fmt.Sprintf("seq %d follows seq %d; seq %d comes later, at line %d", rec.seq, prevSeq, prevSeq+1, at)}
			}
			return rep, &ChainError{Line: lineNo, Kind: ChainRemoved,
				Detail: fmt.Sprintf("seq %d follows seq %d: %d line(s) missing", rec.seq, prevSeq, rec.seq-prevSeq-1)}
		case rec.prev != rep.Head:
			return rep, &ChainError{Line: lineNo, Kind: ChainEdited,
				Detail: fmt.Sprintf("prev_hash %s is not the hash %s of the line before: a line was rewritten with a recomputed hash", rec.prev, rep.Head)}
		}
		prevSeq = rec.seq
		rep.Head = rec.hash
		rep.Lines = lineNo
		if !headFound && rec.hash == wantHead {
			headFound = true
			rep.HeadLine = lineNo
		}
	}
	if !headFound {
		return rep, &ChainError{Line: rep.Lines + 1, Kind: ChainHeadMismatch,
			Detail: fmt.Sprintf("head %s is not the hash of any of the %d lines (last hash %s): lines were dropped from the end", wantHead, rep.Lines, rep.Head)}
	}
	return rep, nil
}

// findSeq reads the rest of the log for a well-formed line whose seq is in
// [lo, hi] and returns its line number. lineNo is the line already read.
func findSeq(br *bufio.Reader, lineNo int, lo, hi uint64) (int, bool, error) {
	for {
		lineNo++
		line, complete, err := readLine(br)
		if err != nil {
			return 0, false, err
		}
		if line == nil {
			return 0, false, nil
		}
		if !complete {
			continue
		}
		if rec, problem := parseLine(line); problem == nil && rec.seq >= lo && rec.seq <= hi {
			return lineNo, true, nil
		}
	}
}

// readLine returns the next line without its newline and whether it had
// one. At the end of input it returns a nil line. A line longer than
// MaxLineBytes is returned incomplete, cut at MaxLineBytes+1 bytes.
func readLine(br *bufio.Reader) ([]byte, bool, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+1 {
			line = append(line, chunk[:MaxLineBytes+1-len(line)]...)
			return line, false, nil
		}
		switch {
		case err == nil:
			if line == nil {
				return chunk[:len(chunk)-1], true, nil
			}
			line = append(line, chunk...)
			return line[:len(line)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
		case errors.Is(err, io.EOF):
			line = append(line, chunk...)
			if len(line) == 0 {
				return nil, false, nil
			}
			return line, false, nil
		default:
			return nil, false, err
		}
	}
}
