package keys

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// changed says which settings a request sets; on create every one is set.
type changed struct {
	group, models, ips, rpm, tpm, quota, budget, period, expiry, namespaces, status bool
}

var allChanged = changed{true, true, true, true, true, true, true, true, true, true, true}

func (p Patch) changed() changed {
	return changed{
		group: p.Group != nil, models: p.AllowedModels != nil, ips: p.AllowedIPs != nil,
		rpm: p.RPMLimit.Set, tpm: p.TPMLimit.Set, quota: p.QuotaTokens.Set, budget: p.BudgetUSD.Set,
		period: p.BudgetPeriod != nil, expiry: p.ExpiresAt.Set, namespaces: p.Namespaces != nil, status: p.Status != nil,
	}
}

// fillFromCaps gives a tenant's new key the master's caps where the request
// leaves a capped setting open, so "not set" never means "unlimited".
func fillFromCaps(k *domain.Key, m domain.Master, now time.Time) {
	if m.MaxQuotaTokens != nil && k.QuotaTokens == nil {
		q := *m.MaxQuotaTokens
		k.QuotaTokens = &q
	}
	if m.MaxBudgetUSD != nil {
		if k.BudgetUSD == nil {
			b := *m.MaxBudgetUSD
			k.BudgetUSD = &b
		}
		if k.BudgetPeriod == "" {
			k.BudgetPeriod = m.BudgetPeriod
		}
	}
	if m.MaxKeyTTLSeconds > 0 && k.ExpiresAt == nil {
		t := now.Add(time.Duration(m.MaxKeyTTLSeconds) * time.Second).UTC().Truncate(time.Second)
		k.ExpiresAt = &t
	}
	if len(m.AllowedModels) > 0 && len(k.AllowedModels) == 0 {
		k.AllowedModels = slices.Clone(m.AllowedModels)
	}
}

// checkTenant enforces, for a request made with a master token, that the
// settings it changes stay inside the master's caps, and (old non-nil and
// issued by an operator) that they only narrow what the operator set.
// k is the key as it would be stored.
func checkTenant(k domain.Key, old *domain.Key, m domain.Master, ch changed, now time.Time) error {
	f := &domain.ForbiddenFieldError{}
	if ch.group && k.Group != m.Group && (old == nil || k.Group != old.Group) {
		f.Add("group", fmt.Sprintf("a tenant's keys are in its master's group %q", m.Group))
	}
	if ch.rpm && m.MaxRPM > 0 && k.RPMLimit > m.MaxRPM {
		f.Add("rpm_limit", fmt.Sprintf("exceeds the master's max_rpm (%d)", m.MaxRPM))
	}
	if ch.tpm && m.MaxTPM > 0 && k.TPMLimit > m.MaxTPM {
		f.Add("tpm_limit", fmt.Sprintf("exceeds the master's max_tpm (%d)", m.MaxTPM))
	}
	if ch.quota && m.MaxQuotaTokens != nil && (k.QuotaTokens == nil || *k.QuotaTokens > *m.MaxQuotaTokens) {
		f.Add("quota_tokens", fmt.Sprintf("must be set and at most the master's max_quota_tokens (%d)", *m.MaxQuotaTokens))
	}
	if (ch.budget || ch.period) && m.MaxBudgetUSD != nil {
		if k.BudgetUSD == nil || *k.BudgetUSD > *m.MaxBudgetUSD {
			f.Add("budget_usd", fmt.Sprintf("must be set and at most the master's max_budget_usd (%g)", *m.MaxBudgetUSD))
		}
		if k.BudgetPeriod != m.BudgetPeriod {
			f.Add("budget_period", fmt.Sprintf("must be the master's budget_period (%s)", m.BudgetPeriod))
		}
	}
	if ch.expiry && m.MaxKeyTTLSeconds > 0 {
		limit := now.Add(time.Duration(m.MaxKeyTTLSeconds) * time.Second)
		if k.ExpiresAt == nil || k.ExpiresAt.After(limit) {
			f.Add("expires_at", fmt.Sprintf("must be set and within the master's max_key_ttl_seconds (%d) from now", m.MaxKeyTTLSeconds))
		}
	}
	if ch.models && len(m.AllowedModels) > 0 {
		switch extra := notIn(k.AllowedModels, m.AllowedModels); {
		case len(k.AllowedModels) == 0:
			f.Add("allowed_models", "must not be empty: the master allows only "+strings.Join(m.AllowedModels, ", "))
		case len(extra) > 0:
			f.Add("allowed_models", "outside the master's allowed_models: "+strings.Join(extra, ", "))
		}
	}
	if old != nil && old.IssuedBy != domain.IssuedByMaster {
		narrowOnly(f, k, *old, m, ch)
	}
	return f.OrNil()
}

