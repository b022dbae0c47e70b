package clawbroker.tool_test

import data.clawbroker.tool

config := {
	"workspace": "/w",
	"protected_paths": {"/s/token": "the broker's token file"},
	"tools": {
		"git": {
			"command": "/usr/bin/git",
			"capabilities": [],
			"credentials": {"GITHUB_TOKEN": "github"},
			"allow_inline": false,
		},
		"sh": {"command": "/bin/sh", "capabilities": [], "credentials": {}, "allow_inline": true},
		"py": {"command": "/usr/bin/python3", "capabilities": [], "credentials": {}},
	},
	"index": {
		"allowed_paths": {"/w": true},
		"denied_paths": {"/w/secret": true},
		"persistence_allowed": {},
		"agent_tools": {"ci-bot": {"git": true, "sh": true, "py": true}, "default": {}},
		"agent_credentials": {"ci-bot": {"github": true}},
		"tool_capabilities": {
			"git": {
				"file_read": {"/w": true, "/etc": true, "/w/secret": true},
				"file_write": {"/w": true, "/w/.git/hooks": true},
				"network": {"github.com": true},
				"process_exec": {"/usr/bin/ssh": true},
			},
			"sh": {"file_read": {}, "file_write": {}, "network": {}, "process_exec": {}},
			"py": {"file_read": {}, "file_write": {}, "network": {}, "process_exec": {}},
		},
	},
}

git_request := {
	"subject": {"agent": "ci-bot"},
	"tool": {
		"name": "git",
		"command": "/usr/bin/git",
		"argv": ["status"],
		"cwd": "/w",
		"capabilities": [
			{"type": "file_write", "paths": ["/w"]},
			{"type": "network", "hosts": ["github.com"]},
			{"type": "process_exec", "commands": ["/usr/bin/ssh"]},
		],
		"credentials": {"GITHUB_TOKEN": "github"},
	},
}

# with_tool(fields) is git_request with input.tool fields replaced.
with_tool(fields) := object.union(git_request, {"tool": object.union(git_request.tool, fields)})

without_tool(key) := json.remove(git_request, [concat("/", ["tool", key])])

denials(inp) := r if {
	r := tool.denials with input as inp with data.clawbroker.config as config
}

allowed(inp) if tool.allowed with input as inp with data.clawbroker.config as config

# uses(command, argv) is every inline use found, without the rest of a request.
uses(command, argv) := r if {
	r := tool.inline_uses with input as {"tool": {"command": command, "argv": argv}}
}

inline(why) := sprintf("tool \"git\" %s; inline execution is not allowed for this tool (allow_inline is false)", [why])

test_declared_granted_tool_allowed if {
	denials(git_request) == set()
	allowed(git_request)
}

test_missing_tool_name_denied if {
	denials(without_tool("name")) == {"tool.exec request has no tool name (input.tool.name must be a string)"}
	not allowed(without_tool("name"))
}

test_missing_tool_object_denied if {
	denials({"subject": {"agent": "ci-bot"}}) == {"tool.exec request has no tool name (input.tool.name must be a string)"}
}

test_undeclared_tool_denied if {
	inp := {"subject": {"agent": "ci-bot"}, "tool": {"name": "rm", "command": "/bin/rm", "argv": ["-rf", "/w"]}}
	denials(inp) == {"tool \"rm\" is not declared in the config", "tool \"rm\" is not granted to agent \"ci-bot\""}
}

test_tool_not_granted_denied if {
	inp := object.union(git_request, {"subject": {"agent": "default"}})
	denials(inp) == {
		"tool \"git\" is not granted to agent \"default\"",
		"tool \"git\" credential GITHUB_TOKEN needs provider github, which is not granted to agent \"default\"",
	}
	not allowed(inp)
}

test_unknown_agent_denied if {
	inp := json.patch(git_request, [
		{"op": "replace", "path": "/subject/agent", "value": "nobody"},
		{"op": "remove", "path": "/tool/credentials"},
	])
	denials(inp) == {"tool \"git\" is not granted to agent \"nobody\""}
}

