package config

import "sort"

// PolicyData is the document policies see at data.clawbroker.config: the
// config as lists (for people and for `opa eval`) plus an index of lookup
// objects keyed by path or name, so a rule looks a value up in O(1) instead
// of scanning a list. A rule over 150 paths that scans costs ~40x one that
// looks up the request path's ancestors.
func (c *Config) PolicyData() map[string]any {
	tools := make(map[string]any, len(c.Tools))
	toolCaps := make(map[string]any, len(c.Tools))
	for name, t := range c.Tools {
		caps := make([]any, 0, len(t.Capabilities))
		byType := map[string]map[string]any{
			CapFileRead: {}, CapFileWrite: {}, CapNetwork: {}, CapProcessExec: {},
		}
		for _, cp := range t.Capabilities {
			m := map[string]any{"type": cp.Type}
			switch cp.Type {
			case CapFileRead, CapFileWrite:
				m["paths"] = sortedList(cp.Paths)
				for _, p := range cp.Paths {
					byType[cp.Type][p] = true
				}
			case CapNetwork:
				m["hosts"] = sortedList(cp.Hosts)
				for _, h := range cp.Hosts {
					byType[cp.Type][h] = true
				}
			case CapProcessExec:
				m["commands"] = sortedList(cp.Commands)
				for _, x := range cp.Commands {
					byType[cp.Type][x] = true
				}
			}
			caps = append(caps, m)
		}
		creds := make(map[string]any, len(t.Credentials))
		for env, p := range t.Credentials {
			creds[env] = p
		}
		tools[name] = map[string]any{
			"command":      t.Command,
			"description":  t.Description,
			"capabilities": caps,
			"credentials":  creds,
			"allow_inline": t.AllowInline,
		}
		idx := make(map[string]any, len(byType))
		for k, v := range byType {
			idx[k] = v
		}
		toolCaps[name] = idx
	}
	agents := make(map[string]any, len(c.Agents))
	agentTools := make(map[string]any, len(c.Agents))
	agentCreds := make(map[string]any, len(c.Agents))
	for id, a := range c.Agents {
		agents[id] = map[string]any{"tools": sortedList(a.Tools), "credentials": sortedList(a.Credentials)}
		agentTools[id] = set(a.Tools)
		agentCreds[id] = set(a.Credentials)
	}
	allowed := set(c.Workspace.AllowedPaths)
	allowed[c.Workspace.Path] = true
	protected := make(map[string]any)
	for p, what := range c.ProtectedPaths() {
		protected[p] = what
	}
	return map[string]any{
		"workspace":           c.Workspace.Path,
		"allowed_paths":       sortedList(c.Workspace.AllowedPaths),
		"denied_paths":        sortedList(c.Workspace.DeniedPaths),
		"persistence_allowed": sortedList(c.Workspace.PersistenceAllowed),
		"protected_paths":     protected,
		"tools":               tools,
		"agents":              agents,
		"index": map[string]any{
			"allowed_paths":       allowed,
			"denied_paths":        set(c.Workspace.DeniedPaths),
			"persistence_allowed": set(c.Workspace.PersistenceAllowed),
			"agent_tools":         agentTools,
			"agent_credentials":   agentCreds,
			"tool_capabilities":   toolCaps,
		},
	}
}

// sortedList copies a list as []any, sorted, so the document is stable.
func sortedList(in []string) []any {
	s := append([]string(nil), in...)
	sort.Strings(s)
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func set(in []string) map[string]any {
	out := make(map[string]any, len(in))
	for _, v := range in {
		out[v] = true
	}
	return out
}
