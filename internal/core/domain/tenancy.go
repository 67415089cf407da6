package domain

import (
	"time"
)

// Master is a tenant: it holds client keys and a master token for
// self-service.
type Master struct {
	ID         int64
	Name       string
	Group      string
	Status     MasterStatus
	MaxKeys    int
	DefaultRPM int
	DefaultTPM int
	// Caps bound what the tenant may set on keys with its master token
	// (0, nil or empty: no cap); see docs/security.md.
	MaxRPM           int
	MaxTPM           int
	MaxQuotaTokens   *int64
	MaxBudgetUSD     *float64
	BudgetPeriod     BudgetPeriod // the period of MaxBudgetUSD
	MaxKeyTTLSeconds int64
	AllowedModels    []string
	// Namespaces the master's callers may use (empty: all) and the one of
	// unqualified model names.
	Namespaces       []string
	DefaultNamespace string
	TokenHash        string
	TokenPrefix      string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// KeyStatus is a client key's state.
type KeyStatus string

// Key states. active ↔ disabled by owner or operator; revoked is final;
// expired follows expires_at; exhausted is set by usage.
const (
	KeyActive    KeyStatus = "active"
	KeyDisabled  KeyStatus = "disabled"
	KeyExpired   KeyStatus = "expired"
	KeyExhausted KeyStatus = "exhausted"
	KeyRevoked   KeyStatus = "revoked"
)

// BudgetPeriod is how often a key's USD budget resets (UTC).
type BudgetPeriod string

// Budget periods.
const (
	BudgetNone    BudgetPeriod = "none"
	BudgetDaily   BudgetPeriod = "daily"
	BudgetMonthly BudgetPeriod = "monthly"
)

// IssuedByMaster marks keys a master created for itself.
const IssuedByMaster = "master"

// Key is a client key, used only at the balancer.
type Key struct {
	ID            int64
	MasterID      int64
	Name          string
	Prefix        string
	TokenHash     string
	PrevTokenHash string
	PrevExpiresAt *time.Time
	// AliasTokenHash is a second lookup hash for the same key (empty for
	// most keys): an imported New API / one-api token also works without
	// its "sk-" prefix, as it did at the source.
	AliasTokenHash string
	Group          string
	AllowedModels  []string
	AllowedIPs     []string
	RPMLimit       int
	TPMLimit       int
	QuotaTokens    *int64
	BudgetUSD      *float64
	BudgetPeriod   BudgetPeriod
	ExpiresAt      *time.Time
	// Namespaces narrow the master's (empty: the master's);
	// DefaultNamespace is the namespace of unqualified model names.
	Namespaces       []string
	DefaultNamespace string
	Status           KeyStatus
	IssuedBy         string
	UsedTokens       int64
	UsedUSD          float64
	RevokedAt        *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// EffectiveStatus is the status at now: an active key past its expiry is
// expired.
func (k Key) EffectiveStatus(now time.Time) KeyStatus {
	if k.Status == KeyActive && k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return KeyExpired
	}
	return k.Status
}

// GraceUntil is when the previous token stops working (nil: no grace).
func (k Key) GraceUntil(now time.Time) *time.Time {
	if k.PrevTokenHash == "" || k.PrevExpiresAt == nil || !now.Before(*k.PrevExpiresAt) {
		return nil
	}
	return k.PrevExpiresAt
}

// KeyFilter selects keys in a list.
type KeyFilter struct {
	MasterID int64
	Status   KeyStatus
	Group    string
}

// MasterFilter selects masters in a list.
type MasterFilter struct {
	Status MasterStatus
	// OnlyID restricts the list to one master (a master principal's view).
	OnlyID int64
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	ActorType    string
	ActorID      *int64
	ResourceType string
	ResourceID   string
	Action       string
	From, To     *time.Time
	// Before is the cursor: entries with a smaller id (0: newest).
	Before int64
	Limit  int
}

// Known feature flags and their allowed values.
var KnownFeatureFlags = map[string][]string{
	"dp_state_store_backend":   {"memory", "redis"},
	"dp_claude_cross_upstream": {"true", "false"},
}
