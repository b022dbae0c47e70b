package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/clawbroker/clawbroker/broker/audit"
)

// Log a decision whose input carries a secret, then verify the chain.
func Example() {
	var log bytes.Buffer
	l := audit.New(&log)

	err := l.Decision(audit.DecisionEvent{
		ID:     "5b0c3e1a",
		Action: "tool.exec",
		Agent:  "ci-bot",
		Input: map[string]any{
			"action": "tool.exec",
			"tool": map[string]any{
				"name":        "git",
				"argv":        []any{"push", "https://bot:s3cret@example.com/repo.git"},
				"credentials": map[string]any{"GITHUB_TOKEN": "github"},
			},
		},
		Allow:   false,
		Reasons: []string{"tool git is not granted to agent ci-bot"},
	})
	if err != nil {
		fmt.Println("deny: audit failed:", err) // audit or deny
		return
	}
	_, head := l.Head()

	var line struct {
		Event string          `json:"event"`
		Seq   int             `json:"seq"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(log.Bytes(), &line); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(line.Event, line.Seq)
	fmt.Println(string(line.Input))

	report, err := audit.Verify(bytes.NewReader(log.Bytes()), audit.VerifyOptions{Head: head})
	fmt.Println("verified lines:", report.Lines, "error:", err)
	// Output:
	// policy_decision 1
	// {"action":"tool.exec","tool":{"argv":["push","https://bot:[REDACTED]@example.com/repo.git"],"credentials":{"GITHUB_TOKEN":"github"},"name":"git"}}
	// verified lines: 1 error: <nil>
}

// A verifier names the first bad line and how it is bad.
func ExampleVerify() {
	var log bytes.Buffer
	l := audit.New(&log)
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if err := l.AuthFailure(audit.AuthFailure{Reason: "unknown token", SourceIP: ip, Method: "POST", Route: "/v1/exec"}); err != nil {
			fmt.Println(err)
			return
		}
	}
	lines := bytes.SplitAfter(log.Bytes(), []byte("\n"))
	tampered := bytes.Join([][]byte{lines[0], lines[2]}, nil) // the second line removed

	_, err := audit.Verify(bytes.NewReader(tampered), audit.VerifyOptions{})
	fmt.Println(err)
	// Output:
	// audit chain broken at line 2 (removed): seq 3 follows seq 1: 1 line(s) missing
}
