// Package snapshot builds the Redis snapshot the balancers read (key names
// and JSON shapes are the contract of DESIGN.md §5 and docs/snapshot.md),
// computes its checksum, and publishes it: deltas from the outbox in
// version order, or a full resync.
package snapshot

import (
	"cmp"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// Redis keys (before the configurable prefix). The six data hashes are the
// ones the checksum covers.
const (
	KeyProviders  = "config:providers"
	KeyAuthKeys   = "auth:keys"
	KeyMasters    = "config:masters"
	KeyModels     = "meta:models"
	KeyBindings   = "config:bindings"
	KeyFeatures   = "meta:features"
	KeyModelsMeta = "meta:models_meta"
	KeySnapshot   = "meta:snapshot"
	// Channel is the pub/sub channel of change events.
	Channel = "events:snapshot"
	// RefreshChannel is the original EZ-API balancer's reload signal
	// (foundation contract.DPConfigRefreshChannel).
	RefreshChannel = "dp:config:refresh"
)

// DataKeys are the data hashes, in checksum order (sorted by key).
var DataKeys = func() []string {
	k := []string{KeyProviders, KeyAuthKeys, KeyMasters, KeyModels, KeyBindings, KeyFeatures}
	sort.Strings(k)
	return k
}()

// IndexKeys are the publisher's own hashes (not part of the contract, not
// in the checksum): entity id -> its fields in auth:keys (comma-separated
// token hashes), meta:models and config:bindings (the entity's key). They
// let a delta delete what an entity published before (a rotated-out token,
// a renamed model) without keeping every value in memory.
var IndexKeys = []string{"index:" + KeyAuthKeys, "index:" + KeyModels, "index:" + KeyBindings}

var indexOf = map[string]string{KeyAuthKeys: IndexKeys[0], KeyModels: IndexKeys[1], KeyBindings: IndexKeys[2]}

// IsIndexKey reports whether key is one of IndexKeys.
func IsIndexKey(key string) bool {
	for _, k := range IndexKeys {
		if k == key {
			return true
		}
	}
	return false
}

// joinFields is an index value: the entry's fields, sorted, comma-separated
// (token hashes are hex, so never contain a comma).
func joinFields(entries map[string]string) string {
	fs := make([]string, 0, len(entries))
	for f := range entries {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return strings.Join(fs, ",")
}

// ProviderJSON is a value of config:providers.
type ProviderJSON struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	BaseURL        string   `json:"base_url"`
	APIKey         string   `json:"api_key"`
	GoogleProject  string   `json:"google_project"`
	GoogleLocation string   `json:"google_location"`
	GroupID        int64    `json:"group_id"`
	Group          string   `json:"group"`
	Models         []string `json:"models"`
	Weight         int      `json:"weight"`
	Priority       int      `json:"priority"`
	Status         string   `json:"status"`
	AutoBan        bool     `json:"auto_ban"`
	// Error is set on an entry published fail-closed (status "disabled",
	// api_key empty): why the control plane could not publish it as stored.
	Error string `json:"error,omitempty"`
}

// KeyJSON is a value of auth:keys (field: sha256 hex of the token).
type KeyJSON struct {
	ID            int64    `json:"id"`
	MasterID      int64    `json:"master_id"`
	Group         string   `json:"group"`
	Status        string   `json:"status"`
	MasterStatus  string   `json:"master_status"`
	AllowedModels []string `json:"allowed_models"`
	AllowedIPs    []string `json:"allowed_ips"`
	RPMLimit      int      `json:"rpm_limit"`
	TPMLimit      int      `json:"tpm_limit"`
	QuotaTokens   int64    `json:"quota_tokens"`
	BudgetUSD     float64  `json:"budget_usd"`
	BudgetPeriod  string   `json:"budget_period"`
	// ExpiresAt is unix seconds; 0 means never. For the previous token of a
	// rotation it is the end of the grace period.
	ExpiresAt int64 `json:"expires_at"`
	// Namespaces the key may use: its own, else its master's (empty: all);
	// DefaultNamespace qualifies model names that name none.
	Namespaces       []string `json:"namespaces"`
	DefaultNamespace string   `json:"default_namespace"`
	// Rotated marks the previous token of a rotation, valid until ExpiresAt.
	Rotated bool `json:"rotated"`
}

// MasterLimitsJSON are a master's limits.
type MasterLimitsJSON struct {
	MaxKeys    int `json:"max_keys"`
	DefaultRPM int `json:"default_rpm"`
	DefaultTPM int `json:"default_tpm"`
	// Caps of what the tenant may set on its keys (0 / null / empty: none).
	MaxRPM           int      `json:"max_rpm"`
	MaxTPM           int      `json:"max_tpm"`
	MaxQuotaTokens   *int64   `json:"max_quota_tokens"`
	MaxBudgetUSD     *float64 `json:"max_budget_usd"`
	BudgetPeriod     string   `json:"budget_period"`
	MaxKeyTTLSeconds int64    `json:"max_key_ttl_seconds"`
	AllowedModels    []string `json:"allowed_models"`
}

// MasterJSON is a value of config:masters.
type MasterJSON struct {
	ID               int64            `json:"id"`
	Name             string           `json:"name"`
	Group            string           `json:"group"`
	Status           string           `json:"status"`
	Limits           MasterLimitsJSON `json:"limits"`
	Namespaces       []string         `json:"namespaces"`
	DefaultNamespace string           `json:"default_namespace"`
}

// ModelJSON is a value of meta:models (field: the binding key).
type ModelJSON struct {
	Name               string  `json:"name"`
	Kind               string  `json:"kind"`
	ContextWindow      int     `json:"context_window"`
	MaxOutputTokens    int     `json:"max_output_tokens"`
	SupportsVision     bool    `json:"supports_vision"`
	SupportsFunctions  bool    `json:"supports_functions"`
	SupportsToolChoice bool    `json:"supports_tool_choice"`
	SupportsFIM        bool    `json:"supports_fim"`
	SupportsStream     bool    `json:"supports_stream"`
	InputPricePerMTok  float64 `json:"input_price_per_mtok"`
	OutputPricePerMTok float64 `json:"output_price_per_mtok"`
	// CostPerToken is the original modelcap.Model field: USD per input
	// (prompt) token, input_price_per_mtok / 1,000,000.
	CostPerToken float64 `json:"cost_per_token"`
	Status       string  `json:"status"`
}

// CandidateJSON is one resolved candidate of a binding.
type CandidateJSON struct {
	GroupID       int64             `json:"group_id"`
	RouteGroup    string            `json:"route_group"`
	Weight        int               `json:"weight"`
	SelectorType  string            `json:"selector_type"`
	SelectorValue string            `json:"selector_value"`
	Status        string            `json:"status"`
	Error         string            `json:"error"`
	Upstreams     map[string]string `json:"upstreams"`
}

// BindingJSON is a value of config:bindings (field: the binding key).
type BindingJSON struct {
	Namespace   string          `json:"namespace"`
	PublicModel string          `json:"public_model"`
	Status      string          `json:"status"`
	UpdatedAt   int64           `json:"updated_at"`
	Candidates  []CandidateJSON `json:"candidates"`
}

// Event is what events:snapshot carries.
type Event struct {
	Version int64         `json:"version"`
	Kind    string        `json:"kind"` // "full" or "delta"
	Changes []EventChange `json:"changes"`
}

// RefreshEvent is what dp:config:refresh carries (foundation
// contract.DPConfigRefreshEvent): one per changed hash, version as a string.
// ActiveKey is always omitted: ezapi updates the hashes in place, it never
// publishes a versioned copy under another key name a balancer would switch to.
type RefreshEvent struct {
	Resource  string `json:"resource"`
	Version   string `json:"version,omitempty"`
	ActiveKey string `json:"active_key,omitempty"`
	Timestamp int64  `json:"timestamp"`
}

// EventChange names one changed field.
type EventChange struct {
	Key   string `json:"key"`
	Field string `json:"field"`
	Op    string `json:"op"` // "set" or "del"
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings, numbers and slices
	}
	return string(b)
}

