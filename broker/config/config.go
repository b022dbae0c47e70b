// Package config loads clawbroker's JSON5 configuration: built-in defaults,
// a strict loader that names the key, file and line of every mistake, path
// expansion (~, $WORKSPACE), validation, and the data document that policies
// see as data.clawbroker.config.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/yosuke-furukawa/json5/encoding/json5"
)

// EnvConfig names the environment variable that points at a config file.
const EnvConfig = "CLAWBROKER_CONFIG"

// ErrInvalid is wrapped by every error that a bad config file produces.
var ErrInvalid = errors.New("invalid config")

// Config is the whole configuration. Paths are absolute, cleaned and, where
// they exist, resolved through symlinks once Load or Default returns.
type Config struct {
	// Source is the file the config came from; empty for built-in defaults.
	Source string `json:"-"`

	StateDir    string           `json:"state_dir"`
	Workspace   Workspace        `json:"workspace"`
	Gateway     Gateway          `json:"gateway"`
	Policies    Policies         `json:"policies"`
	Audit       Audit            `json:"audit"`
	Credentials Credentials      `json:"credentials"`
	Sandbox     Sandbox          `json:"sandbox"`
	Tools       map[string]Tool  `json:"tools"`
	Agents      map[string]Agent `json:"agents"`
}

// Workspace says where agents may read and write.
type Workspace struct {
	Path         string   `json:"path"`
	AllowedPaths []string `json:"allowed_paths"`
	DeniedPaths  []string `json:"denied_paths"`
	// PersistenceAllowed opts paths in to writes that the shipped policy
	// otherwise refuses as persistence (.git/hooks, .bashrc, .vscode, ...).
	PersistenceAllowed []string `json:"persistence_allowed"`
	// MaxFileBytes bounds one file read or write through the broker.
	MaxFileBytes int64 `json:"max_file_bytes"`
}

// Gateway configures the HTTP server.
type Gateway struct {
	Listen         string    `json:"listen"`
	CORSOrigins    []string  `json:"cors_origins"`
	TLS            TLS       `json:"tls"`
	RateLimit      RateLimit `json:"rate_limit"`
	MaxBodyBytes   int64     `json:"max_body_bytes"`
	Auth           Auth      `json:"auth"`
	TrustedProxies []string  `json:"trusted_proxies"`
	// ShutdownTimeoutMS bounds how long in-flight requests may finish.
	ShutdownTimeoutMS int `json:"shutdown_timeout_ms"`
}

// TLS names a certificate and key in PEM files.
type TLS struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// RateLimit is per agent: RequestsPerMinute a minute, at most Burst in any
// second. RedisURL shares the budget between replicas.
type RateLimit struct {
	RequestsPerMinute int    `json:"requests_per_minute"`
	Burst             int    `json:"burst"`
	RedisURL          string `json:"redis_url"`
}

// Auth maps agent ids to "sha256:<hex>" of their bearer tokens.
type Auth struct {
	Tokens map[string]string `json:"tokens"`
}

// Policies says where the Rego policies come from.
type Policies struct {
	// Dir is a directory of .rego files; empty means the built-in policies.
	Dir       string `json:"dir"`
	TimeoutMS int    `json:"timeout_ms"`
	// CacheSize bounds the decision cache (decisions of deterministic
	// policies, by exact input); 0 turns it off.
	CacheSize int `json:"cache_size"`
}

// Audit says where security events go.
type Audit struct {
	Output string `json:"output"` // "stderr", "stdout" or a file path
}

// Credentials locates the encrypted credential store.
type Credentials struct {
	Path string `json:"path"`
}

// Sandbox holds the default limits for tool runs.
type Sandbox struct {
	TimeoutMS      int    `json:"timeout_ms"`
	MaxOutputBytes int64  `json:"max_output_bytes"`
	MemoryMB       int    `json:"memory_mb"`
	MaxPids        int    `json:"max_pids"`
	BwrapPath      string `json:"bwrap_path"`
}

// Tool is a program agents may ask to run.
type Tool struct {
	Command      string            `json:"command"`
	Description  string            `json:"description"`
	Capabilities []Capability      `json:"capabilities"`
	Credentials  map[string]string `json:"credentials"` // ENV_NAME -> provider
	AllowInline  bool              `json:"allow_inline"`
}

// Capability is one thing a tool may do inside its sandbox.
type Capability struct {
	Type     string   `json:"type"` // file_read, file_write, network, process_exec
	Paths    []string `json:"paths,omitempty"`
	Hosts    []string `json:"hosts,omitempty"`
	Commands []string `json:"commands,omitempty"`
}

