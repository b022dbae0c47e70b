# Package clawbroker.tool decides tool.exec: the tool is declared and granted
# to the agent, runs its declared command with only its declared
# capabilities, touches only paths the path rules allow, gets only
# credentials the agent holds, and does not run code given inline unless its
# config says allow_inline.
#
# "Inline" means code that arrives in the request rather than in a file the
# tool was configured to run: a shell's -c, an interpreter's -e, a wrapper
# that starts whatever program follows, or options of otherwise harmless
# programs that run a command (find -exec, git -c core.sshCommand=...).
# Matching is deliberately broad: a false deny costs a config change
# (allow_inline: true), a false allow hands the agent a shell.
package clawbroker.tool

import data.clawbroker.config
import data.clawbroker.credential
import data.clawbroker.path

# Shells: -c (alone or in a cluster such as -lc) runs its argument; -s or no
# script operand reads commands from standard input.
shells := {
	"sh", "bash", "dash", "zsh", "ksh", "mksh", "pdksh", "oksh", "yash", "posh",
	"rbash", "fish", "csh", "tcsh", "ash", "hush", "elvish", "nu", "xonsh",
}

# Interpreters and the options that take a program text: "short" letters
# count alone or inside a cluster (perl -ne), "long" options alone or as
# --opt=value.
interpreters := {
	"python": {"short": {"c"}, "long": set()},
	"pypy": {"short": {"c"}, "long": set()},
	"node": {"short": {"e", "p"}, "long": {"--eval", "--print"}},
	"nodejs": {"short": {"e", "p"}, "long": {"--eval", "--print"}},
	"bun": {"short": {"e", "p"}, "long": {"--eval", "--print"}},
	"deno": {"short": set(), "long": {"eval", "repl"}},
	"perl": {"short": {"e", "E"}, "long": set()},
	"ruby": {"short": {"e"}, "long": set()},
	"php": {"short": {"r", "B", "R", "E"}, "long": set()},
	"lua": {"short": {"e"}, "long": set()},
	"luajit": {"short": {"e"}, "long": set()},
	"rscript": {"short": {"e"}, "long": {"--expr"}},
	"r": {"short": {"e"}, "long": set()},
	"osascript": {"short": {"e"}, "long": set()},
	"expect": {"short": {"c"}, "long": set()},
	"pwsh": {"short": set(), "long": set()},
}

# Options whose next argument is a value, not a script operand, so that
# `bash -o posix` still counts as reading standard input.
value_options := {
	"-o", "+o", "-O", "+O", "-W", "-X", "-r", "-I", "-C",
	"--require", "--import", "--loader", "--rcfile", "--init-file",
}

# Programs whose whole first operand is a program text, or whose default is
# to run their arguments as commands (Windows PowerShell and cmd.exe). GNU
# sed's e command and s///e flag run shell commands.
always_inline := {
	"awk": "runs an awk program given inline (its system() runs commands)",
	"gawk": "runs an awk program given inline (its system() runs commands)",
	"mawk": "runs an awk program given inline (its system() runs commands)",
	"nawk": "runs an awk program given inline (its system() runs commands)",
	"busybox": "is busybox, which runs whichever applet (sh, awk, ...) its arguments name",
	"toybox": "is toybox, which runs whichever applet its arguments name",
	"sed": "runs a sed program given inline (GNU sed's e command runs commands)",
	"gsed": "runs a sed program given inline (GNU sed's e command runs commands)",
	"powershell": "is Windows PowerShell, which runs its arguments as commands",
	"cmd": "is cmd.exe, which runs its arguments as commands",
}

# Wrappers start another program named in their arguments, so granting one
# grants every program on the machine.
wrappers := {
	"env", "xargs", "nohup", "timeout", "nice", "ionice", "stdbuf", "setsid",
	"sudo", "doas", "su", "pkexec", "runuser", "setpriv", "chroot", "watch",
	"strace", "ltrace", "gdb", "valgrind", "script", "flock", "unbuffer",
	"nsenter", "unshare", "time", "chrt", "taskset", "numactl", "systemd-run",
	"firejail", "bwrap", "proot", "fakeroot", "torsocks", "proxychains",
	"parallel", "rlwrap",
}

