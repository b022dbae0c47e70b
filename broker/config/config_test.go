package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	t.Setenv(EnvConfig, "")
	c, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\") = %v, want built-in defaults", err)
	}
	home, _ := os.UserHomeDir()
	home = ResolveExisting(home)
	if got, want := c.Workspace.Path, filepath.Join(home, ".clawbroker", "workspace"); got != want {
		t.Errorf("workspace = %q, want %q", got, want)
	}
	if got, want := c.Gateway.Listen, "127.0.0.1:7878"; got != want {
		t.Errorf("listen = %q, want %q (loopback by default)", got, want)
	}
	if c.Source != "" {
		t.Errorf("Source = %q, want empty for defaults", c.Source)
	}
	if _, ok := c.Agents["default"]; !ok {
		t.Errorf("agents = %v, want a default agent", c.AgentIDs())
	}
	for name, tool := range c.Tools {
		if !filepath.IsAbs(tool.Command) {
			t.Errorf("tool %s command %q is not absolute", name, tool.Command)
		}
		for _, cp := range tool.Capabilities {
			for _, p := range cp.Paths {
				if p != c.Workspace.Path {
					t.Errorf("tool %s path %q, want $WORKSPACE expanded to %q", name, p, c.Workspace.Path)
				}
			}
		}
	}
	if got := c.Workspace.DeniedPaths[0]; got != filepath.Join(home, ".ssh") && !strings.HasSuffix(got, "/.ssh") {
		t.Errorf("denied_paths[0] = %q, want ~/.ssh expanded", got)
	}
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clawbroker.json5")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // substring of the error, after the file name
	}{
		{"unknown top key", "{\n  workspce: {},\n}", `:2: workspce: unknown key (did you mean "workspace"?)`},
		{"unknown nested key", "{\n gateway: {\n  rate_limit: {rpm: 5},\n },\n}", `:3: gateway.rate_limit.rpm: unknown key`},
		{"duplicate key", "{\n audit: {output: \"stderr\"},\n audit: {output: \"stdout\"},\n}", `:3: duplicate key "audit"`},
		{"duplicate nested", "{gateway: {listen: \"127.0.0.1:1\",\n listen: \"127.0.0.1:2\"}}", `:2: duplicate key "gateway.listen"`},
		{"block comment", "{\n /* no */ audit: {}}", ":2: /* block comments */ are not supported"},
		{"single quotes", "{\n audit: {output: 'stderr'}}", ":2: single-quoted strings are not supported"},
		{"hex", "{\n sandbox: {max_pids: 0x40}}", ":2: hexadecimal numbers are not supported"},
		{"wrong type", "{\n sandbox: {\n  max_pids: \"many\"}}", `:3: sandbox.max_pids: want a whole number, got a string`},
		{"fraction", "{sandbox: {max_pids: 1.5}}", `sandbox.max_pids: want a whole number, got 1.5`},
		{"list for object", "{tools: []}", `tools: want an object, got a list`},
		{"out of range", "{\n gateway: {max_body_bytes: 1}}", `gateway.max_body_bytes: 1 is out of range`},
		{"wildcard cors", "{gateway: {cors_origins: [\"*\"]}}", `gateway.cors_origins[0]: a wildcard origin is refused`},
		{"bad token hash", "{gateway: {auth: {tokens: {bot: \"plain-token\"}}}}", `gateway.auth.tokens.bot: want "sha256:"`},
		{"relative command", "{tools: {x: {command: \"bin/x\"}}, agents: {}}", `tools.x.command: must be an absolute path`},
		{"unknown capability", "{tools: {x: {command: \"/bin/x\", capabilities: [{type: \"root\"}]}}, agents: {}}", `tools.x.capabilities[0].type: unknown capability type "root"`},
		{"grant of missing tool", "{tools: {}, agents: {bot: {tools: [\"git\"]}}}", `agents.bot.tools[0]: no tool "git" is declared`},
		{"allow root", "{workspace: {allowed_paths: [\"/\"]}}", `workspace.allowed_paths[0]: the whole file system (/) cannot be allowed`},
		{"tls half", "{gateway: {tls: {cert: \"/c.pem\"}}}", `gateway.tls: cert and key go together`},
		{"redis url not echoed", "{gateway: {rate_limit: {redis_url: \"http://u:hunter2@x\"}}}", `gateway.rate_limit.redis_url: want a redis://`},
		{"unterminated", "{audit: {output: \"std\n}}", ":1: unterminated string"},
		{"not an object", "[1, 2]", "the top level must be an object"},
		{"trailing garbage", "{} {}", "after the top-level object"},
		{"user tilde", "{workspace: {path: \"~bob/ws\"}}", "only ~ and ~/ are expanded"},
		{"other variable", "{workspace: {allowed_paths: [\"$HOME/x\"]}}", "only $WORKSPACE is expanded"},
		{"listen", "{gateway: {listen: \"7878\"}}", `gateway.listen: want host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.src)
			_, err := Load(p)
			if err == nil {
				t.Fatalf("Load = nil error, want one containing %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file %s", err, p)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks a password", err)
			}
		})
	}
}

func TestLoadExpandsAndReplaces(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real-secrets")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "secrets-link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "ws")
	src := `{
  // a comment, unquoted keys and trailing commas are fine
  workspace: {path: "` + ws + `", denied_paths: ["` + link + `", "./rel"],},  // even a comment after one
  sandbox: {
    max_pids: 32, // and a comment between a trailing comma and the brace
  },
  tools: {
    git: {command: "/usr/bin/git", capabilities: [{type: "file_write", paths: ["$WORKSPACE/repo"]}],
          credentials: {GITHUB_TOKEN: "github"}},
  },
  agents: {"ci-bot": {tools: ["git"], credentials: ["github"]}},
}`
	p := writeConfig(t, src)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	resolvedDir := ResolveExisting(dir)
	if got, want := c.Workspace.DeniedPaths[0], ResolveExisting(real); got != want {
		t.Errorf("denied symlink = %q, want it resolved to %q", got, want)
	}
	if got, want := c.Workspace.DeniedPaths[1], filepath.Join(filepath.Dir(ResolveExisting(p)), "rel"); got != want {
		t.Errorf("relative denied path = %q, want %q (relative to the config file)", got, want)
	}
	if got, want := c.Tools["git"].Capabilities[0].Paths[0], filepath.Join(resolvedDir, "ws", "repo"); got != want {
		t.Errorf("$WORKSPACE path = %q, want %q", got, want)
	}
	if _, ok := c.Tools["ls"]; ok {
		t.Errorf("tools = %v, want the file's tools to replace the defaults", c.Tools)
	}
	if got, want := c.Gateway.Listen, "127.0.0.1:7878"; got != want {
		t.Errorf("listen = %q, want default %q kept", got, want)
	}
	data := c.PolicyData()
	idx := data["index"].(map[string]any)
	if idx["agent_credentials"].(map[string]any)["ci-bot"].(map[string]any)["github"] != true {
		t.Errorf("index.agent_credentials = %v, want ci-bot granted github", idx["agent_credentials"])
	}
	if idx["allowed_paths"].(map[string]any)[c.Workspace.Path] != true {
		t.Errorf("index.allowed_paths = %v, want the workspace in it", idx["allowed_paths"])
	}
	prot := data["protected_paths"].(map[string]any)
	if prot[ResolveExisting(p)] != "the broker's config file" {
		t.Errorf("protected_paths = %v, want the config file", prot)
	}
}

func TestAncestorsOfResolveExisting(t *testing.T) {
	dir := t.TempDir()
	got := ResolveExisting(filepath.Join(dir, "missing", "deeper"))
	want := filepath.Join(ResolveExisting(dir), "missing", "deeper")
	if got != want {
		t.Errorf("ResolveExisting = %q, want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json5")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{workspace: {path: "/tmp/x"}, tools: {}, agents: {},}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("/fuzz/config.json5", src)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = c.PolicyData()
	})
}
