package clawbroker.path_test

import data.clawbroker.path

config := {
	"workspace": "/w",
	"protected_paths": {
		"/s/credentials.enc.json": "the credential store",
		"/s/policies": "the policy directory",
	},
	"index": {
		"allowed_paths": {"/w": true, "/p": true},
		"denied_paths": {"/w/secret": true, "/p/.ssh": true},
		"persistence_allowed": {"/w/dotfiles": true},
	},
}

request(p) := {"path": {"requested": p, "resolved": p, "ancestors": path.ancestors_of(p)}}

read_denials(p) := r if {
	r := path.read_denials with input as request(p)
		with data.clawbroker.config as config
}

write_denials(p) := r if {
	r := path.write_denials with input as request(p)
		with data.clawbroker.config as config
}

read_allowed(p) if path.read_allowed with input as request(p)
	with data.clawbroker.config as config

write_allowed(p) if path.write_allowed with input as request(p)
	with data.clawbroker.config as config

test_ancestors_of_root if path.ancestors_of("/") == ["/"]

test_ancestors_of_nested_path if path.ancestors_of("/a/b/c") == ["/", "/a", "/a/b", "/a/b/c"]

test_read_in_workspace_allowed if {
	read_denials("/w/notes/a.txt") == set()
	read_allowed("/w/notes/a.txt")
}

test_read_workspace_itself_allowed if read_allowed("/w")

test_read_allowed_path_allowed if read_allowed("/p/src/main.go")

test_read_outside_allowed_paths_denied if {
	read_denials("/etc/passwd") == {"path /etc/passwd is outside the workspace /w and every allowed path (workspace.allowed_paths)"}
	not read_allowed("/etc/passwd")
}

test_read_sibling_with_allowed_prefix_denied if {
	read_denials("/wx/a") == {"path /wx/a is outside the workspace /w and every allowed path (workspace.allowed_paths)"}
}

test_read_root_denied_as_outside if {
	read_denials("/") == {"path / is outside the workspace /w and every allowed path (workspace.allowed_paths)"}
}

test_read_under_denied_path_denied if {
	read_denials("/w/secret/key") == {"path /w/secret/key is under denied path /w/secret"}
	not read_allowed("/w/secret/key")
}

test_read_denied_path_itself_denied if {
	read_denials("/w/secret") == {"path /w/secret is a denied path (workspace.denied_paths)"}
}

test_read_sibling_of_denied_path_allowed if read_allowed("/w/secret2/key")

test_denied_path_wins_over_allowed_path if {
	read_denials("/p/.ssh/id_rsa") == {"path /p/.ssh/id_rsa is under denied path /p/.ssh"}
	not read_allowed("/p/.ssh/id_rsa")
}

test_read_protected_path_itself_denied if {
	read_denials("/s/credentials.enc.json") == {
		"path /s/credentials.enc.json is outside the workspace /w and every allowed path (workspace.allowed_paths)",
		"path /s/credentials.enc.json is the credential store, which is always denied",
	}
}

test_read_under_protected_path_denied_even_when_allowed if {
	r := path.read_denials with input as request("/s/policies/authz.rego")
		with data.clawbroker.config as json.patch(config, [{"op": "add", "path": "/index/allowed_paths/~1s", "value": true}])
	r == {"path /s/policies/authz.rego is under the policy directory /s/policies, which is always denied"}
}

test_missing_resolved_path_denied if {
	r := path.read_denials with input as {"path": {"requested": "a", "ancestors": ["/"]}}
		with data.clawbroker.config as config
	r == {"path request has no resolved path (input.path.resolved must be a string)"}
}

test_non_string_resolved_path_denied if {
	r := path.read_denials with input as {"path": {"resolved": 7, "ancestors": ["/"]}}
		with data.clawbroker.config as config
	r == {"path request has no resolved path (input.path.resolved must be a string)"}
}

test_missing_path_object_denied if {
	r := path.read_denials with input as {} with data.clawbroker.config as config
	r == {
		"path request has no resolved path (input.path.resolved must be a string)",
		"path request has no ancestors list (input.path.ancestors)",
	}
}

test_relative_path_denied if {
	r := path.read_denials with input as {"path": {"resolved": "w/a", "ancestors": ["w/a"]}}
		with data.clawbroker.config as config
	r == {"path \"w/a\" is not absolute"}
}

unclean_message(p) := sprintf("path %q is not clean (it has an empty, \".\" or \"..\" component, a trailing slash or a NUL byte)", [p])

unclean_denials(p) := r if {
	r := path.read_denials with input as {"path": {"resolved": p, "ancestors": ["/", p]}}
		with data.clawbroker.config as config
}

test_double_slash_denied if unclean_denials("/w//a") == {unclean_message("/w//a")}

test_dot_component_denied if unclean_denials("/w/./a") == {unclean_message("/w/./a")}

test_dotdot_component_denied if unclean_denials("/w/../etc") == {unclean_message("/w/../etc")}

test_trailing_dot_denied if unclean_denials("/w/.") == {unclean_message("/w/.")}

test_trailing_dotdot_denied if unclean_denials("/w/..") == {unclean_message("/w/..")}

test_trailing_slash_denied if unclean_denials("/w/a/") == {unclean_message("/w/a/")}

test_nul_byte_denied if unclean_denials("/w/a\u0000b") == {unclean_message("/w/a\u0000b")}

test_dotfile_name_is_clean if read_allowed("/w/..hidden/.x")

test_missing_ancestors_denied if {
	r := path.read_denials with input as {"path": {"resolved": "/w/a"}}
		with data.clawbroker.config as config
	r == {"path request has no ancestors list (input.path.ancestors)"}
}

