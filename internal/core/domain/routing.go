package domain

import "time"

// ProviderTypes are the upstream API families a provider can be.
var ProviderTypes = []string{
	"openai", "compatible", "anthropic", "claude", "claude-code", "codex", "gemini-cli",
	"antigravity", "gemini", "google", "aistudio", "vertex", "vertex-express",
}

// ProviderStatus says whether a provider takes traffic.
type ProviderStatus string

// Provider statuses.
const (
	ProviderActive   ProviderStatus = "active"
	ProviderDisabled ProviderStatus = "disabled"
	ProviderBanned   ProviderStatus = "banned"
)

// DefaultGroup is the route group of providers that name none.
const DefaultGroup = "default"

// Provider is an upstream AI API account.
type Provider struct {
	ID             int64
	Name           string
	Type           string
	BaseURL        string
	APIKey         string // plaintext, only in memory, only when needed
	APIKeyMask     string // what responses show, e.g. "sk-1…f3a9"
	GoogleProject  string
	GoogleLocation string
	Group          string
	GroupID        int64
	Models         []string
	Weight         int
	Priority       int
	Status         ProviderStatus
	AutoBan        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ProviderRef is what resolving a binding needs to know of a provider.
type ProviderRef struct {
	ID     int64
	Models []string
}

// SelectorType says how a candidate's selector matches upstream model ids.
type SelectorType string

// Selector types (the balancer contract).
const (
	SelectorExact          SelectorType = "exact"
	SelectorRegex          SelectorType = "regex"
	SelectorNormalizeExact SelectorType = "normalize_exact"
)

// BindingCandidate is one way to serve a public model: a route group and a
// selector of the upstream model within each of its providers.
type BindingCandidate struct {
	RouteGroup    string
	Weight        int
	SelectorType  SelectorType
	SelectorValue string
}

// Resolution errors a balancer can skip without thinking.
const (
	ResolutionConfigError = "config_error"
	ResolutionNoProvider  = "no_provider"
)

// CandidateResolution is a candidate resolved against the active providers
// of its route group: Upstreams maps provider id → upstream model, or Error
// says why there are none.
type CandidateResolution struct {
	Status    string // "ok" or "error"
	Error     string // "", ResolutionConfigError or ResolutionNoProvider
	Detail    string // human-readable reason for operators
	Upstreams map[int64]string
}
