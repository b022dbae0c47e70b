package clawbroker.network_test

import data.clawbroker.network

config := {"index": {
	"agent_tools": {"a": {"curl": true, "git": true, "off": false}, "b": {}},
	"tool_capabilities": {
		"curl": {"network": {
			"api.openai.com": true,
			"*.example.com": true,
			"127.0.0.1": true,
			"::1": true,
			"8.8.8.8": true,
			"*.8.8.8": true,
			"*.localhost": true,
			"*.google.internal": true,
			"*.1": true,
		}},
		"git": {"network": {"github.com": true}},
		"off": {"network": {"off.test": true}},
	},
}}

connect(agent, host, port) := {"subject": {"agent": agent}, "network": {"host": host, "port": port}}

via(tool, host) := object.union(connect("a", host, 443), {"tool": {"name": tool}})

denials(inp) := r if {
	r := network.denials with input as inp with data.clawbroker.config as config
}

allowed(inp) if network.allowed with input as inp with data.clawbroker.config as config

undeclared(host) := sprintf("host %s is not declared in a network capability of any tool granted to agent \"a\"", [host])

special(host, what) := sprintf("host %s is %s; connecting to it needs that exact host declared in a network capability (a wildcard does not count)", [host, what])

test_declared_host_allowed if {
	denials(connect("a", "api.openai.com", 443)) == set()
	allowed(connect("a", "api.openai.com", 443))
}

test_host_of_any_granted_tool_allowed if allowed(connect("a", "github.com", 22))

test_undeclared_host_denied if {
	denials(connect("a", "evil.test", 443)) == {undeclared("evil.test")}
	not allowed(connect("a", "evil.test", 443))
}

test_host_of_tool_granted_false_denied if {
	denials(connect("a", "off.test", 443)) == {undeclared("off.test")}
}

test_agent_without_tools_denied if {
	denials(connect("b", "api.openai.com", 443)) == {"host api.openai.com is not declared in a network capability of any tool granted to agent \"b\""}
}

test_unknown_agent_denied if {
	denials(connect("nobody", "api.openai.com", 443)) == {"host api.openai.com is not declared in a network capability of any tool granted to agent \"nobody\""}
}

test_missing_agent_not_allowed if {
	inp := {"network": {"host": "api.openai.com", "port": 443}}
	denials(inp) == set()
	not allowed(inp)
}

test_wildcard_matches_subdomain if allowed(connect("a", "www.example.com", 443))

test_wildcard_matches_deep_subdomain if allowed(connect("a", "a.b.example.com", 443))

test_wildcard_does_not_match_apex if {
	denials(connect("a", "example.com", 443)) == {undeclared("example.com")}
}

test_wildcard_does_not_match_suffix_without_dot if {
	denials(connect("a", "evilexample.com", 443)) == {undeclared("evilexample.com")}
}

test_host_match_ignores_case_and_root_dot if allowed(connect("a", "API.OpenAI.com.", 443))

test_missing_host_denied if {
	denials({"subject": {"agent": "a"}, "network": {"port": 443}}) == {"network.connect request has no host (input.network.host must be a non-empty string)"}
}

test_empty_host_denied if {
	denials(connect("a", "", 443)) == {"network.connect request has no host (input.network.host must be a non-empty string)"}
}

test_non_string_host_denied if {
	denials(connect("a", 3, 443)) == {"network.connect request has no host (input.network.host must be a non-empty string)"}
}

test_missing_port_denied if {
	inp := {"subject": {"agent": "a"}, "network": {"host": "api.openai.com"}}
	denials(inp) == {"network.connect request to host api.openai.com has no port (input.network.port)"}
	not allowed(inp)
}

test_port_zero_denied if {
	denials(connect("a", "api.openai.com", 0)) == {"port 0 for host api.openai.com is not an integer between 1 and 65535"}
}

test_port_above_range_denied if {
	denials(connect("a", "api.openai.com", 65536)) == {"port 65536 for host api.openai.com is not an integer between 1 and 65535"}
}

test_port_fraction_denied if {
	denials(connect("a", "api.openai.com", 443.5)) == {"port 443.5 for host api.openai.com is not an integer between 1 and 65535"}
}

test_port_string_denied if {
	denials(connect("a", "api.openai.com", "443")) == {"port 443 for host api.openai.com is not an integer between 1 and 65535"}
}

test_port_lowest_allowed if allowed(connect("a", "api.openai.com", 1))

test_port_highest_allowed if allowed(connect("a", "api.openai.com", 65535))

test_named_tool_host_allowed if allowed(via("curl", "api.openai.com"))

test_named_tool_other_tools_host_denied if {
	denials(via("curl", "github.com")) == {"host github.com is not declared in a network capability of tool \"curl\""}
	not allowed(via("curl", "github.com"))
}

