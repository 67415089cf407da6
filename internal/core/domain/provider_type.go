package domain

import (
	"slices"
	"strings"
)

// compatibleAliases are provider types other systems (the EZ-API exporter,
// New API, one-api) use for upstreams that speak the OpenAI chat-completions
// API with a bearer key at their own base URL. They become "compatible"
// (which requires base_url), so the balancer only ever sees a type it knows.
var compatibleAliases = []string{
	"ali", "deepseek", "lingyiwanwu", "minimax", "mistral", "moonshot", "ollama", "openrouter",
	"perplexity", "siliconflow", "volcengine", "xai", "xinference", "zhipu",
}

// refusedTypes are types other systems emit that no balancer type can call:
// another wire protocol or authentication (azure: deployments, api-version
// and an api-key header), media or workflow services, or "custom", which
// says nothing about the protocol.
var refusedTypes = map[string]string{
	"azure":  "Azure OpenAI uses deployment paths, api-version and an api-key header, which no balancer type speaks; put an OpenAI-compatible gateway in front and use type compatible",
	"custom": "says nothing about the upstream's protocol; choose compatible (OpenAI chat-completions at base_url) or another known type",
}

// NormalizeProviderType lower-cases and trims t (as EZ-API's
// provider.NormalizeType does), maps the OpenAI-compatible aliases to
// "compatible", and reports why any other unknown type is refused
// (reason "" means typ is one of ProviderTypes).
func NormalizeProviderType(t string) (typ, reason string) {
	typ = strings.ToLower(strings.TrimSpace(t))
	switch {
	case slices.Contains(ProviderTypes, typ):
		return typ, ""
	case slices.Contains(compatibleAliases, typ):
		return "compatible", ""
	case refusedTypes[typ] != "":
		return typ, refusedTypes[typ]
	default:
		return typ, "must be one of " + strings.Join(ProviderTypes, ", ") +
			", or an OpenAI-compatible alias (" + strings.Join(compatibleAliases, ", ") + ") with base_url"
	}
}
