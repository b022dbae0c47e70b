# Package clawbroker.path decides path.read and path.write, and offers the
# same checks as functions to clawbroker.tool for capability paths and the
# working directory.
#
# Every check is a lookup keyed by one of the path's ancestors, never a scan
# of the configured lists, so a decision costs the same with 10 or 10,000
# denied paths. Ancestors are whole prefixes on "/" boundaries, which is why
# /home/u/.ssh2 is not under /home/u/.ssh.
package clawbroker.path

import data.clawbroker.config

# Persistence locations: files and directories that something other than the
# agent later runs or obeys (a shell, git, an editor, a package manager, the
# desktop session). A write there outlives the sandbox and runs outside it,
# so writes are refused unless an ancestor is in
# workspace.persistence_allowed. Keys are one path component, or two
# consecutive components joined by "/", in lower case (macOS and Windows
# file systems ignore case, so .Git/hooks is .git/hooks there); each matches
# anywhere in the path. Deliberately left out: .pypirc (holds upload
# credentials, runs nothing) and .github/workflows (runs in CI only after a
# person pushes it, and editing workflows is ordinary work for a coding agent).
persistence_locations := {
	# Shells read these at startup.
	".bashrc": "a bash startup file, run by every interactive bash",
	".bash_profile": "a bash login file, run by every login shell",
	".bash_login": "a bash login file, run by every login shell",
	".bash_logout": "a bash logout file, run when a login shell exits",
	".profile": "a login shell profile, run by every login shell",
	".zshrc": "a zsh startup file, run by every interactive zsh",
	".zshenv": "a zsh startup file, run by every zsh",
	".zprofile": "a zsh login file, run by every login zsh",
	".zlogin": "a zsh login file, run by every login zsh",
	".zlogout": "a zsh logout file, run when a login zsh exits",
	".kshrc": "a ksh startup file, run by every interactive ksh",
	".cshrc": "a csh startup file, run by every csh",
	".tcshrc": "a tcsh startup file, run by every tcsh",
	".login": "a csh login file, run by every login csh",
	".config/fish": "fish configuration, sourced by every fish shell",
	".envrc": "a direnv file, run by the shell on entering the directory",
	".tmux.conf": "tmux configuration, whose run-shell lines run commands",
	# Remote access and signing.
	".ssh": "SSH keys, authorized_keys and client config (ProxyCommand runs commands)",
	".gnupg": "GnuPG configuration, which names programs gpg runs",
	# Git runs hooks and config-named programs on later commands.
	".git/hooks": "git hooks, run by later git commands",
	".git/config": "a repository's git config (core.fsmonitor, core.sshCommand and aliases run commands)",
	".gitconfig": "the user's git config (core.fsmonitor, core.sshCommand and aliases run commands)",
	".config/git": "the user's git config (core.fsmonitor, core.sshCommand and aliases run commands)",
	".husky": "husky git hooks, run by later git commands",
	# Editors, IDEs and agents run tasks and servers named in these.
	".vscode": "VS Code workspace settings and tasks, which run commands when the folder opens",
	".idea": "JetBrains project settings and run configurations",
	".devcontainer": "a dev container definition, whose lifecycle commands run on open",
	".vimrc": "vim configuration, run by every vim",
	".exrc": "vi configuration, run by vi in this directory",
	".config/nvim": "neovim configuration, run by every neovim",
	".emacs": "emacs configuration, run by every emacs",
	".emacs.d": "emacs configuration, run by every emacs",
	".mcp.json": "an MCP server list; agents start the commands it names",
	".claude": "agent settings whose hooks and MCP servers run commands",
	".cursor": "agent settings whose hooks and MCP servers run commands",
	# Package managers and CLIs that run programs their config names.
	".npmrc": "npm config (script-shell and node-options run code on every npm run)",
	".yarnrc": "yarn config (yarn-path runs the named script on every yarn command)",
	".yarnrc.yml": "yarn config (yarnPath runs the named script on every yarn command)",
	".cargo/config": "cargo config (build.rustc-wrapper runs the named program)",
	".cargo/config.toml": "cargo config (build.rustc-wrapper runs the named program)",
	".docker/config.json": "docker config (credHelpers run docker-credential programs)",
	".kube/config": "kubeconfig (exec credential plugins run commands)",
	".aws/config": "AWS config (credential_process runs commands)",
	# Desktop sessions start these at login.
	".config/autostart": "desktop autostart entries, run at login",
	".config/systemd": "systemd user units, run by the user's service manager",
	"library/launchagents": "macOS LaunchAgents, run at login",
	".xinitrc": "an X session script, run at login",
	".xprofile": "an X session script, run at login",
	".xsession": "an X session script, run at login",
}

# The request's own path is checked by rules over input, not through the
# functions further down: a rule is evaluated once and cached, so the allow
# rule reuses input_under_allowed instead of walking the ancestors again.
# This is the hot path of the broker; keep it to lookups.

# Reasons a path.read request is denied.
read_denials contains reason if some reason in request_problems

read_denials contains outside_reason(input.path.resolved) if {
	request_valid
	not input_under_allowed
}

read_denials contains denied_reason(input.path.resolved, a) if {
	request_valid
	some a in input.path.ancestors
	config.index.denied_paths[a]
}

read_denials contains protected_reason(input.path.resolved, a, what) if {
	request_valid
	some a in input.path.ancestors
	what := config.protected_paths[a]
}

# Reasons a path.write request is denied: those of a read, plus persistence.
write_denials contains reason if some reason in read_denials

write_denials contains reason if {
	request_valid
	some reason in persistence_reasons(input.path.resolved, input.path.ancestors)
}

