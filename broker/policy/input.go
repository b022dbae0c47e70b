package policy

import (
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Actions a policy decides.
const (
	ActionToolExec       = "tool.exec"
	ActionPathRead       = "path.read"
	ActionPathWrite      = "path.write"
	ActionCredentialRead = "credential.read"
	ActionNetworkConnect = "network.connect"
)

// Input is the document a policy sees as `input`. The broker fills Subject,
// Path.Resolved, Path.Ancestors, Tool.Command and Tool.Capabilities itself;
// callers never set them.
type Input struct {
	Action     string           `json:"action,omitempty"`
	Subject    *Subject         `json:"subject,omitempty"`
	Tool       *ToolInput       `json:"tool,omitempty"`
	Path       *PathInput       `json:"path,omitempty"`
	Credential *CredentialInput `json:"credential,omitempty"`
	Network    *NetworkInput    `json:"network,omitempty"`
}

// Subject is who asks.
type Subject struct {
	Agent    string `json:"agent"`
	SourceIP string `json:"source_ip,omitempty"`
}

// ToolInput describes a tool run.
type ToolInput struct {
	Name         string            `json:"name"`
	Command      string            `json:"command,omitempty"`
	Argv         []string          `json:"argv"`
	Cwd          string            `json:"cwd,omitempty"`
	Capabilities []Capability      `json:"capabilities"`
	Credentials  map[string]string `json:"credentials,omitempty"`
}

// Capability is one declared capability of a tool.
type Capability struct {
	Type     string   `json:"type"`
	Paths    []string `json:"paths,omitempty"`
	Hosts    []string `json:"hosts,omitempty"`
	Commands []string `json:"commands,omitempty"`
}

// PathInput is a file access.
type PathInput struct {
	Requested string   `json:"requested"`
	Resolved  string   `json:"resolved,omitempty"`
	Ancestors []string `json:"ancestors,omitempty"`
}

// CredentialInput is a credential read.
type CredentialInput struct {
	Provider string `json:"provider"`
}

// NetworkInput is an outbound connection.
type NetworkInput struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Ancestors lists every prefix of a clean absolute path on "/" boundaries,
// root first and the path itself last: /a/b gives [/, /a, /a/b]. Policies
// look each one up in an index instead of scanning configured paths.
func Ancestors(p string) []string {
	p = filepath.ToSlash(p)
	if p == "" || p[0] != '/' {
		return nil
	}
	out := []string{"/"}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	if p != "/" {
		out = append(out, strings.TrimSuffix(p, "/"))
	}
	return out
}

// value converts the input to an AST value directly, which is several
// times cheaper than OPA's reflection-and-JSON round trip on the hot path.
func (in *Input) value() ast.Value {
	obj := ast.NewObject()
	if in.Action != "" {
		obj.Insert(ast.InternedTerm("action"), ast.StringTerm(in.Action))
	}
	if s := in.Subject; s != nil {
		o := ast.NewObject(ast.Item(ast.InternedTerm("agent"), ast.StringTerm(s.Agent)))
		if s.SourceIP != "" {
			o.Insert(ast.InternedTerm("source_ip"), ast.StringTerm(s.SourceIP))
		}
		obj.Insert(ast.InternedTerm("subject"), ast.NewTerm(o))
	}
	if t := in.Tool; t != nil {
		o := ast.NewObject(
			ast.Item(ast.InternedTerm("name"), ast.StringTerm(t.Name)),
			ast.Item(ast.InternedTerm("argv"), stringsTerm(t.Argv)),
		)
		if t.Command != "" {
			o.Insert(ast.InternedTerm("command"), ast.StringTerm(t.Command))
		}
		if t.Cwd != "" {
			o.Insert(ast.InternedTerm("cwd"), ast.StringTerm(t.Cwd))
		}
		caps := make([]*ast.Term, 0, len(t.Capabilities))
		for _, c := range t.Capabilities {
			co := ast.NewObject(ast.Item(ast.InternedTerm("type"), ast.StringTerm(c.Type)))
			if c.Paths != nil {
				co.Insert(ast.InternedTerm("paths"), stringsTerm(c.Paths))
			}
			if c.Hosts != nil {
				co.Insert(ast.InternedTerm("hosts"), stringsTerm(c.Hosts))
			}
			if c.Commands != nil {
				co.Insert(ast.InternedTerm("commands"), stringsTerm(c.Commands))
			}
			caps = append(caps, ast.NewTerm(co))
		}
		o.Insert(ast.InternedTerm("capabilities"), ast.ArrayTerm(caps...))
		if t.Credentials != nil {
			co := ast.NewObject()
			for env, p := range t.Credentials {
				co.Insert(ast.StringTerm(env), ast.StringTerm(p))
			}
			o.Insert(ast.InternedTerm("credentials"), ast.NewTerm(co))
		}
		obj.Insert(ast.InternedTerm("tool"), ast.NewTerm(o))
	}
	if p := in.Path; p != nil {
		o := ast.NewObject(ast.Item(ast.InternedTerm("requested"), ast.StringTerm(p.Requested)))
		if p.Resolved != "" {
			o.Insert(ast.InternedTerm("resolved"), ast.StringTerm(p.Resolved))
		}
		if p.Ancestors != nil {
			o.Insert(ast.InternedTerm("ancestors"), stringsTerm(p.Ancestors))
		}
		obj.Insert(ast.InternedTerm("path"), ast.NewTerm(o))
	}
	if c := in.Credential; c != nil {
		obj.Insert(ast.InternedTerm("credential"), ast.ObjectTerm(ast.Item(ast.InternedTerm("provider"), ast.StringTerm(c.Provider))))
	}
	if n := in.Network; n != nil {
		obj.Insert(ast.InternedTerm("network"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("host"), ast.StringTerm(n.Host)),
			ast.Item(ast.InternedTerm("port"), ast.IntNumberTerm(n.Port)),
		))
	}
	return obj
}

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}