test_missing_agent_not_allowed if {
	inp := json.remove(git_request, ["subject"])
	denials(inp) == set()
	not allowed(inp)
}

test_missing_command_denied if {
	denials(without_tool("command")) == {"tool \"git\" request has no command (input.tool.command must be a string)"}
	not allowed(without_tool("command"))
}

test_other_command_denied if {
	denials(with_tool({"command": "/tmp/git"})) == {"tool \"git\" command /tmp/git is not its declared command /usr/bin/git"}
	not allowed(with_tool({"command": "/tmp/git"}))
}

test_argv_not_a_list_denied if {
	denials(with_tool({"argv": "status"})) == {"tool \"git\" arguments must be a list of strings (input.tool.argv)"}
}

test_argv_element_not_a_string_denied if {
	denials(with_tool({"argv": ["log", 3]})) == {"tool \"git\" argument 1 is not a string"}
}

test_missing_argv_allowed if allowed(without_tool("argv"))

test_capabilities_not_a_list_denied if {
	denials(with_tool({"capabilities": {"type": "network"}})) == {"tool \"git\" capabilities must be a list (input.tool.capabilities)"}
}

test_missing_capabilities_allowed if allowed(without_tool("capabilities"))

test_unknown_capability_type_denied if {
	denials(with_tool({"capabilities": [{"type": "raw_socket", "hosts": ["x"]}]})) == {"tool \"git\" requests a capability of unknown type \"raw_socket\""}
}

test_capability_without_type_denied if {
	denials(with_tool({"capabilities": [{"paths": ["/w"]}]})) == {"tool \"git\" requests a capability of unknown type null"}
}

test_capability_without_list_denied if {
	denials(with_tool({"capabilities": [{"type": "network"}]})) == {"tool \"git\" network capability has no hosts list"}
}

test_undeclared_network_host_denied if {
	denials(with_tool({"capabilities": [{"type": "network", "hosts": ["evil.test"]}]})) == {"tool \"git\" requests network on evil.test, which its config does not declare"}
	not allowed(with_tool({"capabilities": [{"type": "network", "hosts": ["evil.test"]}]}))
}

test_undeclared_process_exec_denied if {
	denials(with_tool({"capabilities": [{"type": "process_exec", "commands": ["/bin/sh"]}]})) == {"tool \"git\" requests process_exec on /bin/sh, which its config does not declare"}
}

test_capability_declared_for_other_type_denied if {
	denials(with_tool({"capabilities": [{"type": "file_write", "paths": ["/etc"]}]})) == {
		"tool \"git\" requests file_write on /etc, which its config does not declare",
		"tool \"git\" file_write capability: path /etc is outside the workspace /w and every allowed path (workspace.allowed_paths)",
	}
}

test_file_read_capability_outside_allowed_denied if {
	denials(with_tool({"capabilities": [{"type": "file_read", "paths": ["/etc"]}]})) == {"tool \"git\" file_read capability: path /etc is outside the workspace /w and every allowed path (workspace.allowed_paths)"}
}

test_file_read_capability_denied_path_denied if {
	denials(with_tool({"capabilities": [{"type": "file_read", "paths": ["/w/secret"]}]})) == {"tool \"git\" file_read capability: path /w/secret is a denied path (workspace.denied_paths)"}
}

test_file_read_capability_in_workspace_allowed if allowed(with_tool({"capabilities": [{"type": "file_read", "paths": ["/w"]}]}))

test_file_write_capability_persistence_denied if {
	denials(with_tool({"capabilities": [{"type": "file_write", "paths": ["/w/.git/hooks"]}]})) == {"tool \"git\" file_write capability: path /w/.git/hooks is a persistence location: .git/hooks is git hooks, run by later git commands; writing it needs the path under workspace.persistence_allowed"}
}

