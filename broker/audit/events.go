package audit

import (
	"encoding/json"
	"sync"

	"github.com/rs/zerolog"
)

// Event names, the value of every line's "event" field.
const (
	EventPolicyDecision    = "policy_decision"
	EventCredentialAccess  = "credential_access"
	EventToolExecution     = "tool_execution"
	EventAuthFailure       = "auth_failure"
	EventRateLimitExceeded = "rate_limit_exceeded"
	EventPolicyReload      = "policy_reload"
	EventSandboxError      = "sandbox_error"
)

// DecisionPath is the "path" of every policy_decision event: the policy
// query, in OPA decision-log form.
const DecisionPath = "clawbroker/authz/decision"

// DecisionEvent is one policy decision.
type DecisionEvent struct {
	// ID is the decision id returned to the caller.
	ID string
	// Input is the input document given to the policy. It must marshal to
	// JSON; it is redacted with Redact before it is written.
	Input any
	Allow bool
	// Reasons are the policy's reasons (or the broker's, on failure).
	Reasons  []string
	Action   string
	Agent    string
	Revision string // hash of the loaded policy set
	EvalNS   int64  // policy evaluation time in nanoseconds
	// Cached marks a decision answered from the engine's decision cache
	// (same policies, data and input as an earlier one; EvalNS is 0).
	Cached bool
	// Err says why the decision is a deny by failure (evaluation error,
	// timeout, malformed result); empty for a decision the policy made.
	Err string
}

// Decision writes a policy_decision event, shaped like an OPA decision-log
// entry (decision_id, path, input, result, timestamp,
// metrics.timer_rego_query_eval_ns, revision) plus action, agent and allow.
// When the input cannot be marshalled the event is still written, with
// "input": null and "input_error" saying why.
func (l *Logger) Decision(ev DecisionEvent) error {
	buf := inputBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 64<<10 { // let a rare huge input go
			inputBufs.Put(buf)
		}
	}()
	input, inputErr := redactedJSON(buf, ev.Input)
	return l.emit(EventPolicyDecision, func(e *zerolog.Event) {
		e.Str("decision_id", RedactString(ev.ID)).
			Str("path", DecisionPath).
			Str("revision", RedactString(ev.Revision)).
			Str("action", RedactString(ev.Action)).
			Str("agent", RedactString(ev.Agent)).
			Bool("allow", ev.Allow).
			RawJSON("input", input)
		if inputErr != "" {
			e.Str("input_error", inputErr)
		}
		result := e.CreateDict().Bool("allow", ev.Allow)
		appendRedactedStrs(result, "reasons", ev.Reasons)
		e.Dict("result", result).
			Dict("metrics", e.CreateDict().Int64("timer_rego_query_eval_ns", ev.EvalNS))
		if ev.Err != "" {
			e.Str("error", RedactString(ev.Err))
		}
		if ev.Cached {
			e.Bool("cached", true)
		}
	})
}

// inputBufs recycles the buffers redacted inputs are encoded into.
var inputBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// redactedJSON encodes the redacted input into *buf, or returns null and a
// reason.
func redactedJSON(buf *[]byte, input any) ([]byte, string) {
	var raw []byte
	switch v := input.(type) {
	case json.RawMessage:
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(input); err != nil {
			return []byte("null"), "input is not JSON-marshalable"
		}
	}
	out, err := redactJSON((*buf)[:0], raw)
	if err != nil {
		return []byte("null"), "input is not valid JSON"
	}
	*buf = out
	return out, ""
}

// appendRedactedStrs adds a string array, each element through
// RedactString; nil becomes [].
func appendRedactedStrs(e *zerolog.Event, key string, vals []string) {
	arr := zerolog.Arr()
	for _, v := range vals {
		arr.Str(RedactString(v))
	}
	e.Array(key, arr)
}

// CredentialAccess is one attempt to read a credential.
type CredentialAccess struct {
	Provider   string
	Agent      string
	DecisionID string
	Success    bool
	// Reason says why the access failed; never the secret.
	Reason string
	// Tool names the tool the credential was read for, when it is being
	// injected into a sandboxed run rather than handed to the agent.
	Tool string
}