test_named_tool_not_granted_denied if {
	denials(via("ls", "api.openai.com")) == {
		"tool \"ls\" is not granted to agent \"a\"",
		"host api.openai.com is not declared in a network capability of tool \"ls\"",
	}
}

test_named_tool_not_a_string_denied if {
	denials(via(7, "api.openai.com")) == {"network.connect tool name must be a string (input.tool.name)"}
	not allowed(via(7, "api.openai.com"))
}

test_loopback_declared_exactly_allowed if allowed(connect("a", "127.0.0.1", 8080))

test_loopback_not_declared_denied if {
	denials(connect("a", "127.0.0.2", 80)) == {special("127.0.0.2", "a loopback address (in 127.0.0.0/8)"), undeclared("127.0.0.2")}
}

test_ipv6_loopback_in_brackets_allowed_when_declared if allowed(connect("a", "[::1]", 80))

test_ipv4_mapped_loopback_denied if {
	denials(connect("a", "::ffff:127.0.0.1", 80)) == {special("::ffff:127.0.0.1", "a loopback address (in 127.0.0.0/8)"), undeclared("::ffff:127.0.0.1")}
}

test_localhost_name_denied if {
	denials(connect("a", "localhost", 80)) == {special("localhost", "a loopback name"), undeclared("localhost")}
}

test_localhost_subdomain_via_wildcard_denied if {
	denials(connect("a", "app.localhost", 80)) == {special("app.localhost", "a loopback name (*.localhost)")}
	not allowed(connect("a", "app.localhost", 80))
}

test_unspecified_address_denied if {
	denials(connect("a", "0.0.0.0", 80)) == {special("0.0.0.0", "an unspecified address (in 0.0.0.0/8)"), undeclared("0.0.0.0")}
}

test_ipv6_unspecified_address_denied if {
	denials(connect("a", "::", 80)) == {special("::", "an unspecified address (in ::/128)"), undeclared("::")}
}

test_private_10_denied if {
	denials(connect("a", "10.1.2.3", 80)) == {special("10.1.2.3", "a private address (in 10.0.0.0/8)"), undeclared("10.1.2.3")}
}

test_private_172_16_denied if {
	denials(connect("a", "172.31.255.255", 80)) == {special("172.31.255.255", "a private address (in 172.16.0.0/12)"), undeclared("172.31.255.255")}
}

test_public_172_32_not_special if {
	denials(connect("a", "172.32.0.1", 80)) == {undeclared("172.32.0.1")}
}

test_private_192_168_denied if {
	denials(connect("a", "192.168.1.1", 80)) == {special("192.168.1.1", "a private address (in 192.168.0.0/16)"), undeclared("192.168.1.1")}
}

test_unique_local_ipv6_denied if {
	denials(connect("a", "fd12::1", 80)) == {special("fd12::1", "a private (unique local) address (in fc00::/7)"), undeclared("fd12::1")}
}

test_cgnat_denied if {
	denials(connect("a", "100.100.100.200", 80)) == {special("100.100.100.200", "a carrier-grade NAT address (in 100.64.0.0/10)"), undeclared("100.100.100.200")}
}

test_link_local_ipv6_with_zone_denied if {
	denials(connect("a", "fe80::1%eth0", 80)) == {special("fe80::1%eth0", "a link-local address (in fe80::/10)"), undeclared("fe80::1%eth0")}
}

test_cloud_metadata_address_denied if {
	denials(connect("a", "169.254.169.254", 80)) == {
		special("169.254.169.254", "a cloud metadata address (in 169.254.169.254/32)"),
		special("169.254.169.254", "a link-local address (in 169.254.0.0/16)"),
		undeclared("169.254.169.254"),
	}
}

test_aws_ipv6_metadata_address_denied if {
	denials(connect("a", "fd00:ec2::254", 80)) == {
		special("fd00:ec2::254", "a cloud metadata address (in fd00:ec2::254/128)"),
		special("fd00:ec2::254", "a private (unique local) address (in fc00::/7)"),
		undeclared("fd00:ec2::254"),
	}
}

test_metadata_name_via_wildcard_denied if {
	denials(connect("a", "metadata.google.internal", 80)) == {special("metadata.google.internal", "a cloud metadata name")}
}

test_metadata_name_declared_exactly_allowed if {
	cfg := json.patch(config, [{"op": "add", "path": "/index/tool_capabilities/curl/network/metadata.google.internal", "value": true}])
	network.allowed with input as connect("a", "metadata.google.internal", 80) with data.clawbroker.config as cfg
}

test_numeric_notation_denied if {
	denials(connect("a", "127.1", 80)) == {special("127.1", "a numeric address in non-standard notation")}
}

test_public_ip_declared_exactly_allowed if allowed(connect("a", "8.8.8.8", 53))

test_wildcard_never_matches_ip if {
	denials(connect("a", "1.8.8.8", 53)) == {undeclared("1.8.8.8")}
}