// Agent is what one agent id has been granted.
type Agent struct {
	Tools       []string `json:"tools"`
	Credentials []string `json:"credentials"`
}

// Capability types.
const (
	CapFileRead    = "file_read"
	CapFileWrite   = "file_write"
	CapNetwork     = "network"
	CapProcessExec = "process_exec"
)

// EngineCacheSize is the policy engine's CacheSize for this config.
func (p Policies) EngineCacheSize() int {
	if p.CacheSize == 0 {
		return -1
	}
	return p.CacheSize
}

// Timeouts as durations.
func (p Policies) Timeout() time.Duration { return time.Duration(p.TimeoutMS) * time.Millisecond }

// Timeout is the default tool timeout.
func (s Sandbox) Timeout() time.Duration { return time.Duration(s.TimeoutMS) * time.Millisecond }

// ShutdownTimeout bounds graceful shutdown.
func (g Gateway) ShutdownTimeout() time.Duration {
	return time.Duration(g.ShutdownTimeoutMS) * time.Millisecond
}

// TokenFile is where serve writes a generated token.
func (c *Config) TokenFile() string { return filepath.Join(c.StateDir, "token") }

// defaultTools are offered on built-in defaults when found on this machine.
var defaultTools = []struct {
	name, desc string
	write      bool
}{
	{"echo", "print its arguments", false},
	{"ls", "list files in the workspace", false},
	{"cat", "print files from the workspace", false},
	{"grep", "search files in the workspace", false},
	{"wc", "count lines, words and bytes", false},
	{"git", "version control in the workspace", true},
}

// raw returns the unexpanded built-in defaults.
func raw() *Config {
	c := &Config{
		StateDir: "~/.clawbroker",
		Workspace: Workspace{
			Path:         "~/.clawbroker/workspace",
			MaxFileBytes: 10 << 20,
			DeniedPaths:  []string{"~/.ssh", "~/.aws", "~/.gnupg", "~/.kube", "~/.docker", "~/.config/gcloud", "~/.netrc", "~/.git-credentials"},
		},
		Gateway: Gateway{
			Listen:            "127.0.0.1:7878",
			RateLimit:         RateLimit{RequestsPerMinute: 60, Burst: 10},
			MaxBodyBytes:      1 << 20,
			ShutdownTimeoutMS: 10000,
		},
		Policies:    Policies{TimeoutMS: 100, CacheSize: 4096},
		Audit:       Audit{Output: "stderr"},
		Credentials: Credentials{Path: "~/.clawbroker/credentials.enc.json"},
		Sandbox:     Sandbox{TimeoutMS: 30000, MaxOutputBytes: 1 << 20, MemoryMB: 512, MaxPids: 64},
		Tools:       map[string]Tool{},
		Agents:      map[string]Agent{},
	}
	var granted []string
	for _, t := range defaultTools {
		cmd, err := exec.LookPath(t.name)
		if err != nil {
			continue
		}
		caps := []Capability{{Type: CapFileRead, Paths: []string{"$WORKSPACE"}}}
		if t.write {
			caps = append(caps, Capability{Type: CapFileWrite, Paths: []string{"$WORKSPACE"}})
		}
		c.Tools[t.name] = Tool{Command: cmd, Description: t.desc, Capabilities: caps}
		granted = append(granted, t.name)
	}
	c.Agents["default"] = Agent{Tools: granted, Credentials: []string{}}
	return c
}

// Default returns the built-in configuration, expanded and validated.
func Default() (*Config, error) {
	c := raw()
	if err := c.finish(); err != nil {
		return nil, fmt.Errorf("built-in defaults: %w", err)
	}
	return c, nil
}

// Load reads a config file over the built-in defaults. An empty path means
// $CLAWBROKER_CONFIG, and then the defaults alone.
func Load(path string) (*Config, error) {
	if path == "" {
		path = os.Getenv(EnvConfig)
	}
	if path == "" {
		return Default()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Parse(abs, data)
}

// Parse decodes config source named name (a file path, used in errors and
// to resolve relative paths) over the built-in defaults.
func Parse(name string, src []byte) (*Config, error) {
	lines, stripped, err := scanJSON5(src)
	if err != nil {
		return nil, fileError(name, err, nil)
	}
	dec := json5.NewDecoder(bytes.NewReader(stripped))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: %s: the top level must be an object", ErrInvalid, name)
	}
	c := raw()
	if err := decodeStrict("", tree, reflect.ValueOf(c).Elem()); err != nil {
		return nil, fileError(name, err, lines)
	}
	c.Source = name
	if err := c.finish(); err != nil {
		return nil, fileError(name, err, lines)
	}
	return c, nil
}

