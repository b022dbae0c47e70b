package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clawbroker/clawbroker/broker"
)

// Error codes of the v1 API.
const (
	CodeUnauthorized    = "unauthorized"
	CodeDenied          = "denied"
	CodeInvalidRequest  = "invalid_request"
	CodePayloadTooLarge = "payload_too_large"
	CodeRateLimited     = "rate_limited"
	CodeNotFound        = "not_found"
	CodeSandboxError    = "sandbox_error"
	CodeInternal        = "internal"
)

// APIError is the one error body every route returns.
type APIError struct {
	Status     int      `json:"-"`
	Code       string   `json:"error"`
	Message    string   `json:"message"`
	DecisionID string   `json:"decision_id,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiError(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// fromBrokerError maps a broker error onto the API. Messages come from
// errors the broker built to name only what the caller sent; anything
// unexpected becomes a generic internal error (the detail goes to the
// operational log, never to the client).
func fromBrokerError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var de *broker.DenyError
	if errors.As(err, &de) {
		return &APIError{Status: http.StatusForbidden, Code: CodeDenied, Message: "denied by policy", DecisionID: de.DecisionID, Reasons: de.Reasons}
	}
	switch {
	case errors.Is(err, broker.ErrInvalid):
		return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: err.Error()}
	case errors.Is(err, broker.ErrNotFound):
		return &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, broker.ErrTooLarge):
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Message: err.Error()}
	case errors.Is(err, broker.ErrSandbox):
		return &APIError{Status: http.StatusInternalServerError, Code: CodeSandboxError, Message: err.Error()}
	case errors.Is(err, broker.ErrAudit):
		return &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the audit log cannot be written, so the request was refused"}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

// errorHandler writes every error as an APIError body. Echo's own errors
// (404 route, 405 method) are mapped too; nothing carries a stack trace.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *APIError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			ae = apiError(http.StatusNotFound, CodeNotFound, "no such route: %s %s", c.Request().Method, c.Request().URL.Path)
		case http.StatusMethodNotAllowed:
			ae = apiError(http.StatusMethodNotAllowed, CodeInvalidRequest, "method %s is not allowed here", c.Request().Method)
		case http.StatusRequestEntityTooLarge:
			ae = apiError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body is over the %d-byte limit (gateway.max_body_bytes)", s.b.Config().Gateway.MaxBodyBytes)
		default:
			ae = apiError(http.StatusInternalServerError, CodeInternal, "internal error")
		}
	default:
		ae = fromBrokerError(err)
	}
	if ae.Code == CodeInternal {
		s.log.Error().Err(err).Str("request_id", requestID(c)).Msg("internal error")
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, ae)
}