# Options that make an otherwise harmless program run a command.
exec_options := {
	"find": {
		"-exec": "runs a command for each file",
		"-execdir": "runs a command for each file",
		"-ok": "runs a command for each file",
		"-okdir": "runs a command for each file",
	},
	"tar": {
		"--to-command": "pipes each file to a command",
		"--use-compress-program": "runs a program as the compressor",
		"-I": "runs a program as the compressor",
		"--checkpoint-action": "runs a command at checkpoints",
		"--info-script": "runs a script at each volume",
		"--new-volume-script": "runs a script at each volume",
		"-F": "runs a script at each volume",
		"--rsh-command": "runs a program as the remote shell",
	},
	"rsync": {
		"-e": "runs a program as the remote shell",
		"--rsh": "runs a program as the remote shell",
		"--rsync-path": "runs a program on the remote side",
	},
}

# git options before the subcommand that can run commands. Every -c is
# refused, not just the known-dangerous keys: core.sshCommand, core.pager,
# core.fsmonitor, core.hooksPath, core.editor, credential.helper,
# diff.*.textconv, filter.*, alias.*=!, include.path, ... is an open list,
# and a key missed is a shell.
git_global_exec_options := {
	"-c": "sets config, and many keys (core.sshCommand, core.pager, core.fsmonitor, core.hooksPath, alias.*=!...) run commands",
	"--config-env": "sets config, and many keys (core.sshCommand, core.pager, core.fsmonitor, core.hooksPath, alias.*=!...) run commands",
	"--exec-path": "makes git run its sub-programs from another directory",
	"--git-dir": "points git at a repository whose config may run commands",
}

# git global options that take their value as the next argument.
git_global_value_options := {"-c", "-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env"}

# git options after the subcommand that run commands; "*" applies to every
# subcommand. Short options also count inside a cluster.
git_exec_options := {
	"*": {
		"--upload-pack": "runs the given program as git-upload-pack",
		"--receive-pack": "runs the given program as git-receive-pack",
		"--exec": "runs the given program",
	},
	"clone": {
		"-u": "runs the given program as git-upload-pack",
		"-c": "sets config in the new repository, and keys such as core.sshCommand run commands",
		"--config": "sets config in the new repository, and keys such as core.sshCommand run commands",
		"--template": "installs hooks from a template directory",
	},
	"init": {"--template": "installs hooks from a template directory"},
	"ls-remote": {"-u": "runs the given program as git-upload-pack"},
	"rebase": {"-x": "runs a shell command after each commit"},
	"difftool": {"-x": "runs the given diff command", "--extcmd": "runs the given diff command"},
	"submodule": {"foreach": "runs a shell command in each submodule"},
	"bisect": {"run": "runs a command to test each commit"},
}

# git subcommands that run commands whatever their options.
git_exec_subcommands := {"filter-branch": "runs its filters as shell commands"}

# git config may only read: a written value (core.fsmonitor, alias.*=!...)
# runs commands on later git invocations.
git_config_read_options := {"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l", "get", "list"}

capability_fields := {"file_read": "paths", "file_write": "paths", "network": "hosts", "process_exec": "commands"}

name := input.tool.name

agent := input.subject.agent

declared_tool := config.tools[name]

default argv := []

argv := input.tool.argv if is_array(input.tool.argv)

# The command's program name: last path element (either slash), lower case,
# without .exe and without a version suffix (python3.12 is python).
program(cmd) := trim_right(trim_suffix(lower(b), ".exe"), "0123456789.") if {
	parts := split(replace(cmd, "\\", "/"), "/")
	b := parts[count(parts) - 1]
}

prog := program(input.tool.command)

# Reasons a tool.exec request is denied.
# A negated expression over a missing input field is not true in Rego (the
# field is looked up outside the negation), so presence is tested by rules.
denials contains "tool.exec request has no tool name (input.tool.name must be a string)" if {
	not has_name
}

denials contains sprintf("tool %q is not declared in the config", [name]) if {
	is_string(name)
	not config.tools[name]
}

denials contains sprintf("tool %q is not granted to agent %q", [name, agent]) if {
	is_string(name)
	is_string(agent)
	not config.index.agent_tools[agent][name]
}

denials contains sprintf("tool %q request has no command (input.tool.command must be a string)", [name]) if {
	declared_tool
	not has_command
}

