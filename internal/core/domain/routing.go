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

// ModelKind is what a public model does.
type ModelKind string

// Model kinds.
const (
	ModelChat      ModelKind = "chat"
	ModelEmbedding ModelKind = "embedding"
	ModelRerank    ModelKind = "rerank"
	ModelOther     ModelKind = "other"
)

// ResourceStatus is the status of catalogue entries and bindings.
type ResourceStatus string

// Resource statuses.
const (
	StatusActive   ResourceStatus = "active"
	StatusDisabled ResourceStatus = "disabled"
)

// DefaultNamespace is the namespace of models that name none.
const DefaultNamespace = "default"

// Model is an entry of the public model catalogue.
type Model struct {
	ID                 int64
	Namespace          string
	Name               string
	Kind               ModelKind
	ContextWindow      *int
	MaxOutputTokens    *int
	InputPricePerMTok  float64
	OutputPricePerMTok float64
	SupportsVision     bool
	SupportsFunctions  bool
	SupportsToolChoice bool
	SupportsFIM        bool
	SupportsStream     bool
	Status             ResourceStatus
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// ValidNamespace reports whether s is a model namespace name (lower-case
// letters, digits, '_' and '-', 1 to 64, as in the API's ModelNamespace).
func ValidNamespace(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '_' || r == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Key is the binding key, namespace.name.
func (m Model) Key() string { return BindingKey(m.Namespace, m.Name) }

// BindingKey joins a namespace and a model name.
func BindingKey(namespace, name string) string { return namespace + "." + name }

// Binding routes a public model to candidates.
type Binding struct {
	ID          int64
	ModelID     int64
	Namespace   string
	PublicModel string
	Status      ResourceStatus
	Candidates  []BindingCandidate
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Key is the binding key of the public model.
func (b Binding) Key() string { return BindingKey(b.Namespace, b.PublicModel) }

// ResolvedCandidate is a candidate with its route group id and resolution.
type ResolvedCandidate struct {
	BindingCandidate
	GroupID    int64
	Resolution CandidateResolution
}

// BindingResolution is a binding's resolution as computed and stored: by
// the write that created or changed the binding, then by the publisher each
// time it republishes the binding (its own change, or a change of a
// provider in one of its route groups). Version is the config version it
// was computed at.
type BindingResolution struct {
	BindingID  int64
	Version    int64
	Candidates []ResolvedCandidate
	ResolvedAt time.Time
}

// Matches reports whether r was computed for the candidates cs: the same
// route groups and selectors, in the same order (weights do not matter).
func (r BindingResolution) Matches(cs []BindingCandidate) bool {
	if len(r.Candidates) != len(cs) {
		return false
	}
	for i, c := range cs {
		got := r.Candidates[i]
		if got.RouteGroup != c.RouteGroup || got.SelectorType != c.SelectorType || got.SelectorValue != c.SelectorValue {
			return false
		}
	}
	return true
}

// Where a binding's resolution in a response comes from.
const (
	// ResolutionStored: the stored resolution, not recomputed for the read.
	ResolutionStored = "stored"
	// ResolutionComputed: none was stored yet (a binding from before the
	// upgrade, not yet republished), so it was computed for the read.
	ResolutionComputed = "computed"
)

// ProviderFilter selects providers in a list.
type ProviderFilter struct {
	Group      string
	Type       string
	Status     ProviderStatus
	NamePrefix string
}

// ModelFilter selects models in a list.
type ModelFilter struct {
	Namespace string
	Kind      ModelKind
	Status    ResourceStatus
}

// BindingFilter selects bindings in a list.
type BindingFilter struct {
	Namespace string
	Status    ResourceStatus
}

// Section names a part of the snapshot a change belongs to.
type Section string

// Snapshot sections.
const (
	SectionProviders Section = "providers"
	SectionModels    Section = "models"
	SectionBindings  Section = "bindings"
	SectionMasters   Section = "masters"
	SectionKeys      Section = "keys"
	SectionFeatures  Section = "features"
)

// ChangeOp says whether an entity was written or removed.
type ChangeOp string

// Change operations.
const (
	OpUpsert ChangeOp = "upsert"
	OpDelete ChangeOp = "delete"
)
