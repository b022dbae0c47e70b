package audit

import (
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkDecisionEvent measures what the gateway pays per request:
// redacting a typical input and writing one chained line.
func BenchmarkDecisionEvent(b *testing.B) {
	l := New(io.Discard)
	ev := DecisionEvent{ID: "0195f7c2-8a1e-7b3c-9d4e-5f6a7b8c9d0e", Input: sampleInput(), Allow: true,
		Reasons: []string{"tool git is granted to agent ci-bot"}, Action: "tool.exec", Agent: "ci-bot",
		Revision: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", EvalNS: 41000}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Decision(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecisionEventFile adds the write(2) to a real file.
func BenchmarkDecisionEventFile(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ev := DecisionEvent{ID: "0195f7c2-8a1e-7b3c-9d4e-5f6a7b8c9d0e", Input: sampleInput(), Allow: true,
		Reasons: []string{"tool git is granted to agent ci-bot"}, Action: "tool.exec", Agent: "ci-bot", EvalNS: 41000}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Decision(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecisionEventParallel measures contention on the chain lock.
func BenchmarkDecisionEventParallel(b *testing.B) {
	l := New(io.Discard)
	ev := DecisionEvent{ID: "d", Input: sampleInput(), Allow: true, Action: "tool.exec", Agent: "ci-bot"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Decision(ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRedactString(b *testing.B) {
	s := "path /home/u/.clawbroker/workspace/notes/a.txt is under allowed path /home/u/.clawbroker/workspace"
	b.ReportAllocs()
	for b.Loop() {
		RedactString(s)
	}
}