test_ancestors_not_ending_with_path_denied if {
	r := path.read_denials with input as {"path": {"resolved": "/w/secret/k", "ancestors": ["/", "/w"]}}
		with data.clawbroker.config as config
	r == {"ancestors list for path /w/secret/k does not end with the path itself"}
}

test_missing_workspace_named_in_reason if {
	r := path.read_denials with input as request("/etc/passwd")
		with data.clawbroker.config as json.remove(config, ["workspace"])
	r == {"path /etc/passwd is outside the workspace (none configured) and every allowed path (workspace.allowed_paths)"}
}

test_missing_config_denies_everything if {
	r := path.read_denials with input as request("/w/a") with data.clawbroker.config as {}
	r == {"path /w/a is outside the workspace (none configured) and every allowed path (workspace.allowed_paths)"}
}

test_write_in_workspace_allowed if {
	write_denials("/w/src/main.go") == set()
	write_allowed("/w/src/main.go")
}

test_write_applies_read_rules if {
	write_denials("/w/secret/key") == {"path /w/secret/key is under denied path /w/secret"}
	not write_allowed("/w/secret/key")
}

test_write_request_problems_denied if {
	r := path.write_denials with input as {"path": {"resolved": "/w/a"}}
		with data.clawbroker.config as config
	r == {"path request has no ancestors list (input.path.ancestors)"}
}

test_write_git_hook_denied if {
	write_denials("/w/repo/.git/hooks/pre-commit") == {"path /w/repo/.git/hooks/pre-commit is a persistence location: .git/hooks is git hooks, run by later git commands; writing it needs the path under workspace.persistence_allowed"}
	not write_allowed("/w/repo/.git/hooks/pre-commit")
}

test_write_git_config_denied if {
	write_denials("/w/.git/config") == {"path /w/.git/config is a persistence location: .git/config is a repository's git config (core.fsmonitor, core.sshCommand and aliases run commands); writing it needs the path under workspace.persistence_allowed"}
}

test_write_shell_startup_file_denied if {
	write_denials("/w/.bashrc") == {"path /w/.bashrc is a persistence location: .bashrc is a bash startup file, run by every interactive bash; writing it needs the path under workspace.persistence_allowed"}
}

test_write_inside_persistence_directory_denied if {
	write_denials("/w/.vscode/tasks.json") == {"path /w/.vscode/tasks.json is a persistence location: .vscode is VS Code workspace settings and tasks, which run commands when the folder opens; writing it needs the path under workspace.persistence_allowed"}
}

test_write_persistence_match_ignores_case if {
	write_denials("/w/.Git/Hooks/post-checkout") == {"path /w/.Git/Hooks/post-checkout is a persistence location: .git/hooks is git hooks, run by later git commands; writing it needs the path under workspace.persistence_allowed"}
}

test_write_mcp_config_denied if count(write_denials("/w/.mcp.json")) == 1

test_write_autostart_denied if count(write_denials("/w/home/.config/autostart/x.desktop")) == 1

test_write_git_objects_allowed if write_allowed("/w/.git/objects/ab/cdef")

test_write_hooks_outside_git_allowed if write_allowed("/w/src/hooks/use_thing.ts")

test_write_persistence_allowed_opt_in if write_allowed("/w/dotfiles/.bashrc")

test_read_persistence_location_allowed if read_allowed("/w/.git/hooks/pre-commit")

test_read_reasons_for_checks_format_first if {
	path.read_reasons_for("relative") == {"path \"relative\" is not absolute"}
}

test_write_reasons_for_checks_format_first if {
	path.write_reasons_for("/w//a") == {unclean_message("/w//a")}
}

test_write_reasons_for_clean_path if {
	r := path.write_reasons_for("/w/.ssh") with data.clawbroker.config as config
	r == {"path /w/.ssh is a persistence location: .ssh is SSH keys, authorized_keys and client config (ProxyCommand runs commands); writing it needs the path under workspace.persistence_allowed"}
}

# The fast path authz allows from must never allow what the reasons deny.
read_clear(inp) if path.read_clear with input as inp with data.clawbroker.config as config

write_clear(inp) if path.write_clear with input as inp with data.clawbroker.config as config

test_fast_path_allows_workspace_file if read_clear(request("/w/notes/a.txt"))

test_fast_path_allows_root_when_allowed if {
	cfg := json.patch(config, [{"op": "add", "path": "/index/allowed_paths/~1", "value": true}])
	path.read_clear with input as request("/") with data.clawbroker.config as cfg
}

test_fast_path_misses_outside_path if not read_clear(request("/etc/passwd"))

test_fast_path_misses_denied_path if not read_clear(request("/p/.ssh/id_rsa"))

test_fast_path_misses_protected_path if {
	cfg := json.patch(config, [{"op": "add", "path": "/index/allowed_paths/~1s", "value": true}])
	not path.read_clear with input as request("/s/policies/a.rego") with data.clawbroker.config as cfg
}

test_fast_path_misses_unclean_path if not read_clear({"path": {"resolved": "/w/../etc", "ancestors": ["/", "/w", "/w/..", "/w/../etc"]}})

test_fast_path_misses_relative_path if not read_clear({"path": {"resolved": "w/a", "ancestors": ["/w", "w/a"]}})

test_fast_path_misses_mismatched_ancestors if not read_clear({"path": {"resolved": "/etc/x", "ancestors": ["/", "/w"]}})

test_fast_path_misses_missing_path if not read_clear({})

test_fast_path_write_misses_persistence if not write_clear(request("/w/.git/hooks/pre-push"))

test_fast_path_write_allows_opted_in_persistence if write_clear(request("/w/dotfiles/.zshrc"))

test_fast_path_write_allows_plain_file if write_clear(request("/w/src/a.go"))