func fileError(name string, err error, lines map[string]int) error {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, name, le.Line, le.Msg)
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		key := fe.Key
		for key != "" {
			if line, ok := lines[key]; ok {
				return fmt.Errorf("%w: %s:%d: %s: %s", ErrInvalid, name, line, fe.Key, fe.Msg)
			}
			key = parentKey(key)
		}
		return fmt.Errorf("%w: %s: %s: %s", ErrInvalid, name, fe.Key, fe.Msg)
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalid, name, err)
}

func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	providerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	hashRE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// finish expands paths and validates. It is the single place that turns a
// decoded config into one the rest of the broker may trust.
func (c *Config) finish() error {
	home, err := os.UserHomeDir()
	if err != nil {
		return &fieldError{Key: "workspace.path", Msg: "cannot expand ~: " + err.Error()}
	}
	base := ""
	if c.Source != "" {
		base = filepath.Dir(c.Source)
	}
	exp := func(key, p string) (string, error) {
		if p == "" {
			return "", &fieldError{Key: key, Msg: "must not be empty"}
		}
		return ExpandPath(p, home, base, "")
	}
	if c.StateDir, err = exp("state_dir", c.StateDir); err != nil {
		return keyed("state_dir", err)
	}
	if c.Workspace.Path, err = exp("workspace.path", c.Workspace.Path); err != nil {
		return keyed("workspace.path", err)
	}
	ws := c.Workspace.Path
	lists := []struct {
		key  string
		list []string
	}{
		{"workspace.allowed_paths", c.Workspace.AllowedPaths},
		{"workspace.denied_paths", c.Workspace.DeniedPaths},
		{"workspace.persistence_allowed", c.Workspace.PersistenceAllowed},
	}
	for _, l := range lists {
		for i, p := range l.list {
			key := fmt.Sprintf("%s[%d]", l.key, i)
			if p == "" {
				return &fieldError{Key: key, Msg: "must not be empty"}
			}
			if l.list[i], err = ExpandPath(p, home, base, ws); err != nil {
				return keyed(key, err)
			}
			if l.list[i] == "/" && l.key != "workspace.denied_paths" {
				return &fieldError{Key: key, Msg: "the whole file system (/) cannot be allowed"}
			}
		}
	}
	if c.Workspace.Path == "/" {
		return &fieldError{Key: "workspace.path", Msg: "the whole file system (/) cannot be the workspace"}
	}
	if c.Credentials.Path, err = exp("credentials.path", c.Credentials.Path); err != nil {
		return keyed("credentials.path", err)
	}
	if c.Policies.Dir != "" {
		if c.Policies.Dir, err = ExpandPath(c.Policies.Dir, home, base, ws); err != nil {
			return keyed("policies.dir", err)
		}
	}
	switch c.Audit.Output {
	case "":
		return &fieldError{Key: "audit.output", Msg: `must be "stderr", "stdout" or a file path`}
	case "stderr", "stdout":
	default:
		if c.Audit.Output, err = ExpandPath(c.Audit.Output, home, base, ws); err != nil {
			return keyed("audit.output", err)
		}
	}
	for _, f := range []*string{&c.Gateway.TLS.Cert, &c.Gateway.TLS.Key, &c.Sandbox.BwrapPath} {
		if *f != "" {
			if *f, err = ExpandPath(*f, home, base, ws); err != nil {
				return err
			}
		}
	}
	for name, t := range c.Tools {
		key := "tools." + name
		if !nameRE.MatchString(name) {
			return &fieldError{Key: key, Msg: "a tool name is 1-64 letters, digits, '.', '_' or '-'"}
		}
		if t.Command == "" || !filepath.IsAbs(expandHome(t.Command, home)) {
			return &fieldError{Key: key + ".command", Msg: "must be an absolute path to the program"}
		}
		t.Command = filepath.Clean(expandHome(t.Command, home))
		caps := make([]Capability, len(t.Capabilities))
		for i, cp := range t.Capabilities {
			ck := fmt.Sprintf("%s.capabilities[%d]", key, i)
			cp.Paths = append([]string(nil), cp.Paths...)
			switch cp.Type {
			case CapFileRead, CapFileWrite:
				if len(cp.Paths) == 0 || len(cp.Hosts) > 0 || len(cp.Commands) > 0 {
					return &fieldError{Key: ck, Msg: cp.Type + " takes paths (and only paths)"}
				}
				for j, p := range cp.Paths {
					if cp.Paths[j], err = ExpandPath(p, home, base, ws); err != nil {
						return keyed(fmt.Sprintf("%s.paths[%d]", ck, j), err)
					}
				}
			case CapNetwork:
				if len(cp.Hosts) == 0 || len(cp.Paths) > 0 || len(cp.Commands) > 0 {
					return &fieldError{Key: ck, Msg: "network takes hosts (and only hosts)"}
				}
				for j, h := range cp.Hosts {
					if err := validHost(h); err != nil {
						return &fieldError{Key: fmt.Sprintf("%s.hosts[%d]", ck, j), Msg: err.Error()}
					}
				}
			case CapProcessExec:
				if len(cp.Commands) == 0 || len(cp.Paths) > 0 || len(cp.Hosts) > 0 {
					return &fieldError{Key: ck, Msg: "process_exec takes commands (and only commands)"}
				}
				for j, cmd := range cp.Commands {
					if !filepath.IsAbs(cmd) {
						return &fieldError{Key: fmt.Sprintf("%s.commands[%d]", ck, j), Msg: "must be an absolute path"}
					}
				}
			default:
				return &fieldError{Key: ck + ".type", Msg: fmt.Sprintf("unknown capability type %q (want file_read, file_write, network or process_exec)", cp.Type)}
			}
			caps[i] = cp
		}
		t.Capabilities = caps
		for env, provider := range t.Credentials {
			if !envNameRE.MatchString(env) {
				return &fieldError{Key: key + ".credentials." + env, Msg: "not a valid environment variable name"}
			}
			if !providerRE.MatchString(provider) {
				return &fieldError{Key: key + ".credentials." + env, Msg: fmt.Sprintf("%q is not a valid provider name (lower-case letters, digits, '.', '_', '-')", provider)}
			}
		}
		c.Tools[name] = t
	}
	for id, a := range c.Agents {
		key := "agents." + id
		if !nameRE.MatchString(id) {
			return &fieldError{Key: key, Msg: "an agent id is 1-64 letters, digits, '.', '_' or '-'"}
		}
		for i, t := range a.Tools {
			if _, ok := c.Tools[t]; !ok {
				return &fieldError{Key: fmt.Sprintf("%s.tools[%d]", key, i), Msg: fmt.Sprintf("no tool %q is declared under tools", t)}
			}
		}
		for i, p := range a.Credentials {
			if !providerRE.MatchString(p) {
				return &fieldError{Key: fmt.Sprintf("%s.credentials[%d]", key, i), Msg: fmt.Sprintf("%q is not a valid provider name", p)}
			}
		}
		if a.Tools == nil {
			a.Tools = []string{}
		}
		if a.Credentials == nil {
			a.Credentials = []string{}
		}
		c.Agents[id] = a
	}
	for id, h := range c.Gateway.Auth.Tokens {
		if !nameRE.MatchString(id) {
			return &fieldError{Key: "gateway.auth.tokens." + id, Msg: "an agent id is 1-64 letters, digits, '.', '_' or '-'"}
		}
		if !hashRE.MatchString(h) {
			return &fieldError{Key: "gateway.auth.tokens." + id, Msg: `want "sha256:" and 64 lower-case hex digits (clawbroker token new ` + id + ` prints one)`}
		}
	}
	return c.validateNumbers()
}

