package clawbroker.credential_test

import data.clawbroker.credential

config := {"index": {"agent_credentials": {"ci-bot": {"github": true}, "default": {}}}}

denials(inp) := r if {
	r := credential.denials with input as inp with data.clawbroker.config as config
}

allowed(inp) if credential.allowed with input as inp with data.clawbroker.config as config

read(agent, provider) := {"subject": {"agent": agent}, "credential": {"provider": provider}}

test_granted_provider_allowed if {
	denials(read("ci-bot", "github")) == set()
	allowed(read("ci-bot", "github"))
}

test_ungranted_provider_denied if {
	denials(read("ci-bot", "openai")) == {"credential provider \"openai\" is not granted to agent \"ci-bot\""}
	not allowed(read("ci-bot", "openai"))
}

test_agent_without_credentials_denied if {
	denials(read("default", "github")) == {"credential provider \"github\" is not granted to agent \"default\""}
}

test_unknown_agent_denied if {
	denials(read("intruder", "github")) == {"credential provider \"github\" is not granted to agent \"intruder\""}
	not allowed(read("intruder", "github"))
}

test_missing_provider_denied if {
	denials({"subject": {"agent": "ci-bot"}, "credential": {}}) == {"credential.read request has no provider (input.credential.provider must be a non-empty string)"}
}

test_missing_credential_object_denied if {
	denials({"subject": {"agent": "ci-bot"}}) == {"credential.read request has no provider (input.credential.provider must be a non-empty string)"}
}

test_empty_provider_denied if {
	denials(read("ci-bot", "")) == {"credential.read request has no provider (input.credential.provider must be a non-empty string)"}
}

test_non_string_provider_denied if {
	denials(read("ci-bot", ["github"])) == {"credential.read request has no provider (input.credential.provider must be a non-empty string)"}
	not allowed(read("ci-bot", ["github"]))
}

test_missing_agent_not_allowed if {
	denials({"credential": {"provider": "github"}}) == set()
	not allowed({"credential": {"provider": "github"}})
}

test_grant_must_be_true if {
	not credential.granted("ci-bot", "github") with data.clawbroker.config as {"index": {"agent_credentials": {"ci-bot": {"github": false}}}}
}