denials contains sprintf("tool %q command %s is not its declared command %v", [name, input.tool.command, declared_tool.command]) if {
	is_string(input.tool.command)
	input.tool.command != declared_tool.command
}

denials contains sprintf("tool %q arguments must be a list of strings (input.tool.argv)", [name]) if {
	input.tool.argv != null
	not is_array(input.tool.argv)
}

denials contains sprintf("tool %q argument %d is not a string", [name, i]) if {
	some i, a in argv
	not is_string(a)
}

denials contains sprintf("tool %q capabilities must be a list (input.tool.capabilities)", [name]) if {
	input.tool.capabilities != null
	not is_array(input.tool.capabilities)
}

denials contains sprintf("tool %q requests a capability of unknown type %s", [name, json.marshal(object.get(c, "type", null))]) if {
	some c in capabilities
	not known_capability(c)
}

denials contains sprintf("tool %q %s capability has no %s list", [name, c.type, field]) if {
	some c in capabilities
	field := capability_fields[c.type]
	not has_list(c, field)
}

denials contains sprintf("tool %q requests %s on %v, which its config does not declare", [name, c.type, item]) if {
	declared_tool
	some c in capabilities
	some item in c[capability_fields[c.type]]
	not capability_declared(c.type, item)
}

denials contains sprintf("tool %q file_read capability: %s", [name, reason]) if {
	some c in capabilities
	c.type == "file_read"
	some p in c.paths
	is_string(p)
	some reason in path.read_reasons_for(p)
}

denials contains sprintf("tool %q file_write capability: %s", [name, reason]) if {
	some c in capabilities
	c.type == "file_write"
	some p in c.paths
	is_string(p)
	some reason in path.write_reasons_for(p)
}

denials contains sprintf("tool %q working directory must be a string path (input.tool.cwd)", [name]) if {
	input.tool.cwd != null
	not is_string(input.tool.cwd)
}

denials contains sprintf("tool %q working directory: %s", [name, reason]) if {
	is_string(input.tool.cwd)
	some reason in path.read_reasons_for(input.tool.cwd)
}

denials contains sprintf("tool %q %s; inline execution is not allowed for this tool (allow_inline is false)", [name, why]) if {
	declared_tool
	not declared_tool.allow_inline == true
	some why in inline_uses
}

denials contains sprintf("tool %q credentials must be an object of environment variable to provider (input.tool.credentials)", [name]) if {
	input.tool.credentials != null
	not is_object(input.tool.credentials)
}

denials contains sprintf("tool %q credential %s needs provider %v, which is not granted to agent %q", [name, env, provider, agent]) if {
	is_object(input.tool.credentials)
	is_string(agent)
	some env, provider in input.tool.credentials
	not credential.granted(agent, provider)
}

denials contains sprintf("tool %q credential %s from provider %v is not declared for the tool", [name, env, provider]) if {
	declared_tool
	is_object(input.tool.credentials)
	some env, provider in input.tool.credentials
	not declared_tool.credentials[env] == provider
}

# The positive side of the decision, so that an allow always needs a grant
# and the declared command.
allowed if {
	count(denials) == 0
	config.index.agent_tools[agent][name]
	input.tool.command == declared_tool.command
}

has_name if is_string(name)

has_command if is_string(input.tool.command)

known_capability(c) if capability_fields[c.type]

has_list(c, field) if is_array(c[field])

capability_declared(type, item) if config.index.tool_capabilities[name][type][item]

default capabilities := []

capabilities := input.tool.capabilities if is_array(input.tool.capabilities)

# inline_uses says, for the reason text, each way this request runs code
# given inline.
inline_uses contains sprintf("runs shell %s with inline code (%s)", [input.tool.command, a]) if {
	shells[prog]
	some a in argv
	shell_inline_option(a)
}

inline_uses contains sprintf("runs %s with inline code (%s)", [input.tool.command, a]) if {
	interpreters[prog]
	some a in argv
	interpreter_inline_option(prog, a)
}

inline_uses contains sprintf("runs %s, which reads the program from standard input (%s)", [input.tool.command, a]) if {
	reads_program(prog)
	some a in argv
	stdin_option(prog, a)
}

inline_uses contains sprintf("runs %s without a script operand, so it would run code read from standard input", [input.tool.command]) if {
	reads_program(prog)
	not has_operand
	not has_inline_option
}