func (c *Config) validateNumbers() error {
	g := c.Gateway
	if _, _, err := net.SplitHostPort(g.Listen); err != nil {
		return &fieldError{Key: "gateway.listen", Msg: fmt.Sprintf("want host:port, got %q", g.Listen)}
	}
	if (g.TLS.Cert == "") != (g.TLS.Key == "") {
		return &fieldError{Key: "gateway.tls", Msg: "cert and key go together"}
	}
	for i, o := range g.CORSOrigins {
		key := fmt.Sprintf("gateway.cors_origins[%d]", i)
		if o == "*" {
			return &fieldError{Key: key, Msg: "a wildcard origin is refused: bearer-authenticated APIs name their origins"}
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return &fieldError{Key: key, Msg: fmt.Sprintf("want an origin like https://app.example.com, got %q", o)}
		}
	}
	for i, p := range g.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return &fieldError{Key: fmt.Sprintf("gateway.trusted_proxies[%d]", i), Msg: fmt.Sprintf("want an IP address or CIDR, got %q", p)}
		}
	}
	checks := []struct {
		key      string
		val, min int64
		max      int64
	}{
		{"gateway.rate_limit.requests_per_minute", int64(g.RateLimit.RequestsPerMinute), 1, 10_000_000},
		{"gateway.rate_limit.burst", int64(g.RateLimit.Burst), 1, 10_000_000},
		{"gateway.max_body_bytes", g.MaxBodyBytes, 1024, 1 << 30},
		{"workspace.max_file_bytes", c.Workspace.MaxFileBytes, 1, 1 << 30},
		{"gateway.shutdown_timeout_ms", int64(g.ShutdownTimeoutMS), 0, 600_000},
		{"policies.timeout_ms", int64(c.Policies.TimeoutMS), 1, 60_000},
		{"policies.cache_size", int64(c.Policies.CacheSize), 0, 1 << 20},
		{"sandbox.timeout_ms", int64(c.Sandbox.TimeoutMS), 1, 24 * 3600 * 1000},
		{"sandbox.max_output_bytes", c.Sandbox.MaxOutputBytes, 1, 1 << 30},
		{"sandbox.memory_mb", int64(c.Sandbox.MemoryMB), 0, 1 << 20},
		{"sandbox.max_pids", int64(c.Sandbox.MaxPids), 0, 1 << 20},
	}
	for _, ch := range checks {
		if ch.val < ch.min || ch.val > ch.max {
			return &fieldError{Key: ch.key, Msg: fmt.Sprintf("%d is out of range (%d to %d)", ch.val, ch.min, ch.max)}
		}
	}
	if g.RateLimit.RedisURL != "" {
		u, err := url.Parse(g.RateLimit.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			// Never echo the URL: it may carry a password.
			return &fieldError{Key: "gateway.rate_limit.redis_url", Msg: "want a redis://, rediss:// or unix:// URL"}
		}
	}
	return nil
}

