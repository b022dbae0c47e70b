package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/chain.jsonl")

// realChain writes five events through Open into a temp file and returns
// the file's lines (each with its newline) and the logger's head.
func realChain(t *testing.T) ([][]byte, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, agent := range []string{"a1", "a2", "a3", "a4", "a5"} {
		if err := l.Decision(DecisionEvent{ID: "d" + agent, Input: sampleInput(), Allow: i%2 == 0, Agent: agent}); err != nil {
			t.Fatal(err)
		}
	}
	_, head := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	return lines[:len(lines)-1], head
}

func join(lines [][]byte) []byte { return bytes.Join(lines, nil) }

// rehash recomputes the hash of a line, as an attacker who knows the
// construction would after editing it.
func rehash(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	body := append(append([]byte{}, line[:len(line)-hashSuffixLen]...), '}')
	i := bytes.Index(line, []byte(`"prev_hash":"`)) + len(`"prev_hash":"`)
	var h [hashHexLen]byte
	chainHash(h[:], line[i:i+hashHexLen], body)
	out := append([]byte{}, line[:len(line)-hashSuffixLen]...)
	out = append(out, hashKeyOpen...)
	out = append(out, h[:]...)
	return append(append(out, hashKeyClose...), '\n')
}

func TestVerifyFindsTampering(t *testing.T) {
	lines, head := realChain(t)
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5", len(lines))
	}
	copyLines := func() [][]byte {
		out := make([][]byte, len(lines))
		for i, l := range lines {
			out[i] = append([]byte{}, l...)
		}
		return out
	}
	tests := []struct {
		name     string
		tamper   func() []byte
		head     string
		wantLine int
		wantKind ChainErrorKind
	}{
		{"edit a field", func() []byte {
			ls := copyLines()
			ls[2] = bytes.Replace(ls[2], []byte(`"allow":true`), []byte(`"allow":false`), 1)
			return join(ls)
		}, "", 3, ChainEdited},
		{"edit a field and recompute its hash", func() []byte {
			ls := copyLines()
			ls[2] = rehash(bytes.Replace(ls[2], []byte(`"agent":"a3"`), []byte(`"agent":"zz"`), 1))
			return join(ls)
		}, "", 4, ChainEdited},
		{"delete a line", func() []byte {
			ls := copyLines()
			return join(append(ls[:2], ls[3:]...))
		}, "", 3, ChainRemoved},
		{"delete the first line", func() []byte { return join(copyLines()[1:]) }, "", 1, ChainRemoved},
		{"swap two lines", func() []byte {
			ls := copyLines()
			ls[1], ls[2] = ls[2], ls[1]
			return join(ls)
		}, "", 2, ChainReordered},
		{"move a line to the end", func() []byte {
			ls := copyLines()
			return join(append(append([][]byte{ls[0]}, ls[2:]...), ls[1]))
		}, "", 2, ChainReordered},
		{"duplicate a line", func() []byte {
			ls := copyLines()
			return join(append(ls[:3], append([][]byte{ls[2]}, ls[3:]...)...))
		}, "", 4, ChainReordered},
		{"cut the last line short", func() []byte {
			b := join(copyLines())
			return b[:len(b)-30]
		}, "", 5, ChainTruncated},
		{"drop the final newline", func() []byte {
			b := join(copyLines())
			return b[:len(b)-1]
		}, "", 5, ChainTruncated},
		{"garbage line in the middle", func() []byte {
			ls := copyLines()
			ls[1] = []byte("{\"event\":\"policy_dec\n")
			return join(ls)
		}, "", 2, ChainTruncated},
		{"foreign JSON line", func() []byte {
			ls := copyLines()
			ls[1] = []byte("{\"level\":\"info\",\"message\":\"hello\"}\n")
			return join(ls)
		}, "", 2, ChainEdited},
		{"drop the last line, head given", func() []byte {
			return join(copyLines()[:4])
		}, head, 5, ChainHeadMismatch},
		{"drop every line, head given", func() []byte { return nil }, head, 1, ChainHeadMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(tt.tamper()), VerifyOptions{Head: tt.head})
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("got error %v, want a *ChainError wrapping ErrChainBroken", err)
			}
			if ce.Line != tt.wantLine || ce.Kind != tt.wantKind {
				t.Errorf("got line %d kind %s (%s), want line %d kind %s", ce.Line, ce.Kind, ce.Detail, tt.wantLine, tt.wantKind)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	lines, head := realChain(t)
	secondHash := string(lines[1][len(lines[1])-1-len(hashKeyClose)-hashHexLen : len(lines[1])-1-len(hashKeyClose)])
	tests := []struct {
		name         string
		data         []byte
		head         string
		wantLines    int
		wantHead     string
		wantHeadLine int
	}{
		{"whole chain", join(lines), "", 5, head, 0},
		{"whole chain with its head", join(lines), head, 5, head, 5},
		{"head in upper case", join(lines), strings.ToUpper(head), 5, head, 5},
		{"chain grown past the recorded head", join(lines), secondHash, 5, head, 2},
		{"empty log", nil, "", 0, GenesisHash, 0},
		{"empty log with the genesis head", nil, GenesisHash, 0, GenesisHash, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tt.data), VerifyOptions{Head: tt.head})
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if rep.Lines != tt.wantLines || rep.Head != tt.wantHead || rep.HeadLine != tt.wantHeadLine {
				t.Errorf("got %+v, want Lines %d Head %s HeadLine %d", rep, tt.wantLines, tt.wantHead, tt.wantHeadLine)
			}
		})
	}
}