// narrowOnly refuses every change of a tenant that widens an operator's
// setting on a key the operator issued.
func narrowOnly(f *domain.ForbiddenFieldError, k, old domain.Key, m domain.Master, ch changed) {
	const why = "an operator set this on the key; a tenant may only narrow it"
	if ch.rpm && !limitNarrower(effective(k.RPMLimit, m.DefaultRPM, m.MaxRPM), effective(old.RPMLimit, m.DefaultRPM, m.MaxRPM)) {
		f.Add("rpm_limit", why)
	}
	if ch.tpm && !limitNarrower(effective(k.TPMLimit, m.DefaultTPM, m.MaxTPM), effective(old.TPMLimit, m.DefaultTPM, m.MaxTPM)) {
		f.Add("tpm_limit", why)
	}
	if ch.quota && old.QuotaTokens != nil && (k.QuotaTokens == nil || *k.QuotaTokens > *old.QuotaTokens) {
		f.Add("quota_tokens", why)
	}
	if (ch.budget || ch.period) && old.BudgetUSD != nil {
		if k.BudgetUSD == nil || *k.BudgetUSD > *old.BudgetUSD {
			f.Add("budget_usd", why)
		}
		if k.BudgetPeriod != old.BudgetPeriod {
			f.Add("budget_period", why)
		}
	}
	if ch.expiry && old.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*old.ExpiresAt)) {
		f.Add("expires_at", why)
	}
	if ch.models && len(old.AllowedModels) > 0 && (len(k.AllowedModels) == 0 || len(notIn(k.AllowedModels, old.AllowedModels)) > 0) {
		f.Add("allowed_models", why)
	}
	if ch.ips && len(old.AllowedIPs) > 0 && !cidrsWithin(k.AllowedIPs, old.AllowedIPs) {
		f.Add("allowed_ips", why)
	}
	if ch.namespaces && len(old.Namespaces) > 0 && (len(k.Namespaces) == 0 || len(notIn(k.Namespaces, old.Namespaces)) > 0) {
		f.Add("namespaces", why)
	}
	if ch.status && k.Status == domain.KeyActive && old.Status != domain.KeyActive {
		f.Add("status", "an operator-issued key a tenant disabled stays disabled until an operator enables it")
	}
}

// effective is the limit the balancer applies: the key's, else the master's
// default, else its cap; 0 is no limit.
func effective(v, def, capV int) int {
	switch {
	case v > 0:
		return v
	case def > 0:
		return def
	default:
		return capV
	}
}

// limitNarrower reports whether limit a is no looser than b (0: no limit).
func limitNarrower(a, b int) bool { return b == 0 || (a > 0 && a <= b) }

func notIn(items, allowed []string) []string {
	var out []string
	for _, s := range items {
		if !slices.Contains(allowed, s) {
			out = append(out, s)
		}
	}
	return out
}

// cidrsWithin reports whether every prefix of inner lies inside one of outer;
// an empty inner means "any address" and so is not within a non-empty outer.
func cidrsWithin(inner, outer []string) bool {
	if len(inner) == 0 {
		return false
	}
	for _, raw := range inner {
		in, err := parseCIDR(raw)
		if err != nil {
			return false
		}
		ok := false
		for _, o := range outer {
			op, err := parseCIDR(o)
			if err == nil && op.Bits() <= in.Bits() && op.Contains(in.Addr()) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
