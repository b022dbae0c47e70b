# Package clawbroker.credential decides credential.read: an agent may read a
# provider's secret only when the config grants it that provider. The same
# grant rule covers the credentials a tool is started with (clawbroker.tool).
package clawbroker.credential

import data.clawbroker.config

# Reasons a credential.read request is denied.
denials contains "credential.read request has no provider (input.credential.provider must be a non-empty string)" if {
	not valid_provider
}

denials contains sprintf("credential provider %q is not granted to agent %q", [provider, agent]) if {
	valid_provider
	provider := input.credential.provider
	agent := input.subject.agent
	is_string(agent)
	not granted(agent, provider)
}

# The positive side of the decision, so that an allow always needs a grant.
allowed if {
	count(denials) == 0
	granted(input.subject.agent, input.credential.provider)
}

# A rule, not a function: a negated call on a missing field is not true.
valid_provider if {
	is_string(input.credential.provider)
	input.credential.provider != ""
}

# granted(agent, provider) holds when the config grants agent the provider.
granted(agent, provider) if config.index.agent_credentials[agent][provider]