has_inline_option if {
	some a in argv
	inline_option(prog, a)
}

inline_uses contains sprintf("runs %s, which %s", [input.tool.command, why]) if {
	why := always_inline[prog]
}

inline_uses contains sprintf("runs %s, a wrapper that starts whatever program its arguments name", [input.tool.command]) if {
	wrappers[prog]
}

inline_uses contains sprintf("runs %s with %s, which %s", [input.tool.command, a, why]) if {
	some a in argv
	some option, why in exec_options[prog]
	option_matches(option, a)
}

# Any argument naming a shell or interpreter followed by its inline option
# (find . -exec sh -c ..., make SHELL=... aside).
inline_uses contains sprintf("argument %d runs %s with inline code (%s)", [i, a, argv[i + 1]]) if {
	some i, a in argv
	is_string(a)
	p := program(a)
	inline_option(p, argv[i + 1])
}

inline_uses contains sprintf("passes %s to git before the subcommand, which %s", [a, why]) if {
	prog == "git"
	some a in array.slice(argv, 0, git_subcommand_index)
	some option, why in git_global_exec_options
	option_matches(option, a)
}

inline_uses contains sprintf("runs git %s with %s, which %s", [git_subcommand, a, why]) if {
	prog == "git"
	some a in array.slice(argv, git_subcommand_index + 1, count(argv))
	some group in ["*", git_subcommand]
	some option, why in git_exec_options[group]
	option_matches(option, a)
}

inline_uses contains sprintf("runs git %s, which %s", [git_subcommand, why]) if {
	prog == "git"
	why := git_exec_subcommands[git_subcommand]
}

inline_uses contains "runs git config without a read option (--get, --list, ...); a written value such as core.fsmonitor or alias.*=! runs commands later" if {
	prog == "git"
	git_subcommand == "config"
	not git_config_reads
}

inline_option(p, a) if {
	shells[p]
	shell_inline_option(a)
}

inline_option(p, a) if {
	interpreters[p]
	interpreter_inline_option(p, a)
}

shell_inline_option(a) if regex.match(`^-[A-Za-z]*c[A-Za-z]*$`, a)

shell_inline_option(a) if startswith(a, "--command")

interpreter_inline_option(p, a) if {
	regex.match(`^-[A-Za-z]+$`, a)
	some letter in interpreters[p].short
	contains(a, letter)
}

interpreter_inline_option(p, a) if {
	some option in interpreters[p].long
	option_matches(option, a)
}

# PowerShell takes any unambiguous prefix of a parameter name, with - or /.
interpreter_inline_option("pwsh", a) if {
	regex.match(`^(-|--|/)[A-Za-z]+$`, a)
	word := lower(trim_left(a, "-/"))
	some full in ["command", "commandwithargs", "cwa", "encodedcommand", "ec"]
	startswith(full, word)
}

reads_program(p) if shells[p]

reads_program(p) if interpreters[p]

stdin_option(_, "-")

stdin_option(p, a) if {
	shells[p]
	regex.match(`^-[A-Za-z]*s[A-Za-z]*$`, a)
}

has_operand if {
	some i, a in argv
	is_string(a)
	not startswith(a, "-")
	not startswith(a, "+")
	not follows(value_options, i)
}

# follows(options, i) holds when argument i is the value of the option
# before it.
follows(options, i) if options[argv[i - 1]]

option_matches(option, option)

option_matches(option, a) if startswith(a, concat("", [option, "="]))

# A short option ("-x") also counts inside a cluster ("-ix").
option_matches(option, a) if {
	regex.match(`^-[A-Za-z]$`, option)
	regex.match(`^-[A-Za-z]+$`, a)
	contains(a, substring(option, 1, 1))
}

# The index of git's subcommand: the first argument that is neither an
# option nor the value of a global option; count(argv) when there is none.
git_subcommand_index := i if {
	i := min({i |
		some i, a in argv
		is_string(a)
		not startswith(a, "-")
		not follows(git_global_value_options, i)
	})
} else := count(argv)

git_subcommand := argv[git_subcommand_index]

git_config_reads if {
	some a in array.slice(argv, git_subcommand_index + 1, count(argv))
	git_config_read_options[a]
}
