// Package gateway is clawbroker's HTTP front end: an echo server that
// authenticates agents, rate-limits them, decodes their requests strictly,
// calls the broker, and maps its answers and errors onto the v1 API.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
)

// Options configure a Server.
type Options struct {
	Broker *broker.Broker
	Audit  *audit.Logger
	Log    zerolog.Logger
	// GeneratedTokens (agent -> "sha256:<hex>") apply while the config has
	// no gateway.auth.tokens: serve's generated token for agent default.
	GeneratedTokens map[string]string
	// Registry receives the metrics; nil means a new registry.
	Registry *prometheus.Registry
}

// Server is the HTTP gateway.
type Server struct {
	opts        Options
	b           *broker.Broker
	audit       *audit.Logger
	log         zerolog.Logger
	e           *echo.Echo
	store       limiter.Store
	secondStore limiter.Store
	redis       *redis.Client
	lim         atomic.Pointer[limiterPair]
	metrics     *metrics
	srv         *http.Server
	cancelBase  context.CancelFunc
}

// New builds the gateway for the broker's current config.
func New(opts Options) (*Server, error) {
	if opts.Broker == nil || opts.Audit == nil {
		return nil, errors.New("gateway: broker and audit logger are required")
	}
	cfg := opts.Broker.Config()
	s := &Server{opts: opts, b: opts.Broker, audit: opts.Audit, log: opts.Log}
	if err := s.openStores(cfg.Gateway.RateLimit); err != nil {
		return nil, err
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	opts.Broker.OnDecision(s.metrics.ObserveDecision)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(cfg.Gateway.TrustedProxies)
	e.Use(requestIDMiddleware, s.recoverMiddleware, s.bodyLimitMiddleware, middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: s.allowOrigin,
		AllowMethods:    []string{http.MethodGet, http.MethodPost},
		AllowHeaders:    []string{echo.HeaderAuthorization, echo.HeaderContentType, headerRequestID},
		ExposeHeaders:   []string{headerRequestID, "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		MaxAge:          600,
	}))
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler(reg)))
	v1 := e.Group("/v1", s.authMiddleware, s.rateLimitMiddleware)
	v1.POST("/decide", s.decide)
	v1.POST("/exec", s.exec)
	v1.POST("/files/read", s.readFile)
	v1.POST("/files/write", s.writeFile)
	v1.GET("/credentials", s.listCredentials)
	v1.GET("/credentials/:provider", s.getCredential)
	// Group middleware registers a catch-all 404 under /v1 that would hide
	// 405s; name the other methods explicitly (not OPTIONS: CORS owns it).
	others := func(allowed string) []string {
		var out []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m != allowed {
				out = append(out, m)
			}
		}
		return out
	}
	for _, r := range []struct{ path, method string }{
		{"/decide", http.MethodPost}, {"/exec", http.MethodPost}, {"/files/read", http.MethodPost},
		{"/files/write", http.MethodPost}, {"/credentials", http.MethodGet}, {"/credentials/:provider", http.MethodGet},
	} {
		v1.Match(others(r.method), r.path, methodNotAllowed(r.method))
	}
	s.e = e
	base, cancel := context.WithCancel(context.Background())
	s.cancelBase = cancel
	s.srv = &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.Sandbox.Timeout() + 30*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	return s, nil
}

func methodNotAllowed(allowed string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderAllow, allowed)
		return echo.ErrMethodNotAllowed
	}
}

// Handler returns the HTTP handler (for tests that bring their own server).
func (s *Server) Handler() http.Handler { return s.e }

func (s *Server) openStores(rl config.RateLimit) error {
	if rl.RedisURL == "" {
		s.store = memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "clawbroker-m", CleanUpInterval: time.Minute})
		s.secondStore = memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "clawbroker-s", CleanUpInterval: time.Minute})
		return nil
	}
	ro, err := redis.ParseURL(rl.RedisURL)
	if err != nil {
		// The URL may carry a password: never echo it.
		return errors.New("gateway.rate_limit.redis_url is not a valid Redis URL")
	}
	redis.SetLogger(redisLogger{s.log})
	s.redis = redis.NewClient(ro)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.redis.Ping(ctx).Err(); err != nil {
		s.redis.Close()
		return fmt.Errorf("gateway.rate_limit.redis_url: Redis does not answer at %s: %w", ro.Addr, err)
	}
	if s.store, err = redisstore.NewStoreWithOptions(s.redis, limiter.StoreOptions{Prefix: "clawbroker:m"}); err != nil {
		return fmt.Errorf("redis rate-limit store: %w", err)
	}
	if s.secondStore, err = redisstore.NewStoreWithOptions(s.redis, limiter.StoreOptions{Prefix: "clawbroker:s"}); err != nil {
		return fmt.Errorf("redis rate-limit store: %w", err)
	}
	return nil
}

// redisLogger sends go-redis's own messages to the operational log
// instead of its default stderr logger.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Str("component", "redis").Msg(fmt.Sprintf(format, v...))
}

// ipExtractor trusts X-Forwarded-For only from the named proxies; with
// none named the peer address is the source, whatever headers say.
func ipExtractor(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, t := range trusted {
		if !strings.Contains(t, "/") {
			if strings.Contains(t, ":") {
				t += "/128"
			} else {
				t += "/32"
			}
		}
		if _, n, err := net.ParseCIDR(t); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// CheckListen refuses to listen beyond loopback unless TLS and tokens are
// configured.
func CheckListen(g config.Gateway) error {
	host, _, err := net.SplitHostPort(g.Listen)
	if err != nil {
		return fmt.Errorf("gateway.listen: %w", err)
	}
	if isLoopback(host) {
		return nil
	}
	if !g.TLS.Enabled() || len(g.Auth.Tokens) == 0 {
		return fmt.Errorf("gateway.listen %q is beyond loopback: that needs gateway.tls (cert and key) and gateway.auth.tokens; listen on 127.0.0.1 or configure both", g.Listen)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve answers on ln until Shutdown. It sets read-header, read, write and
// idle timeouts (a slowloris client cannot hold a slot) and, with
// gateway.tls, TLS 1.2 or later.
func (s *Server) Serve(ln net.Listener) error {
	cfg := s.b.Config()
	if cfg.Gateway.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.Gateway.TLS.Cert, cfg.Gateway.TLS.Key)
		if err != nil {
			return fmt.Errorf("gateway.tls: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		s.e.TLSListener = tls.NewListener(ln, s.srv.TLSConfig)
	} else {
		s.e.Listener = ln
	}
	// echo's StartServer serves our own http.Server (timeouts, TLS floor)
	// on the listener it is given.
	err := s.e.StartServer(s.srv)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets in-flight requests finish until ctx
// ends, then cancels what is left (killing their sandboxes) and waits for
// the broker's tool runs to end.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.cancelBase()
		_ = s.srv.Close()
	}
	s.b.Wait()
	s.cancelBase()
	if s.redis != nil {
		_ = s.redis.Close()
	}
	return err
}
