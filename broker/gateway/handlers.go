package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/policy"
)

// decodeJSON reads one JSON object strictly: unknown fields, wrong types,
// trailing data and NUL bytes in strings are 400s that name the field.
func decodeJSON(c echo.Context, dst any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return apiError(http.StatusBadRequest, CodeInvalidRequest, "Content-Type must be application/json")
		}
	}
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body is over the %d-byte limit (gateway.max_body_bytes)", mbe.Limit)
		}
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "request body could not be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "request body is empty: want a JSON object")
	}
	if !utf8.Valid(raw) {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "%s", describeJSONError(err))
	}
	if dec.More() {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "request body holds more than one JSON value")
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "request contains a NUL byte in a string")
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return fmt.Sprintf("%s: want %s, got %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of body"
	}
	return "malformed JSON"
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a number"
}

// withDecision keeps the decision id on an error that came after the
// decision was made (a missing file after an allow, say).
func withDecision(err error, decisionID string) error {
	ae := fromBrokerError(err)
	if ae.DecisionID == "" && decisionID != "" {
		c := *ae
		c.DecisionID = decisionID
		return &c
	}
	return ae
}

func subject(c echo.Context) broker.Subject {
	return broker.Subject{Agent: agentOf(c), SourceIP: c.RealIP()}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	if err := s.b.Ready(); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "the audit log cannot be written"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready", "revision": s.b.Revision()})
}

// decisionBody is the answer to /v1/decide.
type decisionBody struct {
	DecisionID string   `json:"decision_id"`
	Allow      bool     `json:"allow"`
	Reasons    []string `json:"reasons"`
}

func (s *Server) decide(c echo.Context) error {
	var in policy.Input
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Action == "" {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "action: required (tool.exec, path.read, path.write, credential.read or network.connect)")
	}
	d, err := s.b.Decide(c.Request().Context(), subject(c), in)
	if err != nil {
		return err
	}
	reasons := d.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	return c.JSON(http.StatusOK, decisionBody{DecisionID: d.ID, Allow: d.Allow, Reasons: reasons})
}

type execBody struct {
	Tool      string            `json:"tool"`
	Args      []string          `json:"args"`
	Cwd       string            `json:"cwd"`
	Stdin     string            `json:"stdin"`
	TimeoutMS *int64            `json:"timeout_ms"`
	Env       map[string]string `json:"env"`
}

type execAnswer struct {
	DecisionID      string `json:"decision_id"`
	ExitCode        int    `json:"exit_code"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
	DurationMS      int64  `json:"duration_ms"`
	TimedOut        bool   `json:"timed_out"`
}

func (s *Server) exec(c echo.Context) error {
	var body execBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	req := broker.ExecRequest{Tool: body.Tool, Args: body.Args, Cwd: body.Cwd, Stdin: []byte(body.Stdin), Env: body.Env}
	if body.TimeoutMS != nil {
		if *body.TimeoutMS <= 0 {
			return apiError(http.StatusBadRequest, CodeInvalidRequest, "timeout_ms: must be a positive number of milliseconds")
		}
		if *body.TimeoutMS > int64(24*time.Hour/time.Millisecond) {
			return apiError(http.StatusBadRequest, CodeInvalidRequest, "timeout_ms: %d is over the sandbox.timeout_ms limit", *body.TimeoutMS)
		}
		req.Timeout = time.Duration(*body.TimeoutMS) * time.Millisecond
	}
	res, err := s.b.Exec(c.Request().Context(), subject(c), req)
	if err != nil {
		return withDecision(err, res.DecisionID)
	}
	s.metrics.execTime.WithLabelValues(body.Tool).Observe(res.Duration.Seconds())
	return c.JSON(http.StatusOK, execAnswer{
		DecisionID: res.DecisionID, ExitCode: res.ExitCode,
		Stdout: string(res.Stdout), Stderr: string(res.Stderr),
		StdoutTruncated: res.StdoutTruncated, StderrTruncated: res.StderrTruncated,
		DurationMS: res.Duration.Milliseconds(), TimedOut: res.TimedOut,
	})
}

type readBody struct {
	Path string `json:"path"`
}

type readAnswer struct {
	DecisionID    string `json:"decision_id"`
	Path          string `json:"path"`
	ContentBase64 string `json:"content_base64"`
	Size          int64  `json:"size"`
}

func (s *Server) readFile(c echo.Context) error {
	var body readBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	res, err := s.b.ReadFile(c.Request().Context(), subject(c), body.Path)
	if err != nil {
		return withDecision(err, res.DecisionID)
	}
	return c.JSON(http.StatusOK, readAnswer{DecisionID: res.DecisionID, Path: res.Path, ContentBase64: base64.StdEncoding.EncodeToString(res.Content), Size: res.Size})
}

type writeBody struct {
	Path          string `json:"path"`
	ContentBase64 string `json:"content_base64"`
	Mode          string `json:"mode"`
}

type writeAnswer struct {
	DecisionID string `json:"decision_id"`
	Path       string `json:"path"`
	Size       int64  `json:"size"`
}

func (s *Server) writeFile(c echo.Context) error {
	var body writeBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	content, err := base64.StdEncoding.DecodeString(body.ContentBase64)
	if err != nil {
		return apiError(http.StatusBadRequest, CodeInvalidRequest, "content_base64: not valid standard base64")
	}
	res, err := s.b.WriteFile(c.Request().Context(), subject(c), broker.WriteRequest{Path: body.Path, Content: content, Mode: body.Mode})
	if err != nil {
		return withDecision(err, res.DecisionID)
	}
	return c.JSON(http.StatusOK, writeAnswer{DecisionID: res.DecisionID, Path: res.Path, Size: res.Size})
}

type credentialName struct {
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listCredentials(c echo.Context) error {
	entries, err := s.b.ListCredentials(c.Request().Context(), subject(c))
	if err != nil {
		return err
	}
	out := make([]credentialName, len(entries))
	for i, e := range entries {
		out[i] = credentialName{Provider: e.Provider, CreatedAt: e.CreatedAt.UTC()}
	}
	return c.JSON(http.StatusOK, out)
}

// getCredential is the one route that returns a secret. The response is
// built by hand so the only copies of the value are buffers we zero.
func (s *Server) getCredential(c echo.Context) error {
	res, err := s.b.ReadCredential(c.Request().Context(), subject(c), c.Param("provider"))
	if err != nil {
		return withDecision(err, res.DecisionID)
	}
	defer res.Secret.Zero()
	secret := res.Secret.Bytes()
	if !utf8.Valid(secret) {
		return apiError(http.StatusInternalServerError, CodeInternal, "credential %q is not UTF-8 text and cannot be sent as JSON", res.Provider)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"decision_id":`)
	writeJSONString(&buf, []byte(res.DecisionID))
	buf.WriteString(`,"provider":`)
	writeJSONString(&buf, []byte(res.Provider))
	buf.WriteString(`,"secret":`)
	writeJSONString(&buf, secret)
	buf.WriteString("}\n")
	defer clear(buf.Bytes())
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf.Bytes())
}

// writeJSONString writes s as a JSON string without making a Go string
// of it (which could not be zeroed).
func writeJSONString(buf *bytes.Buffer, s []byte) {
	const hexDigits = "0123456789abcdef"
	buf.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&':
			buf.WriteString(`\u00`)
			buf.WriteByte(hexDigits[c>>4])
			buf.WriteByte(hexDigits[c&0xf])
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
}