test_capability_path_not_clean_denied if {
	r := denials(with_tool({"capabilities": [{"type": "file_read", "paths": ["/w/../etc"]}]}))
	r == {
		"tool \"git\" requests file_read on /w/../etc, which its config does not declare",
		"tool \"git\" file_read capability: path \"/w/../etc\" is not clean (it has an empty, \".\" or \"..\" component, a trailing slash or a NUL byte)",
	}
}

test_cwd_outside_allowed_denied if {
	denials(with_tool({"cwd": "/s/token"})) == {
		"tool \"git\" working directory: path /s/token is outside the workspace /w and every allowed path (workspace.allowed_paths)",
		"tool \"git\" working directory: path /s/token is the broker's token file, which is always denied",
	}
}

test_cwd_not_a_string_denied if {
	denials(with_tool({"cwd": ["/w"]})) == {"tool \"git\" working directory must be a string path (input.tool.cwd)"}
}

test_cwd_relative_denied if {
	denials(with_tool({"cwd": "w"})) == {"tool \"git\" working directory: path \"w\" is not absolute"}
}

test_missing_cwd_allowed if allowed(without_tool("cwd"))

test_credentials_not_an_object_denied if {
	denials(with_tool({"credentials": ["github"]})) == {"tool \"git\" credentials must be an object of environment variable to provider (input.tool.credentials)"}
}

test_credential_not_declared_for_tool_denied if {
	denials(with_tool({"credentials": {"GH": "github"}})) == {"tool \"git\" credential GH from provider github is not declared for the tool"}
}

test_credential_not_granted_denied if {
	denials(with_tool({"credentials": {"GITHUB_TOKEN": "openai"}})) == {
		"tool \"git\" credential GITHUB_TOKEN needs provider openai, which is not granted to agent \"ci-bot\"",
		"tool \"git\" credential GITHUB_TOKEN from provider openai is not declared for the tool",
	}
}

test_inline_denied_without_allow_inline if {
	denials(with_tool({"argv": ["-c", "core.pager=sh", "log"]})) == {inline("passes -c to git before the subcommand, which sets config, and many keys (core.sshCommand, core.pager, core.fsmonitor, core.hooksPath, alias.*=!...) run commands")}
	not allowed(with_tool({"argv": ["-c", "core.pager=sh", "log"]}))
}

test_inline_allowed_with_allow_inline if {
	inp := {"subject": {"agent": "ci-bot"}, "tool": {"name": "sh", "command": "/bin/sh", "argv": ["-c", "make test"], "cwd": "/w"}}
	denials(inp) == set()
	allowed(inp)
}

test_inline_denied_when_allow_inline_absent if {
	inp := {"subject": {"agent": "ci-bot"}, "tool": {"name": "py", "command": "/usr/bin/python3", "argv": ["-c", "print(1)"]}}
	denials(inp) == {"tool \"py\" runs /usr/bin/python3 with inline code (-c); inline execution is not allowed for this tool (allow_inline is false)"}
}

test_program_name_strips_directory_case_exe_and_version if {
	tool.program("C:\\Program Files\\Python\\Python3.12.EXE") == "python"
}

test_shell_dash_c if uses("/bin/sh", ["-c", "id"]) == {"runs shell /bin/sh with inline code (-c)"}

test_shell_combined_flag_with_c if uses("/bin/bash", ["-lc", "id"]) == {"runs shell /bin/bash with inline code (-lc)"}

test_shell_long_command_option if uses("/usr/bin/fish", ["--command=id"]) == {"runs shell /usr/bin/fish with inline code (--command=id)"}

test_shell_dash_s_reads_stdin if uses("/bin/bash", ["-s", "x"]) == {"runs /bin/bash, which reads the program from standard input (-s)"}

test_shell_dash_reads_stdin if uses("/bin/dash", ["-", "x"]) == {"runs /bin/dash, which reads the program from standard input (-)"}

test_shell_without_script_reads_stdin if uses("/bin/zsh", []) == {"runs /bin/zsh without a script operand, so it would run code read from standard input"}

test_shell_option_value_is_not_a_script if uses("/bin/bash", ["-o", "posix"]) == {"runs /bin/bash without a script operand, so it would run code read from standard input"}

