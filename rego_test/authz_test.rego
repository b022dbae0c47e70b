package clawbroker.authz_test

import data.clawbroker.authz

config := {
	"workspace": "/w",
	"protected_paths": {},
	"tools": {"git": {"command": "/usr/bin/git", "capabilities": [], "credentials": {}, "allow_inline": false}},
	"index": {
		"allowed_paths": {"/w": true},
		"denied_paths": {"/w/secret": true},
		"persistence_allowed": {},
		"agent_tools": {"ci-bot": {"git": true}},
		"agent_credentials": {"ci-bot": {"github": true}},
		"tool_capabilities": {"git": {"network": {"github.com": true}}},
	},
}

decide(inp) := d if {
	d := authz.decision with input as inp with data.clawbroker.config as config
}

path_request(action, p) := {
	"action": action,
	"subject": {"agent": "ci-bot"},
	"path": {"resolved": p, "ancestors": ["/", "/w", p]},
}

deny(reason) := {"allow": false, "reasons": [reason]}

allow := {"allow": true, "reasons": []}

test_path_read_allowed if decide(path_request("path.read", "/w/a")) == allow

test_path_read_denied if {
	decide(path_request("path.read", "/w/secret")) == deny("path /w/secret is a denied path (workspace.denied_paths)")
}

test_path_write_allowed if decide(path_request("path.write", "/w/a")) == allow

test_path_write_denied if {
	decide(path_request("path.write", "/w/.zshrc")) == deny("path /w/.zshrc is a persistence location: .zshrc is a zsh startup file, run by every interactive zsh; writing it needs the path under workspace.persistence_allowed")
}

test_tool_exec_allowed if {
	decide({"action": "tool.exec", "subject": {"agent": "ci-bot"}, "tool": {"name": "git", "command": "/usr/bin/git", "argv": ["log"]}}) == allow
}

test_tool_exec_denied if {
	decide({"action": "tool.exec", "subject": {"agent": "default"}, "tool": {"name": "git", "command": "/usr/bin/git", "argv": ["log"]}}) == deny("tool \"git\" is not granted to agent \"default\"")
}

test_credential_read_allowed if {
	decide({"action": "credential.read", "subject": {"agent": "ci-bot"}, "credential": {"provider": "github"}}) == allow
}

test_credential_read_denied if {
	decide({"action": "credential.read", "subject": {"agent": "ci-bot"}, "credential": {"provider": "aws"}}) == deny("credential provider \"aws\" is not granted to agent \"ci-bot\"")
}

test_network_connect_allowed if {
	decide({"action": "network.connect", "subject": {"agent": "ci-bot"}, "network": {"host": "github.com", "port": 443}}) == allow
}

test_network_connect_denied if {
	decide({"action": "network.connect", "subject": {"agent": "ci-bot"}, "network": {"host": "evil.test", "port": 443}}) == deny("host evil.test is not declared in a network capability of any tool granted to agent \"ci-bot\"")
}

test_unknown_action_denied if {
	decide({"action": "process.kill", "subject": {"agent": "ci-bot"}}) == deny("action \"process.kill\" is not one of credential.read, network.connect, path.read, path.write, tool.exec, so it is denied by default")
}

test_non_string_action_denied if {
	decide({"action": ["path.read"], "subject": {"agent": "ci-bot"}}) == deny("action [\"path.read\"] is not one of credential.read, network.connect, path.read, path.write, tool.exec, so it is denied by default")
}

test_missing_action_denied if {
	decide({"subject": {"agent": "ci-bot"}}) == deny("request has no action (input.action), so it is denied by default")
}

test_null_action_denied if {
	decide({"action": null, "subject": {"agent": "ci-bot"}}) == deny("request has no action (input.action), so it is denied by default")
}

test_empty_input_denied if {
	decide({}) == {"allow": false, "reasons": [
		"request has no action (input.action), so it is denied by default",
		"request has no subject agent (input.subject.agent must be a non-empty string)",
	]}
}

test_non_object_input_denied if {
	decide("path.read") == {"allow": false, "reasons": [
		"request has no action (input.action), so it is denied by default",
		"request has no subject agent (input.subject.agent must be a non-empty string)",
	]}
}

test_missing_subject_denied if {
	decide(json.remove(path_request("path.read", "/w/a"), ["subject"])) == deny("request has no subject agent (input.subject.agent must be a non-empty string)")
}

test_empty_agent_denied if {
	inp := json.patch(path_request("path.read", "/w/a"), [{"op": "replace", "path": "/subject/agent", "value": ""}])
	decide(inp) == deny("request has no subject agent (input.subject.agent must be a non-empty string)")
}

test_reasons_sorted if {
	d := decide({"action": "path.read", "subject": {"agent": "ci-bot"}, "path": {"resolved": "/w/secret/k", "ancestors": ["/", "/w", "/w/secret"]}})
	d.allow == false
	d.reasons == sort(d.reasons)
	count(d.reasons) == 1
}

test_several_reasons_sorted if {
	d := decide({"action": "tool.exec", "subject": {"agent": "x"}, "tool": {"name": "rm", "command": "/bin/rm"}})
	d == {"allow": false, "reasons": [
		"tool \"rm\" is not declared in the config",
		"tool \"rm\" is not granted to agent \"x\"",
	]}
}

# A concern that reports nothing but does not allow either still denies.
test_unmatched_request_denied if {
	d := authz.decision with input as path_request("path.read", "/w/a")
		with data.clawbroker.config as config
		with data.clawbroker.path.read_allowed as false
		with data.clawbroker.path.read_clear as false
	d == deny("no rule allows this path.read request, so it is denied by default")
}

test_unmatched_write_denied if {
	inp := {"action": "path.write", "subject": {"agent": "ci-bot"}, "path": {"resolved": "/etc/x", "ancestors": ["/", "/etc", "/etc/x"]}}
	d := authz.decision with input as inp
		with data.clawbroker.config as config
		with data.clawbroker.path.write_denials as set()
	d == deny("no rule allows this path.write request, so it is denied by default")
}

fail_to_sort(_) := [] if false

test_decision_defined_when_evaluation_fails if {
	d := authz.decision with input as path_request("path.read", "/w/secret")
		with data.clawbroker.config as config
		with sort as fail_to_sort
	d == deny("the policy produced no decision for this request, so it is denied by default")
}

# Without the fast path, the full evaluation reaches the same allow.
test_path_read_allowed_without_fast_path if {
	d := authz.decision with input as path_request("path.read", "/w/a")
		with data.clawbroker.config as config
		with data.clawbroker.path.read_clear as false
	d == allow
}

test_path_write_allowed_without_fast_path if {
	d := authz.decision with input as path_request("path.write", "/w/a")
		with data.clawbroker.config as config
		with data.clawbroker.path.write_clear as false
	d == allow
}