func keyed(key string, err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return err
	}
	return &fieldError{Key: key, Msg: err.Error()}
}

func validHost(h string) error {
	if h == "" {
		return errors.New("must not be empty")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if len(name) > 253 || strings.ContainsAny(name, "/:@ *") {
		return fmt.Errorf("%q is not a host name or IP address", h)
	}
	return nil
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}

// ExpandPath turns a configured path into an absolute, cleaned one: "~" is
// home, "$WORKSPACE" is workspace (when given), a relative path is taken
// against base (the config file's directory), and an existing path is
// resolved through symlinks, so that policies judge the real location.
func ExpandPath(p, home, base, workspace string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("contains a NUL byte")
	}
	if strings.HasPrefix(p, "~") && p != "~" && !strings.HasPrefix(p, "~/") {
		return "", fmt.Errorf("%q: only ~ and ~/ are expanded (not ~user)", p)
	}
	p = expandHome(p, home)
	if p == "$WORKSPACE" || strings.HasPrefix(p, "$WORKSPACE/") {
		if workspace == "" {
			return "", errors.New("$WORKSPACE is not available here")
		}
		p = workspace + strings.TrimPrefix(p, "$WORKSPACE")
	}
	if strings.Contains(p, "$") {
		return "", fmt.Errorf("%q: only $WORKSPACE is expanded", p)
	}
	if !filepath.IsAbs(p) {
		if base == "" {
			var err error
			if base, err = os.Getwd(); err != nil {
				return "", err
			}
		}
		p = filepath.Join(base, p)
	}
	return ResolveExisting(filepath.Clean(p)), nil
}

// ResolveExisting resolves symlinks in the longest existing prefix of an
// absolute, clean path and appends the rest unchanged.
func ResolveExisting(p string) string {
	rest := ""
	cur := p
	for {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			if rest == "" {
				return r
			}
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		if rest == "" {
			rest = filepath.Base(cur)
		} else {
			rest = filepath.Join(filepath.Base(cur), rest)
		}
		cur = parent
	}
}

// ProtectedPaths are files no policy decision may open, whatever the
// config allows: the broker's own config, policies, credentials, token and
// audit log. The value says what each one is, for deny reasons.
func (c *Config) ProtectedPaths() map[string]string {
	out := map[string]string{
		c.Credentials.Path:           "the credential store",
		c.Credentials.Path + ".lock": "the credential store lock",
		c.TokenFile():                "the broker's token file",
	}
	if c.Source != "" {
		out[ResolveExisting(c.Source)] = "the broker's config file"
	}
	if c.Policies.Dir != "" {
		out[c.Policies.Dir] = "the policy directory"
	}
	if c.Audit.Output != "stderr" && c.Audit.Output != "stdout" {
		out[c.Audit.Output] = "the audit log"
	}
	return out
}

// AgentIDs lists the configured agents, sorted.
func (c *Config) AgentIDs() []string {
	ids := make([]string, 0, len(c.Agents))
	for id := range c.Agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// MarshalJSONIndent renders the config for humans (clawbroker check -v).
func (c *Config) MarshalJSONIndent() ([]byte, error) { return json.MarshalIndent(c, "", "  ") }
