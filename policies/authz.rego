# Package clawbroker.authz is the entry point the broker queries:
# data.clawbroker.authz.decision, always {"allow": bool, "reasons": [...]}.
#
# It dispatches on input.action first, so a request evaluates only the rules
# of its own concern (a path.read never touches the tool rules). A request
# is allowed only when its concern reports no reason to deny AND its
# positive allow rule holds; anything else, including an unknown or missing
# action, is denied with at least one reason.
package clawbroker.authz

import data.clawbroker.credential
import data.clawbroker.network
import data.clawbroker.path
import data.clawbroker.tool

actions := {"credential.read", "network.connect", "path.read", "path.write", "tool.exec"}

default decision := {"allow": false, "reasons": ["the policy produced no decision for this request, so it is denied by default"]}

# The common allow answers from a fast path; only a request that misses it
# pays for computing every reason.
decision := {"allow": true, "reasons": []} if {
	input.action == "path.read"
	valid_agent
	path.read_clear
} else := {"allow": true, "reasons": []} if {
	input.action == "path.write"
	valid_agent
	path.write_clear
} else := {"allow": count(reasons) == 0, "reasons": sort(reasons)}

reasons := found_reasons | unmatched_reasons

found_reasons := action_reasons | subject_reasons

action_reasons := path.read_denials if input.action == "path.read"

action_reasons := path.write_denials if input.action == "path.write"

action_reasons := tool.denials if input.action == "tool.exec"

action_reasons := credential.denials if input.action == "credential.read"

action_reasons := network.denials if input.action == "network.connect"

action_reasons := {"request has no action (input.action), so it is denied by default"} if not has_action

action_reasons := {sprintf("action %s is not one of %s, so it is denied by default", [json.marshal(input.action), concat(", ", sort(actions))])} if {
	has_action
	not actions[input.action]
}

has_action if input.action != null

subject_reasons contains "request has no subject agent (input.subject.agent must be a non-empty string)" if {
	not valid_agent
}

valid_agent if {
	is_string(input.subject.agent)
	input.subject.agent != ""
}

# Fail closed when a concern found nothing to object to but its allow rule
# does not hold either (a reason that could not be rendered, say).
unmatched_reasons contains sprintf("no rule allows this %s request, so it is denied by default", [input.action]) if {
	count(found_reasons) == 0
	not action_allowed
}

action_allowed if {
	input.action == "path.read"
	path.read_allowed
}

action_allowed if {
	input.action == "path.write"
	path.write_allowed
}

action_allowed if {
	input.action == "tool.exec"
	tool.allowed
}

action_allowed if {
	input.action == "credential.read"
	credential.allowed
}

action_allowed if {
	input.action == "network.connect"
	network.allowed
}
