package broker

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
)

// maxPathLen bounds a requested path.
const maxPathLen = 4096

// resolvedPath is a request path after cleaning and symlink resolution.
type resolvedPath struct {
	Requested string
	Clean     string // absolute, cleaned, symlinks not yet resolved
	Resolved  string // symlinks resolved in the longest existing prefix
}

// ResolveWorkspacePath turns a request path (relative to the workspace, or
// absolute) into the real location a policy must judge: cleaned ("..")
// and resolved through every symlink that exists.
func ResolveWorkspacePath(workspace, requested string) (resolvedPath, error) {
	if requested == "" {
		return resolvedPath{}, invalid("path", "must not be empty")
	}
	if len(requested) > maxPathLen {
		return resolvedPath{}, invalid("path", "longer than %d bytes", maxPathLen)
	}
	if strings.IndexByte(requested, 0) >= 0 {
		return resolvedPath{}, invalid("path", "contains a NUL byte")
	}
	p := requested
	if p == "~" || strings.HasPrefix(p, "~/") {
		// Agents say ~ for the home of the user the broker runs as.
		home, err := os.UserHomeDir()
		if err != nil {
			return resolvedPath{}, invalid("path", "~ cannot be expanded: no home directory")
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(workspace, p)
	}
	clean := filepath.Clean(p)
	return resolvedPath{Requested: requested, Clean: clean, Resolved: config.ResolveExisting(clean)}, nil
}

func (r resolvedPath) input() *policy.PathInput {
	return &policy.PathInput{Requested: r.Requested, Resolved: r.Resolved, Ancestors: policy.Ancestors(r.Resolved)}
}

// rootFor picks the allowed root (the workspace or an allowed path) that
// contains p, the longest one when several do.
func rootFor(cfg *config.Config, p string) (string, bool) {
	best := ""
	for _, r := range append([]string{cfg.Workspace.Path}, cfg.Workspace.AllowedPaths...) {
		if within(r, p) && len(r) > len(best) {
			best = r
		}
	}
	return best, best != ""
}

// within reports whether p is root or under it, on "/" boundaries.
func within(root, p string) bool {
	if root == p {
		return true
	}
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, root+string(filepath.Separator))
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// relTo returns p relative to root; both are clean and p is within root.
func relTo(root, p string) string {
	if p == root {
		return "."
	}
	return strings.TrimPrefix(strings.TrimPrefix(p, root), string(filepath.Separator))
}

func ensureDir(path string) error { return os.MkdirAll(path, 0o700) }
