package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ulule/limiter/v3"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/audit"
)

const (
	headerRequestID = "X-Request-ID"
	ctxAgent        = "clawbroker.agent"
	ctxRequestID    = "clawbroker.request_id"
)

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestIDMiddleware gives every response an X-Request-ID: the client's
// when it is short and plain, else a fresh random one.
func requestIDMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !requestIDRE.MatchString(id) {
			var b [12]byte
			if _, err := rand.Read(b[:]); err != nil {
				return apiError(http.StatusInternalServerError, CodeInternal, "internal error")
			}
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// recoverMiddleware turns a panic into a 500 with no stack trace for the
// client; the stack goes to the operational log.
func (s *Server) recoverMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error().Str("request_id", requestID(c)).Str("panic", fmt.Sprint(r)).Stack().Msg("handler panicked")
				err = apiError(http.StatusInternalServerError, CodeInternal, "internal error")
			}
		}()
		return next(c)
	}
}

// bodyLimitMiddleware refuses a declared oversize body at once and caps
// the reader for bodies that lie about (or omit) their length.
func (s *Server) bodyLimitMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := s.b.Config().Gateway.MaxBodyBytes
		req := c.Request()
		if req.ContentLength > limit {
			return apiError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body is %d bytes, over the %d-byte limit (gateway.max_body_bytes)", req.ContentLength, limit)
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// allowOrigin is CORS against the current config's gateway.cors_origins.
func (s *Server) allowOrigin(origin string) (bool, error) {
	for _, o := range s.b.Config().Gateway.CORSOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true, nil
		}
	}
	return false, nil
}

// authMiddleware maps "Authorization: Bearer <token>" to an agent id by
// comparing the token's SHA-256 with every configured hash in constant
// time. Failures are auth_failure events naming the reason and the source
// address, never the token; and they spend the source address's budget so
// that guessing tokens is rate-limited too.
func (s *Server) authMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		reason := ""
		agent := ""
		switch {
		case h == "":
			reason = "missing Authorization header"
		case !strings.HasPrefix(h, "Bearer ") || len(h) == len("Bearer "):
			reason = "malformed Authorization header: want Bearer <token>"
		default:
			var ok bool
			if agent, ok = s.lookupToken(strings.TrimSpace(h[len("Bearer "):])); !ok {
				reason = "unknown token"
			}
		}
		if reason != "" {
			s.metrics.authFailures.WithLabelValues(reasonLabel(reason)).Inc()
			if err := s.audit.AuthFailure(audit.AuthFailure{Reason: reason, SourceIP: c.RealIP(), Method: c.Request().Method, Route: c.Path()}); err != nil {
				return fromBrokerError(fmt.Errorf("%w: %w", broker.ErrAudit, err))
			}
			if err := s.limit(c, "ip:"+c.RealIP(), ""); err != nil {
				return err
			}
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="clawbroker"`)
			return apiError(http.StatusUnauthorized, CodeUnauthorized, "%s", reason)
		}
		c.Set(ctxAgent, agent)
		return next(c)
	}
}

func reasonLabel(reason string) string {
	switch {
	case strings.HasPrefix(reason, "missing"):
		return "missing"
	case strings.HasPrefix(reason, "malformed"):
		return "malformed"
	}
	return "unknown_token"
}

// lookupToken compares against every configured hash, so the time taken
// does not say which agent (if any) came close.
func (s *Server) lookupToken(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	var want [sha256.Size]byte
	found := ""
	for agent, h := range s.tokens() {
		hexPart := strings.TrimPrefix(h, "sha256:")
		if len(hexPart) != 2*sha256.Size {
			continue
		}
		if _, err := hex.Decode(want[:], []byte(hexPart)); err != nil {
			continue
		}
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			found = agent
		}
	}
	return found, found != ""
}

// tokens is the configured token map, or the generated one for agent
// default when the config has none.
func (s *Server) tokens() map[string]string {
	if t := s.b.Config().Gateway.Auth.Tokens; len(t) > 0 {
		return t
	}
	return s.opts.GeneratedTokens
}

func agentOf(c echo.Context) string {
	a, _ := c.Get(ctxAgent).(string)
	return a
}

// rateLimitMiddleware spends the agent's budget: requests_per_minute a
// minute and at most burst in any one second.
func (s *Server) rateLimitMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		agent := agentOf(c)
		if err := s.limit(c, "agent:"+agent, agent); err != nil {
			return err
		}
		return next(c)
	}
}

// limit charges one request to key in both windows. A limiter that cannot
// answer (Redis down) refuses the request: fail closed.
func (s *Server) limit(c echo.Context, key, agent string) error {
	ctx := c.Request().Context()
	lim := s.limiters()
	minute, err := lim.minute.Get(ctx, key)
	if err != nil {
		s.log.Error().Err(err).Msg("rate limiter unavailable; refusing request")
		return apiError(http.StatusInternalServerError, CodeInternal, "rate limiter unavailable")
	}
	second, err := lim.second.Get(ctx, key)
	if err != nil {
		s.log.Error().Err(err).Msg("rate limiter unavailable; refusing request")
		return apiError(http.StatusInternalServerError, CodeInternal, "rate limiter unavailable")
	}
	hdr := c.Response().Header()
	hdr.Set("X-RateLimit-Limit", strconv.FormatInt(minute.Limit, 10))
	hdr.Set("X-RateLimit-Remaining", strconv.FormatInt(min(minute.Remaining, second.Remaining), 10))
	hdr.Set("X-RateLimit-Reset", strconv.FormatInt(minute.Reset, 10))
	if !minute.Reached && !second.Reached {
		return nil
	}
	reset := second.Reset
	limit := second.Limit
	if minute.Reached {
		reset, limit = minute.Reset, minute.Limit
	}
	retry := max(1, reset-time.Now().Unix())
	hdr.Set("Retry-After", strconv.FormatInt(retry, 10))
	s.metrics.rateLimited.Inc()
	if err := s.audit.RateLimitExceeded(audit.RateLimitExceeded{Agent: agent, SourceIP: c.RealIP(), Limit: limit}); err != nil {
		return fromBrokerError(fmt.Errorf("%w: %w", broker.ErrAudit, err))
	}
	return apiError(http.StatusTooManyRequests, CodeRateLimited, "rate limit exceeded: retry after %d s", retry)
}

// limiterPair is the two windows for one rate-limit config.
type limiterPair struct {
	minute, second *limiter.Limiter
	rpm, burst     int
}

// limiters returns the limiters for the current config, rebuilding them
// (on the same store) when a reload changed the numbers.
func (s *Server) limiters() *limiterPair {
	rl := s.b.Config().Gateway.RateLimit
	cur := s.lim.Load()
	if cur != nil && cur.rpm == rl.RequestsPerMinute && cur.burst == rl.Burst {
		return cur
	}
	next := &limiterPair{
		minute: limiter.New(s.store, limiter.Rate{Period: time.Minute, Limit: int64(rl.RequestsPerMinute)}),
		second: limiter.New(s.secondStore, limiter.Rate{Period: time.Second, Limit: int64(rl.Burst)}),
		rpm:    rl.RequestsPerMinute, burst: rl.Burst,
	}
	s.lim.CompareAndSwap(cur, next)
	return s.lim.Load()
}