func TestVerifyRejectsBadHead(t *testing.T) {
	for _, head := range []string{"abc", strings.Repeat("g", 64), strings.Repeat("0", 63)} {
		if _, err := Verify(bytes.NewReader(nil), VerifyOptions{Head: head}); !errors.Is(err, ErrInvalidHead) {
			t.Errorf("head %q: got %v, want ErrInvalidHead", head, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("I/O error") }

func TestVerifyReadError(t *testing.T) {
	_, err := Verify(failingReader{}, VerifyOptions{})
	var ce *ChainError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("got %v, want a plain read error", err)
	}
}

func TestVerifyOverlongLine(t *testing.T) {
	data := bytes.Repeat([]byte("a"), MaxLineBytes+10)
	_, err := Verify(bytes.NewReader(data), VerifyOptions{})
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 1 || ce.Kind != ChainTruncated {
		t.Errorf("got %v, want line 1 truncated", err)
	}
}

// goldenChain writes the events of writeAll with a fixed clock.
func goldenChain(t *testing.T) []byte {
	var buf bytes.Buffer
	l := New(&buf)
	l.now = fixedClock()
	writeAll(t, l)
	return buf.Bytes()
}

// TestGoldenChain pins the line format and hash construction: a change to
// either breaks every log already written, so it must be deliberate
// (go test -run TestGoldenChain -update).
func TestGoldenChain(t *testing.T) {
	path := filepath.Join("testdata", "chain.jsonl")
	got := goldenChain(t)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenChain -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got lines\n%s\nwant\n%s", got, want)
	}
	rep, err := Verify(bytes.NewReader(want), VerifyOptions{})
	if err != nil || rep.Lines != 7 {
		t.Errorf("Verify(golden): got %d lines, %v; want 7, nil", rep.Lines, err)
	}
}

// TestHashConstruction recomputes the first golden line's hash by hand, as
// an independent verifier would.
func TestHashConstruction(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "chain.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	i := bytes.LastIndex(line, []byte(`,"hash":"`))
	body := string(line[:i]) + "}"
	want := string(line[i+len(`,"hash":"`) : len(line)-2])
	sum := sha256Sum(GenesisHash + body)
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("got SHA-256(prev_hash + body) %s, want the line's hash %s", got, want)
	}
}

func FuzzVerify(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/*.jsonl")
	}
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		lines := bytes.SplitAfter(data, []byte("\n"))
		f.Add(data[:len(data)-7])
		f.Add(bytes.Join(append(lines[:1:1], lines[2:]...), nil))
		f.Add(bytes.Join(append([][]byte{lines[1], lines[0]}, lines[2:]...), nil))
		f.Add(bytes.Replace(data, []byte(`"allow":true`), []byte(`"allow":false`), 1))
	}
	f.Add([]byte("\n"))
	f.Add([]byte(`{"event":"x","seq":1,"prev_hash":"` + GenesisHash + `","hash":"` + GenesisHash + `"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data), VerifyOptions{})
		if err != nil {
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("got a non-chain error %v for in-memory input", err)
			}
			if ce.Line < 1 || ce.Line > bytes.Count(data, []byte("\n"))+1 || ce.Kind < ChainEdited || ce.Kind > ChainTruncated {
				t.Fatalf("got %+v, out of range", ce)
			}
			return
		}
		if rep.Lines != bytes.Count(data, []byte("\n")) {
			t.Fatalf("got %d lines verified, want %d", rep.Lines, bytes.Count(data, []byte("\n")))
		}
		// A valid chain round-trips: it verifies against its own head.
		if rep2, err := Verify(bytes.NewReader(data), VerifyOptions{Head: rep.Head}); err != nil || rep2.HeadLine != rep.Lines {
			t.Fatalf("re-verify with head: got %+v, %v", rep2, err)
		}
	})
}