# Fast path for the common allow, in as few rules as possible (each rule
# evaluated costs about as much as a store lookup): a well-formed request
# with an allowed ancestor and no denied or protected one. authz answers
# allow straight from it and computes reasons only when it fails, so these
# conditions must imply that read_denials is empty; the tests check that.
read_clear if {
	p := input.path.resolved
	is_string(p)
	startswith(p, "/")
	clean(p)
	ancestors := input.path.ancestors
	ancestors[count(ancestors) - 1] == p
	input_under_allowed
	not input_blocked
}

write_clear if {
	read_clear
	not input_persistence_hit
}

# Binding the object before the loop saves a reference walk per ancestor.
input_blocked if {
	denied := config.index.denied_paths
	some a in input.path.ancestors
	denied[a]
}

input_blocked if {
	protected := config.protected_paths
	some a in input.path.ancestors
	protected[a]
}

input_persistence_hit if count(persistence_reasons(input.path.resolved, input.path.ancestors)) > 0

# The positive side of the decision: authz allows only when this holds too,
# so a reason that failed to render can never turn into an allow.
read_allowed if {
	count(read_denials) == 0
	input_under_allowed
}

write_allowed if {
	count(write_denials) == 0
	input_under_allowed
}

input_under_allowed if {
	allowed := config.index.allowed_paths
	some a in input.path.ancestors
	allowed[a]
}

request_valid if count(request_problems) == 0

# A negated expression over a missing input field is not true in Rego (the
# field is looked up outside the negation), so presence is tested by rules.
request_problems contains "path request has no resolved path (input.path.resolved must be a string)" if {
	not has_resolved
}

request_problems contains reason if {
	has_resolved
	some reason in format_problems(input.path.resolved)
}

request_problems contains "path request has no ancestors list (input.path.ancestors)" if {
	not has_ancestors
}

request_problems contains sprintf("ancestors list for path %s does not end with the path itself", [input.path.resolved]) if {
	has_resolved
	has_ancestors
	not ancestors_end_with_path
}

has_resolved if is_string(input.path.resolved)

has_ancestors if is_array(input.path.ancestors)

ancestors_end_with_path if {
	ancestors := input.path.ancestors
	ancestors[count(ancestors) - 1] == input.path.resolved
}

# format_problems(p) says why p is not an absolute, cleaned path; empty when
# it is one. The ancestor lookups are only sound on cleaned paths.
format_problems(p) := {sprintf("path %q is not absolute", [p])} if {
	not startswith(p, "/")
} else := {sprintf("path %q is not clean (it has an empty, \".\" or \"..\" component, a trailing slash or a NUL byte)", [p])} if {
	not clean(p)
} else := set()

# clean(p) holds for a cleaned absolute path: no "//", no "." or ".."
# component, no trailing "/" other than the root, no NUL byte. It sits on
# the fast path of every path decision, where one regular expression
# (compiled once, cached by OPA) measured cheaper than seven string tests.
clean("/")

clean(p) if not regex.match(`//|/\.\.?(/|$)|[^/]/$|\x00`, p)

# ancestors_of(p) lists every prefix of the clean absolute path p on "/"
# boundaries, root first and p last, like input.path.ancestors.
ancestors_of("/") := ["/"]

ancestors_of(p) := array.concat(["/"], [concat("/", array.slice(parts, 0, i + 1)) |
	some i in numbers.range(1, count(parts) - 1)
]) if {
	p != "/"
	parts := split(p, "/")
}

# read_reasons_for and write_reasons_for check a path given alone (a
# capability path, a working directory): format first, then the rules.
read_reasons_for(p) := problems if {
	problems := format_problems(p)
	count(problems) > 0
} else := read_reasons(p, ancestors_of(p))

write_reasons_for(p) := problems if {
	problems := format_problems(p)
	count(problems) > 0
} else := write_reasons(p, ancestors_of(p))

read_reasons(p, ancestors) := (not_allowed_reasons(p, ancestors) | denied_reasons(p, ancestors)) | protected_reasons(p, ancestors)

write_reasons(p, ancestors) := read_reasons(p, ancestors) | persistence_reasons(p, ancestors)

under_allowed(ancestors) if {
	some a in ancestors
	config.index.allowed_paths[a]
}

default workspace := "(none configured)"

workspace := config.workspace if is_string(config.workspace)

not_allowed_reasons(p, ancestors) := set() if {
	under_allowed(ancestors)
} else := {outside_reason(p)}

outside_reason(p) := sprintf("path %s is outside the workspace %s and every allowed path (workspace.allowed_paths)", [p, workspace])

denied_reasons(p, ancestors) := {denied_reason(p, a) |
	some a in ancestors
	config.index.denied_paths[a]
}

denied_reason(p, p) := sprintf("path %s is a denied path (workspace.denied_paths)", [p])

denied_reason(p, a) := sprintf("path %s is under denied path %s", [p, a]) if p != a

# Protected paths are the broker's own files; no config can open them.
protected_reasons(p, ancestors) := {protected_reason(p, a, what) |
	some a in ancestors
	what := config.protected_paths[a]
}

protected_reason(p, p, what) := sprintf("path %s is %v, which is always denied", [p, what])

protected_reason(p, a, what) := sprintf("path %s is under %v %s, which is always denied", [p, what, a]) if p != a

persistence_reasons(p, ancestors) := set() if {
	some a in ancestors
	config.index.persistence_allowed[a]
} else := {sprintf("path %s is a persistence location: %s is %s; writing it needs the path under workspace.persistence_allowed", [p, key, persistence_locations[key]]) |
	some key in persistence_hits(p)
}

persistence_hits(p) := singles | pairs if {
	parts := split(lower(p), "/")
	singles := {c | some c in parts; persistence_locations[c]}
	pairs := {k |
		some i, c in parts
		k := concat("/", [c, parts[i + 1]])
		persistence_locations[k]
	}
}