func providerJSON(p domain.Provider, apiKey, fault string) string {
	models := p.Models
	if models == nil {
		models = []string{}
	}
	v := ProviderJSON{
		ID: p.ID, Name: p.Name, Type: p.Type, BaseURL: p.BaseURL, APIKey: apiKey, GoogleProject: p.GoogleProject,
		GoogleLocation: p.GoogleLocation, GroupID: p.GroupID, Group: p.Group, Models: models, Weight: p.Weight,
		Priority: p.Priority, Status: string(p.Status), AutoBan: p.AutoBan,
	}
	if fault != "" {
		// Fail closed: not routable, no secret.
		v.Status, v.APIKey, v.Error = string(domain.ProviderDisabled), "", fault
	}
	return mustJSON(v)
}

// FaultSecretUndecryptable is the reason of a provider whose stored secret
// this replica cannot decrypt (written under another encryption key).
const FaultSecretUndecryptable = "secret_undecryptable"

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// keyEntries are the auth:keys fields of one key: its current hash, its
// alias hash when imported (the bare token), and during a rotation's grace
// the previous one. Revoked keys have none.
func keyEntries(k domain.Key, m domain.Master, now time.Time) map[string]string {
	if k.Status == domain.KeyRevoked {
		return nil
	}
	base := KeyJSON{
		ID: k.ID, MasterID: k.MasterID, Group: k.Group, Status: string(k.EffectiveStatus(now)),
		MasterStatus: string(m.Status), AllowedModels: orEmpty(k.AllowedModels), AllowedIPs: orEmpty(k.AllowedIPs),
		RPMLimit: k.RPMLimit, TPMLimit: k.TPMLimit, BudgetPeriod: string(k.BudgetPeriod),
		Namespaces: orEmpty(k.Namespaces), DefaultNamespace: k.DefaultNamespace,
	}
	if len(k.Namespaces) == 0 {
		base.Namespaces = orEmpty(m.Namespaces)
	}
	// A key that sets no limit gets the master's default, else its cap.
	if base.RPMLimit == 0 {
		base.RPMLimit = cmp.Or(m.DefaultRPM, m.MaxRPM)
	}
	if base.TPMLimit == 0 {
		base.TPMLimit = cmp.Or(m.DefaultTPM, m.MaxTPM)
	}
	if k.QuotaTokens != nil {
		base.QuotaTokens = *k.QuotaTokens
	}
	if k.BudgetUSD != nil {
		base.BudgetUSD = *k.BudgetUSD
	}
	if k.ExpiresAt != nil {
		base.ExpiresAt = k.ExpiresAt.Unix()
	}
	out := map[string]string{k.TokenHash: mustJSON(base)}
	if k.AliasTokenHash != "" {
		out[k.AliasTokenHash] = out[k.TokenHash] // the same key, sent without "sk-"
	}
	if until := k.GraceUntil(now); until != nil {
		prev := base
		prev.Rotated = true
		if prev.ExpiresAt == 0 || until.Unix() < prev.ExpiresAt {
			prev.ExpiresAt = until.Unix()
		}
		out[k.PrevTokenHash] = mustJSON(prev)
	}
	return out
}