// CredentialAccess writes a credential_access event.
func (l *Logger) CredentialAccess(ev CredentialAccess) error {
	return l.emit(EventCredentialAccess, func(e *zerolog.Event) {
		e.Str("provider", RedactString(ev.Provider)).
			Str("agent", RedactString(ev.Agent)).
			Str("decision_id", RedactString(ev.DecisionID)).
			Bool("success", ev.Success)
		if ev.Reason != "" {
			e.Str("reason", RedactString(ev.Reason))
		}
		if ev.Tool != "" {
			e.Str("tool", RedactString(ev.Tool))
		}
	})
}

// ToolExecution is one finished sandboxed tool run.
type ToolExecution struct {
	Tool       string
	Agent      string
	DecisionID string
	// Argv is the tool's arguments; it is redacted with RedactArgv.
	Argv            []string
	ExitCode        int
	DurationMS      int64
	TimedOut        bool
	StdoutTruncated bool
	StderrTruncated bool
}

// ToolExecution writes a tool_execution event.
func (l *Logger) ToolExecution(ev ToolExecution) error {
	argv := RedactArgv(ev.Argv)
	return l.emit(EventToolExecution, func(e *zerolog.Event) {
		e.Str("tool", RedactString(ev.Tool)).
			Str("agent", RedactString(ev.Agent)).
			Str("decision_id", RedactString(ev.DecisionID))
		if argv == nil {
			argv = []string{}
		}
		e.Strs("argv", argv).
			Int("exit_code", ev.ExitCode).
			Int64("duration_ms", ev.DurationMS).
			Bool("timed_out", ev.TimedOut).
			Bool("stdout_truncated", ev.StdoutTruncated).
			Bool("stderr_truncated", ev.StderrTruncated)
	})
}

// AuthFailure is one rejected authentication. It has no field for the
// presented token, by design.
type AuthFailure struct {
	Reason   string
	SourceIP string
	Method   string
	Route    string
}

// AuthFailure writes an auth_failure event.
func (l *Logger) AuthFailure(ev AuthFailure) error {
	return l.emit(EventAuthFailure, func(e *zerolog.Event) {
		e.Str("reason", RedactString(ev.Reason)).
			Str("source_ip", RedactString(ev.SourceIP)).
			Str("method", RedactString(ev.Method)).
			Str("route", RedactString(ev.Route))
	})
}

// RateLimitExceeded is one request refused by the rate limiter.
type RateLimitExceeded struct {
	Agent    string
	SourceIP string
	Limit    int64 // requests per minute
}

// RateLimitExceeded writes a rate_limit_exceeded event.
func (l *Logger) RateLimitExceeded(ev RateLimitExceeded) error {
	return l.emit(EventRateLimitExceeded, func(e *zerolog.Event) {
		e.Str("agent", RedactString(ev.Agent)).
			Str("source_ip", RedactString(ev.SourceIP)).
			Int64("limit", ev.Limit)
	})
}

// PolicyReload is one attempt to load a new policy set.
type PolicyReload struct {
	Success          bool
	Revision         string // the new revision; empty when the load failed
	PreviousRevision string // the revision in force before (and after a failure)
	Source           string // where the policies came from: a directory or "builtin"
	Error            string // why the load failed
}

// PolicyReload writes a policy_reload event.
func (l *Logger) PolicyReload(ev PolicyReload) error {
	return l.emit(EventPolicyReload, func(e *zerolog.Event) {
		e.Bool("success", ev.Success).
			Str("revision", RedactString(ev.Revision)).
			Str("previous_revision", RedactString(ev.PreviousRevision)).
			Str("source", RedactString(ev.Source))
		if ev.Error != "" {
			e.Str("error", RedactString(ev.Error))
		}
	})
}

// SandboxError is a failure to start or supervise a sandboxed tool.
type SandboxError struct {
	Tool       string
	Agent      string
	DecisionID string
	Error      string
}

// SandboxError writes a sandbox_error event.
func (l *Logger) SandboxError(ev SandboxError) error {
	return l.emit(EventSandboxError, func(e *zerolog.Event) {
		e.Str("tool", RedactString(ev.Tool)).
			Str("agent", RedactString(ev.Agent)).
			Str("decision_id", RedactString(ev.DecisionID)).
			Str("error", RedactString(ev.Error))
	})
}