test_shell_with_script_file_not_inline if uses("/bin/bash", ["-e", "build.sh", "-c"]) == {"runs shell /bin/bash with inline code (-c)"}

test_shell_script_file_alone_not_inline if uses("/bin/bash", ["-x", "build.sh"]) == set()

test_python_versioned_dash_c if uses("/usr/bin/python3.12", ["-c", "print(1)"]) == {"runs /usr/bin/python3.12 with inline code (-c)"}

test_python_combined_flag_with_c if uses("/usr/bin/python3", ["-Ic", "x"]) == {"runs /usr/bin/python3 with inline code (-Ic)"}

test_python_script_not_inline if uses("/usr/bin/python3", ["-u", "main.py"]) == set()

test_python_warning_value_is_not_a_script if uses("/usr/bin/python3", ["-W", "ignore"]) == {"runs /usr/bin/python3 without a script operand, so it would run code read from standard input"}

test_node_eval if uses("/usr/bin/node", ["--eval=1"]) == {"runs /usr/bin/node with inline code (--eval=1)"}

test_node_print_combined if uses("/usr/bin/node", ["-pe", "1"]) == {"runs /usr/bin/node with inline code (-pe)"}

test_deno_eval_subcommand if uses("/usr/bin/deno", ["eval", "1"]) == {"runs /usr/bin/deno with inline code (eval)"}

test_perl_combined_e if uses("/usr/bin/perl", ["-ne", "print"]) == {"runs /usr/bin/perl with inline code (-ne)"}

test_ruby_e if uses("/usr/bin/ruby", ["-e", "x"]) == {"runs /usr/bin/ruby with inline code (-e)"}

test_php_r if uses("/usr/bin/php8.2", ["-r", "x"]) == {"runs /usr/bin/php8.2 with inline code (-r)"}

test_lua_e if uses("/usr/bin/lua5.4", ["-e", "x"]) == {"runs /usr/bin/lua5.4 with inline code (-e)"}

test_rscript_e if uses("/usr/bin/Rscript", ["-e", "x"]) == {"runs /usr/bin/Rscript with inline code (-e)"}

test_osascript_e if uses("/usr/bin/osascript", ["-e", "x"]) == {"runs /usr/bin/osascript with inline code (-e)"}

test_pwsh_command_prefix if uses("/usr/bin/pwsh", ["-Com", "x"]) == {"runs /usr/bin/pwsh with inline code (-Com)"}

test_pwsh_encoded_command if uses("/usr/bin/pwsh", ["-ec", "eA=="]) == {"runs /usr/bin/pwsh with inline code (-ec)"}

test_pwsh_file_not_inline if uses("/usr/bin/pwsh", ["-ExecutionPolicy", "Bypass", "-File", "x.ps1"]) == set()

test_awk_always_inline if {
	uses("/usr/bin/gawk", ["{print}", "f"]) == {"runs /usr/bin/gawk, which runs an awk program given inline (its system() runs commands)"}
}

test_sed_always_inline if count(uses("/bin/sed", ["s/a/b/", "f"])) == 1

test_windows_powershell_always_inline if {
	uses("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", ["Get-Date"]) == {"runs C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe, which is Windows PowerShell, which runs its arguments as commands"}
}

test_env_wrapper if uses("/usr/bin/env", ["ls"]) == {"runs /usr/bin/env, a wrapper that starts whatever program its arguments name"}

test_sudo_wrapper if count(uses("/usr/bin/sudo", ["ls"])) == 1

test_xargs_wrapper if count(uses("/usr/bin/xargs", ["rm"])) == 1

test_find_exec if uses("/usr/bin/find", [".", "-exec", "rm", "{}", ";"]) == {"runs /usr/bin/find with -exec, which runs a command for each file"}

test_find_without_exec_not_inline if uses("/usr/bin/find", [".", "-name", "*.go"]) == set()

test_tar_to_command if uses("/bin/tar", ["-xf", "a.tar", "--to-command=sh"]) == {"runs /bin/tar with --to-command=sh, which pipes each file to a command"}

