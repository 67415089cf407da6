package imports

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// typeRule is how one exporter provider type becomes an ezapi type.
type typeRule struct {
	Type string // ezapi type
	// DefaultBaseURL is used when the file has none (OpenAI-compatible
	// vendors with a public endpoint).
	DefaultBaseURL string
	// Disable marks types ezapi cannot serve as exported: the provider is
	// imported disabled as "compatible" for the operator to review.
	Disable bool
	Reason  string
}

// providerTypes is the explicit table for the exporter's type names
// (EZ-Api/exporter channel_type.go). Names not listed are unknown: imported
// disabled as compatible, never published under their own name.
var providerTypes = map[string]typeRule{
	"openai":      {Type: "openai"},
	"anthropic":   {Type: "anthropic"},
	"claude":      {Type: "claude"},
	"gemini":      {Type: "gemini"},
	"vertex":      {Type: "vertex"},
	"deepseek":    {Type: "compatible", DefaultBaseURL: "https://api.deepseek.com/v1"},
	"openrouter":  {Type: "compatible", DefaultBaseURL: "https://openrouter.ai/api/v1"},
	"moonshot":    {Type: "compatible", DefaultBaseURL: "https://api.moonshot.cn/v1"},
	"siliconflow": {Type: "compatible", DefaultBaseURL: "https://api.siliconflow.cn/v1"},
	"xai":         {Type: "compatible", DefaultBaseURL: "https://api.x.ai/v1"},
	"mistral":     {Type: "compatible", DefaultBaseURL: "https://api.mistral.ai/v1"},
	"perplexity":  {Type: "compatible", DefaultBaseURL: "https://api.perplexity.ai"},
	"lingyiwanwu": {Type: "compatible", DefaultBaseURL: "https://api.lingyiwanwu.com/v1"},
	"ollama":      {Type: "compatible"}, // self-hosted: needs the file's base_url
	"xinference":  {Type: "compatible"},
	"suno": {Type: "compatible", Disable: true, Reason: "exporter type \"suno\" is New API's channel type 36, " +
		"which one-api uses for DeepSeek: check the models and base_url, then enable it"},
	"custom": {Type: "compatible", Disable: true, Reason: "exporter type \"custom\" (a channel type the exporter " +
		"did not know): check the base_url speaks the OpenAI API, then enable it"},
	"azure": {Type: "compatible", Disable: true, Reason: "Azure OpenAI deployments use their own URL scheme and " +
		"api-key header, which no ezapi type speaks"},
}

// mapType applies providerTypes to an exporter type, normalised as
// provider.NormalizeType does (trimmed, lower-cased).
func mapType(exported string) (typeRule, bool) {
	r, ok := providerTypes[strings.ToLower(strings.TrimSpace(exported))]
	if !ok {
		return typeRule{Type: "compatible", Disable: true, Reason: fmt.Sprintf(
			"exporter type %q is not an upstream ezapi can serve: imported disabled as compatible for review",
			exported)}, false
	}
	return r, true
}

// quotaPerUSD is New API / one-api's quota unit: 500,000 quota = 1 USD.
const quotaPerUSD = 500000

// bareToken is the token as New API / one-api store it (without "sk-").
func bareToken(t string) string { return strings.TrimPrefix(strings.TrimSpace(t), "sk-") }

// keyHashes are an imported key's lookup hashes: the "sk-" form clients
// mostly send, and the bare form the source also accepted.
func keyHashes(token string) (primary, alias string) {
	b := bareToken(token)
	return domain.HashToken("sk-" + b), domain.HashToken(b)
}

// displayPrefix is the part of the token shown in listings.
func displayPrefix(token string) string {
	b := bareToken(token)
	if len(b) > 4 {
		b = b[:4]
	}
	return "sk-" + b
}

// parseIP accepts a CIDR or a single address, as POST /keys does.
func parseIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()).String(), true
	}
	return "", false
}

// bindingKey turns a source model limit (a bare model name) into an ezapi
// binding key in namespace.
func bindingKey(namespace, model string) string {
	return namespace + "." + strings.TrimSpace(model)
}
