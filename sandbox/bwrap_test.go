package sandbox

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

var (
	mergedUsr = hostLayout{
		Dirs: []string{"/usr"},
		Symlinks: []symlink{
			{Target: "usr/bin", Path: "/bin"},
			{Target: "usr/sbin", Path: "/sbin"},
			{Target: "usr/lib", Path: "/lib"},
			{Target: "usr/lib64", Path: "/lib64"},
		},
	}
	splitUsr = hostLayout{Dirs: []string{"/usr", "/bin", "/sbin", "/lib", "/lib64"}}
)

func TestBwrapArgsGolden(t *testing.T) {
	tests := []struct {
		name   string
		layout hostLayout
		rs     resolvedSpec
	}{
		{
			name:   "minimal",
			layout: mergedUsr,
			rs:     resolvedSpec{Command: "/usr/bin/true", Dir: "/"},
		},
		{
			name:   "workspace_under_tmp",
			layout: mergedUsr,
			rs: resolvedSpec{
				Command: "/usr/bin/git",
				Args:    []string{"status", "--short"},
				Env:     []string{"HOME=/tmp/home", "PATH=/usr/bin:/bin", "EQ=a=b"},
				Dir:     "/tmp/home/ws",
				Mounts: []mount{
					{Path: "/tmp/home/ws", Writable: true},
					{Path: "/tmp/home/ws/.git/hooks"},
				},
			},
		},
		{
			name:   "network_split_usr",
			layout: splitUsr,
			rs: resolvedSpec{
				Command: "/opt/tool/bin/fetch",
				Args:    []string{"--url", "https://example.com/a b"},
				Dir:     "/srv/data",
				Network: true,
				Mounts: []mount{
					{Path: "/opt/tool/bin/fetch"},
					{Path: "/srv/data", Writable: true},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := bwrapArgs(tt.rs, tt.layout, bwrapFDs{Seccomp: 3, Info: 4, Block: 5})
			checkGolden(t, "bwrap_"+tt.name+".golden", strings.Join(args, "\n")+"\n")
		})
	}
}

func TestBwrapArgsOrder(t *testing.T) {
	rs := resolvedSpec{
		Command: "/usr/bin/true",
		Dir:     "/tmp/ws",
		Mounts:  []mount{{Path: "/tmp/ws", Writable: true}},
	}
	args := bwrapArgs(rs, mergedUsr, bwrapFDs{3, 4, 5})
	tmpfs := slices.Index(args, "--tmpfs")
	bind := slices.Index(args, "--bind")
	if tmpfs < 0 || bind < 0 || bind < tmpfs {
		t.Fatalf("got --tmpfs at %d and --bind at %d, want the workspace bound after the /tmp tmpfs", tmpfs, bind)
	}
	if got, want := args[len(args)-2:], []string{"--", "/usr/bin/true"}; !slices.Equal(got, want) {
		t.Fatalf("got tail %q, want %q", got, want)
	}
	for _, forbidden := range []string{"/etc/shadow", "/etc/resolv.conf", "--share-net"} {
		if slices.Contains(args, forbidden) {
			t.Errorf("got %s in argv without network, want it absent", forbidden)
		}
	}
}

// fakeFS is a file system for resolveSpec: links maps a path to what it
// resolves to, modes says what exists.
type fakeFS struct {
	links map[string]string
	modes map[string]fs.FileMode
}

func (f fakeFS) resolver() resolver {
	return resolver{
		evalSymlinks: func(p string) (string, error) {
			if r, ok := f.links[p]; ok {
				return r, nil
			}
			if _, ok := f.modes[p]; ok {
				return p, nil
			}
			return "", fs.ErrNotExist
		},
		stat: func(p string) (fs.FileMode, error) {
			if m, ok := f.modes[p]; ok {
				return m, nil
			}
			return 0, fs.ErrNotExist
		},
	}
}

func TestResolveSpec(t *testing.T) {
	fsys := fakeFS{
		links: map[string]string{
			"/bin/sh":        "/usr/bin/dash",
			"/home/u/link":   "/home/u/ws",
			"/home/u/tool":   "/opt/t/tool",
			"/home/u/ws/etc": "/etc",
		},
		modes: map[string]fs.FileMode{
			"/usr/bin/dash": 0o755,
			"/usr/bin/data": 0o644,
			"/opt/t/tool":   0o755,
			"/home/u/ws":    fs.ModeDir | 0o755,
			"/home/u/ws/a":  fs.ModeDir | 0o755,
			"/home/u/docs":  fs.ModeDir | 0o755,
			"/home/u/file":  0o644,
			"/etc":          fs.ModeDir | 0o755,
			"/proc/self":    fs.ModeDir | 0o555,
			"/":             fs.ModeDir | 0o755,
		},
	}
	system := []string{"/usr"}
	tests := []struct {
		name       string
		spec       Spec
		wantCmd    string
		wantDir    string
		wantMounts []mount
		wantErr    error
	}{
		{
			name:       "symlinks resolved, parents first",
			spec:       Spec{Command: "/bin/sh", ReadWritePaths: []string{"/home/u/link"}, ReadOnlyPaths: []string{"/home/u/ws/a"}},
			wantCmd:    "/usr/bin/dash",
			wantDir:    "/home/u/ws",
			wantMounts: []mount{{Path: "/home/u/ws", Writable: true}, {Path: "/home/u/ws/a"}},
		},
		{
			name:       "symlink in workspace bound as its target",
			spec:       Spec{Command: "/bin/sh", ReadOnlyPaths: []string{"/home/u/ws/etc"}},
			wantCmd:    "/usr/bin/dash",
			wantDir:    "/etc",
			wantMounts: []mount{{Path: "/etc"}},
		},
		{
			name:       "command outside binds gets its own mount",
			spec:       Spec{Command: "/home/u/tool", Dir: "/home/u/ws", ReadWritePaths: []string{"/home/u/ws"}},
			wantCmd:    "/opt/t/tool",
			wantDir:    "/home/u/ws",
			wantMounts: []mount{{Path: "/home/u/ws", Writable: true}, {Path: "/opt/t/tool"}},
		},
		{
			name:    "no paths runs in /",
			spec:    Spec{Command: "/bin/sh"},
			wantCmd: "/usr/bin/dash",
			wantDir: "/",
		},
		{name: "relative command", spec: Spec{Command: "sh"}, wantErr: ErrInvalidSpec},
		{name: "missing command", spec: Spec{Command: "/usr/bin/nope"}, wantErr: ErrInvalidSpec},
		{name: "command not executable", spec: Spec{Command: "/usr/bin/data"}, wantErr: ErrInvalidSpec},
		{name: "missing path", spec: Spec{Command: "/bin/sh", ReadOnlyPaths: []string{"/home/u/gone"}}, wantErr: ErrInvalidSpec},
		{name: "dir outside binds", spec: Spec{Command: "/bin/sh", Dir: "/home/u/docs", ReadWritePaths: []string{"/home/u/ws"}}, wantErr: ErrInvalidSpec},
		{name: "dir is a file", spec: Spec{Command: "/bin/sh", Dir: "/home/u/file", ReadOnlyPaths: []string{"/home/u/file"}}, wantErr: ErrInvalidSpec},
		{name: "ro and rw after resolving", spec: Spec{Command: "/bin/sh", ReadOnlyPaths: []string{"/home/u/ws"}, ReadWritePaths: []string{"/home/u/link"}}, wantErr: ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := resolveSpec(tt.spec, fsys.resolver(), system)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if rs.Command != tt.wantCmd || rs.Dir != tt.wantDir {
				t.Fatalf("got command %q dir %q, want %q and %q", rs.Command, rs.Dir, tt.wantCmd, tt.wantDir)
			}
			if !slices.Equal(rs.Mounts, tt.wantMounts) {
				t.Fatalf("got mounts %v, want %v", rs.Mounts, tt.wantMounts)
			}
		})
	}
}

func TestCheckLinuxMounts(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/", false},
		{"/proc", false},
		{"/proc/1", false},
		{"/dev/sda", false},
		{"/sys/fs/cgroup", false},
		{"/devices", true},
		{"/home/u/ws", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := checkLinuxMounts(resolvedSpec{Mounts: []mount{{Path: tt.path}}})
			if got := err == nil; got != tt.ok {
				t.Fatalf("got ok=%v (%v), want %v", got, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("got %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		p, root string
		want    bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b/c", "/a/b", true},
		{"/a/bc", "/a/b", false},
		{"/a", "/", true},
		{"/home/u/.ssh2", "/home/u/.ssh", false},
	}
	for _, tt := range tests {
		if got := within(tt.p, tt.root); got != tt.want {
			t.Errorf("within(%q, %q): got %v, want %v", tt.p, tt.root, got, tt.want)
		}
	}
}
