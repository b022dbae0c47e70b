# Package clawbroker.network decides network.connect: a host is reachable only
# when a network capability of a tool granted to the agent declares it (of
# the named tool, when the request names one). Declared hosts are exact
# names or "*.example.com", which matches any subdomain of example.com but
# not example.com itself. Loopback, private, link-local, CGNAT, unspecified
# and cloud metadata hosts need that exact host declared: a wildcard never
# opens them.
#
# The policy sees the host as the caller gave it. A public name can still
# resolve to a private address (DNS rebinding), so the broker must also check
# the address it actually connects to.
package clawbroker.network

import data.clawbroker.config

# Address ranges that reach the machine, its network or its cloud provider
# rather than the internet.
special_ranges := {
	"127.0.0.0/8": "a loopback address",
	"::1/128": "a loopback address",
	"0.0.0.0/8": "an unspecified address",
	"::/128": "an unspecified address",
	"10.0.0.0/8": "a private address",
	"172.16.0.0/12": "a private address",
	"192.168.0.0/16": "a private address",
	"fc00::/7": "a private (unique local) address",
	"100.64.0.0/10": "a carrier-grade NAT address",
	"169.254.0.0/16": "a link-local address",
	"fe80::/10": "a link-local address",
	"169.254.169.254/32": "a cloud metadata address",
	"fd00:ec2::254/128": "a cloud metadata address",
}

special_names := {
	"localhost": "a loopback name",
	"localhost.localdomain": "a loopback name",
	"ip6-localhost": "a loopback name",
	"ip6-loopback": "a loopback name",
	"metadata": "a cloud metadata name",
	"metadata.google.internal": "a cloud metadata name",
	"instance-data": "a cloud metadata name",
	"instance-data.ec2.internal": "a cloud metadata name",
}

host := input.network.host

agent := input.subject.agent

# Host names are case-insensitive and may end in a root dot; IPv6 literals
# may come in brackets. Classification uses this form so none of these
# spellings slips past it.
norm_host := trim(trim_suffix(lower(host), "."), "[]")

# An IPv6 zone (fe80::1%eth0) does not change the address.
ip := split(norm_host, "%")[0]

# A /32 prefix is valid for IPv4 and IPv6 alike, and never for a name.
is_ip if net.cidr_is_valid(concat("/", [ip, "32"]))

# Reasons a network.connect request is denied.
denials contains "network.connect request has no host (input.network.host must be a non-empty string)" if {
	not valid_host
}

denials contains sprintf("network.connect request to host %s has no port (input.network.port)", [host]) if {
	valid_host
	not has_port
}

denials contains sprintf("port %v for host %s is not an integer between 1 and 65535", [input.network.port, host]) if {
	valid_host
	has_port
	not valid_port
}

denials contains "network.connect tool name must be a string (input.tool.name)" if {
	has_tool_name
	not is_string(input.tool.name)
}

denials contains sprintf("tool %q is not granted to agent %q", [input.tool.name, agent]) if {
	is_string(input.tool.name)
	is_string(agent)
	not config.index.agent_tools[agent][input.tool.name]
}

denials contains sprintf("host %s is not declared in a network capability of tool %q", [host, input.tool.name]) if {
	valid_host
	is_string(input.tool.name)
	not declared
}

denials contains sprintf("host %s is not declared in a network capability of any tool granted to agent %q", [host, agent]) if {
	valid_host
	not has_tool_name
	is_string(agent)
	not declared
}

denials contains sprintf("host %s is %s; connecting to it needs that exact host declared in a network capability (a wildcard does not count)", [host, what]) if {
	valid_host
	some what in special_kinds
	not exact_declared
}

# The positive side of the decision, so that an allow always needs a
# declared host.
allowed if {
	count(denials) == 0
	valid_port
	declared
}

valid_host if {
	is_string(host)
	host != ""
}

has_port if input.network.port != null

valid_port if {
	port := input.network.port
	is_number(port)
	port == floor(port)
	port >= 1
	port <= 65535
}

has_tool_name if input.tool.name != null

special_kinds contains sprintf("%s (in %s)", [kind, cidr]) if {
	is_ip
	some cidr, kind in special_ranges
	net.cidr_contains(cidr, ip)
}

special_kinds contains special_names[norm_host]

special_kinds contains "a loopback name (*.localhost)" if endswith(norm_host, ".localhost")

# A last label of digits or hex is not a DNS name: the C resolver reads such
# a host (127.1, 0x7f.1, 2130706433) as an IPv4 address in another notation.
special_kinds contains "a numeric address in non-standard notation" if {
	not is_ip
	labels := split(norm_host, ".")
	regex.match(`^([0-9]+|0x[0-9a-f]*)$`, labels[count(labels) - 1])
}

# The tools whose network capabilities count: the named one if the agent
# holds it, else every tool granted to the agent.
candidate_tools contains input.tool.name if {
	is_string(input.tool.name)
	config.index.agent_tools[agent][input.tool.name]
}

candidate_tools contains name if {
	not has_tool_name
	some name, granted in config.index.agent_tools[agent]
	granted == true
}

exact_declared if {
	some name in candidate_tools
	some h in {host, norm_host}
	config.index.tool_capabilities[name].network[h]
}

# "*.example.com" for every proper suffix of the host, looked up instead of
# matching each declared pattern.
wildcards contains concat(".", array.concat(["*"], array.slice(labels, i, count(labels)))) if {
	not is_ip
	labels := split(norm_host, ".")
	count(labels) > 1
	some i in numbers.range(1, count(labels) - 1)
}

wildcard_declared if {
	some name in candidate_tools
	some w in wildcards
	config.index.tool_capabilities[name].network[w]
}

declared if exact_declared

declared if wildcard_declared
