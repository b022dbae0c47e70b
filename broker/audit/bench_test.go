package audit

import (
	"io"
	"path/filepath"
	"testing"
)

// benchInput mirrors the shape of the broker's policy input struct.
type benchInput struct {
	Action  string `json:"action"`
	Subject struct {
		Agent    string `json:"agent"`
		SourceIP string `json:"source_ip,omitempty"`
	} `json:"subject"`
	Tool struct {
		Name         string   `json:"name"`
		Command      string   `json:"command,omitempty"`
		Argv         []string `json:"argv"`
		Cwd          string   `json:"cwd,omitempty"`
		Capabilities []struct {
			Type  string   `json:"type"`
			Paths []string `json:"paths,omitempty"`
		} `json:"capabilities"`
		Credentials map[string]string `json:"credentials,omitempty"`
	} `json:"tool"`
}

func newBenchInput() benchInput {
	var in benchInput
	in.Action = "tool.exec"
	in.Subject.Agent, in.Subject.SourceIP = "ci-bot", "127.0.0.1"
	in.Tool.Name, in.Tool.Command = "git", "/usr/bin/git"
	in.Tool.Argv = []string{"commit", "-m", "fix: handle empty config", "--author", "CI Bot <ci@example.com>"}
	in.Tool.Cwd = "/home/u/.clawbroker/workspace/repo"
	in.Tool.Capabilities = append(in.Tool.Capabilities, struct {
		Type  string   `json:"type"`
		Paths []string `json:"paths,omitempty"`
	}{"file_write", []string{"/home/u/.clawbroker/workspace"}})
	in.Tool.Credentials = map[string]string{"GITHUB_TOKEN": "github"}
	return in
}

// BenchmarkDecisionEvent measures what the gateway pays per request:
// redacting a typical input and writing one chained line.
func BenchmarkDecisionEvent(b *testing.B) {
	l := New(io.Discard)
	ev := DecisionEvent{ID: "0195f7c2-8a1e-7b3c-9d4e-5f6a7b8c9d0e", Input: newBenchInput(), Allow: true,
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
	ev := DecisionEvent{ID: "0195f7c2-8a1e-7b3c-9d4e-5f6a7b8c9d0e", Input: newBenchInput(), Allow: true,
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
	ev := DecisionEvent{ID: "d", Input: newBenchInput(), Allow: true, Action: "tool.exec", Agent: "ci-bot"}
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

// BenchmarkDecisionEventMapInput uses a map[string]any input instead.
func BenchmarkDecisionEventMapInput(b *testing.B) {
	l := New(io.Discard)
	ev := DecisionEvent{ID: "d", Input: sampleInput(), Allow: true, Action: "tool.exec", Agent: "ci-bot"}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Decision(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedactString(b *testing.B) {
	s := "path /home/u/.clawbroker/workspace/notes/a.txt is under allowed path /home/u/.clawbroker/workspace"
	b.ReportAllocs()
	for b.Loop() {
		RedactString(s)
	}
}