test_rsync_remote_shell_in_cluster if uses("/usr/bin/rsync", ["-avze", "sh x", "a", "b"]) == {"runs /usr/bin/rsync with -avze, which runs a program as the remote shell"}

test_argument_shell_with_inline_option if {
	uses("/usr/bin/find", [".", "-execdir", "sh", "-c", "id", ";"]) == {
		"runs /usr/bin/find with -execdir, which runs a command for each file",
		"argument 2 runs sh with inline code (-c)",
	}
}

test_argument_interpreter_path_with_inline_option if {
	uses("/bin/ls", ["/usr/bin/python3", "-c", "x"]) == {"argument 0 runs /usr/bin/python3 with inline code (-c)"}
}

test_argument_shell_without_inline_option if uses("/bin/ls", ["sh", "bash"]) == set()

test_git_status_not_inline if uses("/usr/bin/git", ["status"]) == set()

test_git_version_without_subcommand_not_inline if uses("/usr/bin/git", ["--version"]) == set()

test_git_global_config if {
	uses("/usr/bin/git", ["-C", "/w", "-c", "core.fsmonitor=id", "status"]) == {"passes -c to git before the subcommand, which sets config, and many keys (core.sshCommand, core.pager, core.fsmonitor, core.hooksPath, alias.*=!...) run commands"}
}

test_git_config_env if {
	uses("/usr/bin/git", ["--config-env=core.pager=X", "log"]) == {"passes --config-env=core.pager=X to git before the subcommand, which sets config, and many keys (core.sshCommand, core.pager, core.fsmonitor, core.hooksPath, alias.*=!...) run commands"}
}

test_git_exec_path if {
	uses("/usr/bin/git", ["--exec-path=/w/bin", "status"]) == {"passes --exec-path=/w/bin to git before the subcommand, which makes git run its sub-programs from another directory"}
}

test_git_dir if {
	uses("/usr/bin/git", ["--git-dir", "/w/x", "status"]) == {"passes --git-dir to git before the subcommand, which points git at a repository whose config may run commands"}
}

test_git_switch_create_branch_not_inline if uses("/usr/bin/git", ["switch", "-c", "feature"]) == set()

test_git_cherry_pick_x_not_inline if uses("/usr/bin/git", ["cherry-pick", "-x", "abc"]) == set()

test_git_upload_pack if {
	uses("/usr/bin/git", ["fetch", "--upload-pack=id", "origin"]) == {"runs git fetch with --upload-pack=id, which runs the given program as git-upload-pack"}
}

test_git_receive_pack if count(uses("/usr/bin/git", ["push", "--receive-pack", "id", "origin"])) == 1

test_git_clone_u if {
	uses("/usr/bin/git", ["clone", "-u", "id", "x"]) == {"runs git clone with -u, which runs the given program as git-upload-pack"}
}

test_git_clone_config if {
	uses("/usr/bin/git", ["clone", "--config=core.sshCommand=id", "x"]) == {"runs git clone with --config=core.sshCommand=id, which sets config in the new repository, and keys such as core.sshCommand run commands"}
}

test_git_rebase_exec_in_cluster if {
	uses("/usr/bin/git", ["rebase", "-ix", "make", "main"]) == {"runs git rebase with -ix, which runs a shell command after each commit"}
}

test_git_submodule_foreach if {
	uses("/usr/bin/git", ["submodule", "foreach", "id"]) == {"runs git submodule with foreach, which runs a shell command in each submodule"}
}

test_git_filter_branch if {
	uses("/usr/bin/git", ["filter-branch", "--tree-filter", "id"]) == {"runs git filter-branch, which runs its filters as shell commands"}
}

test_git_config_write if {
	uses("/usr/bin/git", ["config", "core.fsmonitor", "id"]) == {"runs git config without a read option (--get, --list, ...); a written value such as core.fsmonitor or alias.*=! runs commands later"}
}

test_git_config_read_not_inline if uses("/usr/bin/git", ["config", "--get", "user.name"]) == set()
