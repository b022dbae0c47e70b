package sandbox

import (
	"cmp"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// mount is one host path made visible at the same place in the sandbox.
type mount struct {
	// Path is absolute, cleaned and free of symlinks.
	Path     string
	Writable bool
}

// resolvedSpec is a Spec whose paths have been resolved through symlinks
// and checked, ready for a per-OS builder.
type resolvedSpec struct {
	// Command is the resolved program; it is what runs.
	Command string
	Args    []string
	Env     []string
	Dir     string
	// Mounts are ordered parents first (fewer path elements, then by
	// name), so a nested mount is applied after the one that contains it.
	Mounts  []mount
	Network bool
	Stdin   []byte
	Limits  Limits
}

// resolver is the file system as resolveSpec sees it; tests pass fakes.
type resolver struct {
	// evalSymlinks returns the path with every symlink resolved, or an
	// error when it does not exist.
	evalSymlinks func(string) (string, error)
	// stat returns the mode of a path that exists.
	stat func(string) (fs.FileMode, error)
}

// resolveSpec resolves spec's paths with r. systemDirs are the resolved
// directories every sandbox sees read-only; the command and the working
// directory may lie there without being listed in the spec.
func resolveSpec(spec Spec, r resolver, systemDirs []string) (resolvedSpec, error) {
	if err := validateSpec(spec); err != nil {
		return resolvedSpec{}, err
	}
	rs := resolvedSpec{
		Args:    spec.Args,
		Env:     spec.Env,
		Network: spec.Network,
		Stdin:   spec.Stdin,
		Limits:  spec.Limits,
	}

	command, err := r.evalSymlinks(spec.Command)
	if err != nil {
		return resolvedSpec{}, invalidSpec("command %q cannot be resolved (%v): install the program or fix the path", spec.Command, err)
	}
	mode, err := r.stat(command)
	if err != nil || !mode.IsRegular() || mode.Perm()&0o111 == 0 {
		return resolvedSpec{}, invalidSpec("command %q is not an executable file: give the path of a program", spec.Command)
	}
	rs.Command = command

	writable := map[string]bool{}
	add := func(p string, rw bool) error {
		what := "read-only"
		if rw {
			what = "read-write"
		}
		resolved, err := r.evalSymlinks(p)
		if err != nil {
			return invalidSpec("%s path %q cannot be resolved (%v): create it or drop it from the spec", what, p, err)
		}
		resolved = filepath.Clean(resolved)
		if prev, seen := writable[resolved]; seen && prev != rw {
			return invalidSpec("path %q is both read-only and read-write (after resolving symlinks): list it once", p)
		}
		writable[resolved] = rw
		return nil
	}
	for _, p := range spec.ReadOnlyPaths {
		if err := add(p, false); err != nil {
			return resolvedSpec{}, err
		}
	}
	for _, p := range spec.ReadWritePaths {
		if err := add(p, true); err != nil {
			return resolvedSpec{}, err
		}
	}
	for p, rw := range writable {
		rs.Mounts = append(rs.Mounts, mount{Path: p, Writable: rw})
	}
	sortMounts(rs.Mounts)

	switch {
	case spec.Dir != "":
		dir, err := r.evalSymlinks(spec.Dir)
		if err != nil {
			return resolvedSpec{}, invalidSpec("working directory %q cannot be resolved (%v): create it or pick another", spec.Dir, err)
		}
		rs.Dir = filepath.Clean(dir)
	case len(spec.ReadWritePaths) > 0:
		rs.Dir = firstResolved(rs.Mounts, true)
	case len(spec.ReadOnlyPaths) > 0:
		rs.Dir = firstResolved(rs.Mounts, false)
	default:
		rs.Dir = string(filepath.Separator)
	}
	if rs.Dir != string(filepath.Separator) {
		if mode, err := r.stat(rs.Dir); err != nil || !mode.IsDir() {
			return resolvedSpec{}, invalidSpec("working directory %q is not a directory", spec.Dir)
		}
		if !withinAny(rs.Dir, mountPaths(rs.Mounts)) && !withinAny(rs.Dir, systemDirs) {
			return resolvedSpec{}, invalidSpec("working directory %q is outside every bound path: add it to the read-only or read-write paths", spec.Dir)
		}
	}

	// The program must be visible: bind the file itself when no bound
	// directory holds it.
	if !withinAny(rs.Command, systemDirs) && !withinAny(rs.Command, mountPaths(rs.Mounts)) {
		rs.Mounts = append(rs.Mounts, mount{Path: rs.Command})
		sortMounts(rs.Mounts)
	}
	return rs, nil
}

// firstResolved returns the shortest mount path with the given writability;
// callers only ask for a kind that exists.
func firstResolved(ms []mount, writable bool) string {
	for _, m := range ms {
		if m.Writable == writable {
			return m.Path
		}
	}
	return string(filepath.Separator)
}

// sortMounts orders mounts parents first, so that binding them in order
// never hides a nested mount under its parent.
func sortMounts(ms []mount) {
	slices.SortFunc(ms, func(a, b mount) int {
		if c := cmp.Compare(depth(a.Path), depth(b.Path)); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
}

// depth counts the elements of a cleaned absolute path; the root has 0.
func depth(p string) int {
	p = strings.Trim(filepath.ToSlash(p), "/")
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

func mountPaths(ms []mount) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Path
	}
	return out
}

// withinAny reports whether p is one of roots or lies beneath one of them,
// comparing whole path elements (/a/bc is not within /a/b).
func withinAny(p string, roots []string) bool {
	for _, root := range roots {
		if within(p, root) {
			return true
		}
	}
	return false
}

func within(p, root string) bool {
	p, root = filepath.ToSlash(p), filepath.ToSlash(root)
	if p == root {
		return true
	}
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	return strings.HasPrefix(p, root)
}

// osResolver resolves paths on the real file system.
var osResolver = resolver{
	evalSymlinks: filepath.EvalSymlinks,
	stat: func(p string) (fs.FileMode, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		return fi.Mode(), nil
	},
}