func masterJSON(m domain.Master) string {
	return mustJSON(MasterJSON{ID: m.ID, Name: m.Name, Group: m.Group, Status: string(m.Status),
		Limits: MasterLimitsJSON{MaxKeys: m.MaxKeys, DefaultRPM: m.DefaultRPM, DefaultTPM: m.DefaultTPM,
			MaxRPM: m.MaxRPM, MaxTPM: m.MaxTPM, MaxQuotaTokens: m.MaxQuotaTokens, MaxBudgetUSD: m.MaxBudgetUSD,
			BudgetPeriod: string(m.BudgetPeriod), MaxKeyTTLSeconds: m.MaxKeyTTLSeconds, AllowedModels: orEmpty(m.AllowedModels)},
		Namespaces: orEmpty(m.Namespaces), DefaultNamespace: m.DefaultNamespace})
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func modelJSON(m domain.Model) string {
	return mustJSON(ModelJSON{
		Name: m.Key(), Kind: string(m.Kind), ContextWindow: deref(m.ContextWindow), MaxOutputTokens: deref(m.MaxOutputTokens),
		SupportsVision: m.SupportsVision, SupportsFunctions: m.SupportsFunctions, SupportsToolChoice: m.SupportsToolChoice,
		SupportsFIM: m.SupportsFIM, SupportsStream: m.SupportsStream, InputPricePerMTok: m.InputPricePerMTok,
		OutputPricePerMTok: m.OutputPricePerMTok, CostPerToken: m.InputPricePerMTok / 1e6, Status: string(m.Status),
	})
}

func bindingJSON(b domain.Binding, resolved []domain.ResolvedCandidate) string {
	out := BindingJSON{Namespace: b.Namespace, PublicModel: b.PublicModel, Status: string(b.Status),
		UpdatedAt: b.UpdatedAt.Unix(), Candidates: make([]CandidateJSON, len(resolved))}
	for i, c := range resolved {
		ups := make(map[string]string, len(c.Resolution.Upstreams))
		for id, m := range c.Resolution.Upstreams {
			ups[strconv.FormatInt(id, 10)] = m
		}
		out.Candidates[i] = CandidateJSON{GroupID: c.GroupID, RouteGroup: c.RouteGroup, Weight: c.Weight,
			SelectorType: string(c.SelectorType), SelectorValue: c.SelectorValue, Status: c.Resolution.Status,
			Error: c.Resolution.Error, Upstreams: ups}
	}
	return mustJSON(out)
}
