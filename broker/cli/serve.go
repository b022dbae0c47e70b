package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/gateway"
)

func newServeCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the broker's HTTP gateway",
		Long: `serve runs the HTTP gateway. With no config it runs on built-in defaults:
workspace ~/.clawbroker/workspace, the built-in policies, audit to stderr, and
a generated token for agent "default" in ~/.clawbroker/token. SIGHUP reloads
config and policies (a bad one keeps the old and says why); SIGINT or SIGTERM
shut down gracefully.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context())
		},
	}
}

func (a *App) serve(ctx context.Context) error {
	cfg, err := a.LoadConfig()
	if err != nil {
		return err
	}
	if err := gateway.CheckListen(cfg.Gateway); err != nil {
		return usageError(err)
	}
	for _, dir := range []string{cfg.StateDir, cfg.Workspace.Path} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return failedError(fmt.Errorf("create %s: %w", dir, err))
		}
	}
	var generated map[string]string
	if len(cfg.Gateway.Auth.Tokens) == 0 {
		hash, err := ensureTokenFile(cfg.TokenFile())
		if err != nil {
			return failedError(err)
		}
		generated = map[string]string{"default": hash}
	}
	log := a.opsLog()
	auditLog, err := openAudit(cfg, a.Stderr)
	if err != nil {
		return failedError(fmt.Errorf("audit log: %w", err))
	}
	defer auditLog.Close()
	reload := func() (*config.Config, error) {
		next, err := config.Load(cfg.Source)
		if err != nil {
			return nil, err
		}
		if next.Gateway.Listen != cfg.Gateway.Listen || next.Gateway.TLS != cfg.Gateway.TLS || next.Gateway.RateLimit.RedisURL != cfg.Gateway.RateLimit.RedisURL {
			log.Warn().Msg("gateway.listen, gateway.tls and gateway.rate_limit.redis_url take effect on restart only")
		}
		return next, nil
	}
	b, err := broker.New(ctx, broker.Options{Config: cfg, Audit: auditLog, Log: log, Reload: reload})
	if err != nil {
		return failedError(err)
	}
	srv, err := gateway.New(gateway.Options{Broker: b, Audit: auditLog, Log: log, GeneratedTokens: generated})
	if err != nil {
		return failedError(err)
	}
	ln, err := net.Listen("tcp", cfg.Gateway.Listen)
	if err != nil {
		return failedError(fmt.Errorf("gateway.listen %s: %w", cfg.Gateway.Listen, err))
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := b.WatchPolicies(watchCtx); err != nil {
		log.Warn().Err(err).Msg("policy directory is not watched; send SIGHUP to reload")
	}
	sigs, stopSigs := a.signals()
	defer stopSigs()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	scheme := "http"
	if cfg.Gateway.TLS.Enabled() {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	fmt.Fprintf(a.Stderr, "clawbroker %s listening on %s\n", Version, url)
	if generated != nil {
		fmt.Fprintf(a.Stderr, "token for agent \"default\": %s\n", cfg.TokenFile())
		fmt.Fprintf(a.Stderr, "try: curl -s -H \"Authorization: Bearer $(cat %s)\" -H 'Content-Type: application/json' -d '{\"tool\":\"echo\",\"args\":[\"hello\"]}' %s/v1/exec\n", shellQuote(cfg.TokenFile()), url)
	}
	fmt.Fprintf(a.Stderr, "workspace: %s\npolicies: %s (revision %s)\n", cfg.Workspace.Path, policySource(cfg), b.Revision())

	for {
		select {
		case err := <-served:
			if err != nil {
				return failedError(fmt.Errorf("gateway: %w", err))
			}
			return nil
		case <-ctx.Done():
			return a.shutdown(srv, cfg, served)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := b.Reload(ctx, "sighup"); err != nil {
					fmt.Fprintf(a.Stderr, "clawbroker: %v\n", err)
				} else {
					fmt.Fprintf(a.Stderr, "clawbroker: reloaded, policy revision %s\n", b.Revision())
				}
				continue
			}
			fmt.Fprintf(a.Stderr, "clawbroker: %s: shutting down (in-flight requests have %s)\n", sig, cfg.Gateway.ShutdownTimeout())
			return a.shutdown(srv, cfg, served)
		}
	}
}

func (a *App) shutdown(srv *gateway.Server, cfg *config.Config, served <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Gateway.ShutdownTimeout())
	defer cancel()
	err := srv.Shutdown(ctx)
	<-served
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return failedError(fmt.Errorf("shutdown: %w", err))
	}
	if err != nil {
		fmt.Fprintln(a.Stderr, "clawbroker: shutdown deadline passed; remaining requests were cancelled")
	}
	return nil
}

func policySource(cfg *config.Config) string {
	if cfg.Policies.Dir == "" {
		return "built-in"
	}
	return cfg.Policies.Dir
}

func shellQuote(s string) string {
	if !strings.ContainsAny(s, " '\"$`\\!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ensureTokenFile returns the hash of the token in path, creating a new
// token (mode 0600, written atomically) when there is none. A token file
// that others can read is replaced, not trusted.
func ensureTokenFile(path string) (string, error) {
	if raw, err := os.ReadFile(path); err == nil {
		info, serr := os.Stat(path)
		tok := strings.TrimSpace(string(raw))
		if serr == nil && info.Mode().Perm()&0o077 == 0 && strings.HasPrefix(tok, "cbt_") && len(tok) > 20 {
			return HashToken(tok), nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	token, hash, err := NewToken()
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return hash, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
