// Package keys manages client keys: issued by a master for itself or by an
// operator on a master's behalf, shown once, stored as a sha256 digest,
// rotated with an optional grace period, and scoped so a master never sees
// another master's keys.
package keys

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Policy holds the configurable bounds.
type Policy struct {
	MaxRPM          int
	MaxTPM          int
	MaxGraceSeconds int
}

// Service is the client-key use-case.
type Service struct {
	repo    ports.KeyRepository
	masters ports.MasterRepository
	catalog ports.ModelCatalog
	mut     *changes.Mutator
	clock   ports.Clock
	policy  Policy
}

// NewService builds the use-case.
func NewService(repo ports.KeyRepository, masters ports.MasterRepository, catalog ports.ModelCatalog,
	mut *changes.Mutator, clock ports.Clock, policy Policy) *Service {
	return &Service{repo: repo, masters: masters, catalog: catalog, mut: mut, clock: clock, policy: policy}
}

// Input is what a caller may set on a key.
type Input struct {
	Name          string
	Group         string
	AllowedModels []string
	AllowedIPs    []string
	RPMLimit      int
	TPMLimit      int
	QuotaTokens   *int64
	BudgetUSD     *float64
	BudgetPeriod  domain.BudgetPeriod
	ExpiresAt     *time.Time
	// Namespaces narrow the master's (empty: the master's).
	Namespaces       []string
	DefaultNamespace string
}

// Patch is a partial update; Field values may clear nullable fields.
type Patch struct {
	Name             *string
	Group            *string
	AllowedModels    *[]string
	AllowedIPs       *[]string
	RPMLimit         domain.Field[int]
	TPMLimit         domain.Field[int]
	QuotaTokens      domain.Field[int64]
	BudgetUSD        domain.Field[float64]
	BudgetPeriod     *domain.BudgetPeriod
	ExpiresAt        domain.Field[time.Time]
	Status           *domain.KeyStatus
	Namespaces       *[]string
	DefaultNamespace *string
}

var groupPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validate checks a key's settings; expiry is checked only when it changed.
func (s *Service) validate(ctx context.Context, k *domain.Key, m domain.Master, now time.Time, expiryChanged bool) error {
	v := &domain.ValidationError{}
	validateNamespaces(v, k, m)
	k.Name = strings.TrimSpace(k.Name)
	if k.Name == "" || len(k.Name) > 128 {
		v.Add("name", "must be 1 to 128 characters")
	}
	if !groupPattern.MatchString(k.Group) {
		v.Add("group", "not a route group name")
	}
	ips := make([]string, 0, len(k.AllowedIPs))
	for i, raw := range k.AllowedIPs {
		p, err := parseCIDR(raw)
		if err != nil {
			v.Add(fmt.Sprintf("allowed_ips.%d", i), err.Error())
			continue
		}
		ips = append(ips, p.String())
	}
	k.AllowedIPs = ips
	if k.RPMLimit < 0 || k.RPMLimit > s.policy.MaxRPM {
		v.Add("rpm_limit", fmt.Sprintf("must be 1 to %d", s.policy.MaxRPM))
	}
	if k.TPMLimit < 0 || k.TPMLimit > s.policy.MaxTPM {
		v.Add("tpm_limit", fmt.Sprintf("must be 1 to %d", s.policy.MaxTPM))
	}
	if k.QuotaTokens != nil && *k.QuotaTokens < 1 {
		v.Add("quota_tokens", "must be ≥ 1")
	}
	if k.BudgetUSD != nil && *k.BudgetUSD < 0 {
		v.Add("budget_usd", "must be ≥ 0")
	}
	switch k.BudgetPeriod {
	case "":
		k.BudgetPeriod = domain.BudgetNone
	case domain.BudgetNone:
	case domain.BudgetDaily, domain.BudgetMonthly:
		if k.BudgetUSD == nil {
			v.Add("budget_period", "needs budget_usd")
		}
	default:
		v.Add("budget_period", "must be none, daily or monthly")
	}
	if expiryChanged && k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if len(k.AllowedModels) > 0 {
		missing, err := s.catalog.MissingKeys(ctx, k.AllowedModels)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			v.Add("allowed_models", "no such model: "+strings.Join(missing, ", "))
		}
	}
	return v.OrNil()
}

// validateNamespaces keeps a key's namespaces inside its master's (for
// every caller: a key only narrows its master) and its default namespace
// inside what the key may use.
func validateNamespaces(v *domain.ValidationError, k *domain.Key, m domain.Master) {
	ns := make([]string, 0, len(k.Namespaces))
	for i, n := range k.Namespaces {
		switch {
		case !domain.ValidNamespace(n):
			v.Add(fmt.Sprintf("namespaces.%d", i), "not a namespace name")
		case len(m.Namespaces) > 0 && !slices.Contains(m.Namespaces, n):
			v.Add(fmt.Sprintf("namespaces.%d", i), fmt.Sprintf("%q is not one of the master's namespaces", n))
		case !slices.Contains(ns, n):
			ns = append(ns, n)
		}
	}
	k.Namespaces = ns
	allowed := k.Namespaces
	if len(allowed) == 0 {
		allowed = m.Namespaces
	}
	if k.DefaultNamespace == "" {
		k.DefaultNamespace = m.DefaultNamespace
		if len(allowed) > 0 && !slices.Contains(allowed, k.DefaultNamespace) {
			k.DefaultNamespace = allowed[0]
		}
	}
	if k.DefaultNamespace == "" {
		k.DefaultNamespace = domain.DefaultNamespace
	}
	switch {
	case !domain.ValidNamespace(k.DefaultNamespace):
		v.Add("default_namespace", "not a namespace name")
	case len(allowed) > 0 && !slices.Contains(allowed, k.DefaultNamespace):
		v.Add("default_namespace", "must be one of the namespaces the key may use")
	}
}

// parseCIDR accepts a CIDR or a single address (as /32 or /128) and returns
// the masked prefix.
func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
}

func issuer(p domain.Principal) string {
	switch {
	case p.IsMaster():
		return domain.IssuedByMaster
	case p.Kind == domain.PrincipalOperator:
		return "admin:" + idString(p.ID)
	default:
		return string(p.Kind) + ":" + idString(p.ID)
	}
}

func details(k domain.Key) map[string]any {
	return map[string]any{"name": k.Name, "master_id": k.MasterID, "prefix": k.Prefix, "group": k.Group,
		"status": k.Status, "issued_by": k.IssuedBy, "allowed_models": k.AllowedModels, "allowed_ips": k.AllowedIPs,
		"rpm_limit": k.RPMLimit, "tpm_limit": k.TPMLimit, "quota_tokens": k.QuotaTokens, "budget_usd": k.BudgetUSD,
		"budget_period": k.BudgetPeriod, "expires_at": k.ExpiresAt, "namespaces": k.Namespaces,
		"default_namespace": k.DefaultNamespace}
}

// Create issues a key. A master principal issues for itself (masterID is
// ignored); an operator issues for masterID. The token is returned here only.
func (s *Service) Create(ctx context.Context, masterID int64, in Input) (domain.Key, string, error) {
	p, _ := domain.PrincipalFrom(ctx)
	if p.IsMaster() {
		masterID = p.MasterID
	}
	if masterID == 0 {
		return domain.Key{}, "", domain.NewValidationError("master_id",
			"operators issue keys with POST /admin/masters/{id}/keys")
	}
	tok, err := domain.NewToken(domain.TokenClient)
	if err != nil {
		return domain.Key{}, "", fmt.Errorf("generate token: %w", err)
	}
	var out domain.Key
	err = s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m, err := s.masters.Lock(ctx, masterID)
		if err != nil {
			return nil, err
		}
		if m.Status != domain.MasterActive {
			return nil, fmt.Errorf("master %d is suspended: %w", masterID, domain.ErrConflict)
		}
		k := domain.Key{
			MasterID: masterID, Name: in.Name, Prefix: tok.Prefix, TokenHash: tok.Hash, Group: in.Group,
			AllowedModels: in.AllowedModels, AllowedIPs: in.AllowedIPs, RPMLimit: in.RPMLimit, TPMLimit: in.TPMLimit,
			QuotaTokens: in.QuotaTokens, BudgetUSD: in.BudgetUSD, BudgetPeriod: in.BudgetPeriod, ExpiresAt: in.ExpiresAt,
			Namespaces: in.Namespaces, DefaultNamespace: in.DefaultNamespace,
			Status: domain.KeyActive, IssuedBy: issuer(p), CreatedAt: now, UpdatedAt: now,
		}
		if k.Group == "" {
			k.Group = m.Group
		}
		if p.IsMaster() {
			fillFromCaps(&k, m, now)
		}
		if err := s.validate(ctx, &k, m, now, true); err != nil {
			return nil, err
		}
		if p.IsMaster() {
			if err := checkTenant(k, nil, m, allChanged, now); err != nil {
				return nil, err
			}
		}
		if m.MaxKeys > 0 {
			n, err := s.repo.CountLive(ctx, masterID)
			if err != nil {
				return nil, err
			}
			if n >= m.MaxKeys {
				return nil, fmt.Errorf("master %d already holds %d key(s), its limit (max_keys %d): %w", masterID, n, m.MaxKeys, domain.ErrConflict)
			}
		}
		if out, err = s.repo.Create(ctx, k); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "key.create", ResourceType: "key", ResourceID: idString(out.ID),
			Details: details(out), Section: domain.SectionKeys, Op: domain.OpUpsert}}, nil
	})
	if err != nil {
		return domain.Key{}, "", err
	}
	return out, tok.Plaintext, nil
}

// owned loads a key and hides other tenants' keys from a master (404).
func (s *Service) owned(ctx context.Context, id int64) (domain.Key, error) {
	k, err := s.repo.Get(ctx, id)
	if err != nil {
		return domain.Key{}, err
	}
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() && p.MasterID != k.MasterID {
		return domain.Key{}, fmt.Errorf("key %d: %w", id, domain.ErrNotFound)
	}
	return k, nil
}

// Get returns one key.
func (s *Service) Get(ctx context.Context, id int64) (domain.Key, error) { return s.owned(ctx, id) }

// List returns a page of keys; a master sees only its own.
func (s *Service) List(ctx context.Context, f domain.KeyFilter, page domain.Page) ([]domain.Key, int64, error) {
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() {
		if f.MasterID != 0 && f.MasterID != p.MasterID {
			return nil, 0, nil
		}
		f.MasterID = p.MasterID
	}
	return domain.FetchPage(page, func(pg domain.Page) ([]domain.Key, error) { return s.repo.List(ctx, f, pg) },
		func(k domain.Key) int64 { return k.ID })
}

// ListOfMaster lists one master's keys (404 for a master asking about another).
func (s *Service) ListOfMaster(ctx context.Context, masterID int64, f domain.KeyFilter, page domain.Page) ([]domain.Key, int64, error) {
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() && p.MasterID != masterID {
		return nil, 0, fmt.Errorf("master %d: %w", masterID, domain.ErrNotFound)
	}
	if _, err := s.masters.Get(ctx, masterID); err != nil {
		return nil, 0, err
	}
	f.MasterID = masterID
	return s.List(ctx, f, page)
}

// Update applies a partial update. Revoked keys cannot change; status moves
// only between active and disabled (a master cannot revive an exhausted key).
func (s *Service) Update(ctx context.Context, id int64, p Patch) (domain.Key, error) {
	var out domain.Key
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		k, err := s.owned(ctx, id)
		if err != nil {
			return nil, err
		}
		if k.Status == domain.KeyRevoked {
			return nil, fmt.Errorf("key %d is revoked; revocation is final: %w", id, domain.ErrConflict)
		}
		old := k
		m, err := s.masters.Get(ctx, k.MasterID)
		if err != nil {
			return nil, err
		}
		setIf(&k.Name, p.Name)
		if p.Namespaces != nil {
			k.Namespaces = *p.Namespaces
		}
		setIf(&k.DefaultNamespace, p.DefaultNamespace)
		setIf(&k.Group, p.Group)
		if p.AllowedModels != nil {
			k.AllowedModels = *p.AllowedModels
		}
		if p.AllowedIPs != nil {
			k.AllowedIPs = *p.AllowedIPs
		}
		if p.RPMLimit.Set {
			k.RPMLimit = valueOr(p.RPMLimit.Value, 0)
		}
		if p.TPMLimit.Set {
			k.TPMLimit = valueOr(p.TPMLimit.Value, 0)
		}
		if p.QuotaTokens.Set {
			k.QuotaTokens = p.QuotaTokens.Value
		}
		if p.BudgetUSD.Set {
			k.BudgetUSD = p.BudgetUSD.Value
			if k.BudgetUSD == nil && p.BudgetPeriod == nil {
				k.BudgetPeriod = domain.BudgetNone
			}
		}
		setIf(&k.BudgetPeriod, p.BudgetPeriod)
		if p.ExpiresAt.Set {
			k.ExpiresAt = p.ExpiresAt.Value
		}
		if p.Status != nil && *p.Status != k.Status {
			switch {
			case *p.Status != domain.KeyActive && *p.Status != domain.KeyDisabled:
				return nil, domain.NewValidationError("status", "can only be set to active or disabled")
			case k.Status == domain.KeyExhausted && principalIsMaster(ctx):
				return nil, fmt.Errorf("key %d is exhausted; it becomes active again with the next budget period: %w", id, domain.ErrConflict)
			}
			k.Status = *p.Status
		}
		if err := s.validate(ctx, &k, m, now, p.ExpiresAt.Set); err != nil {
			return nil, err
		}
		if principalIsMaster(ctx) {
			if err := checkTenant(k, &old, m, p.changed(), now); err != nil {
				return nil, err
			}
		}
		k.UpdatedAt = now
		if out, err = s.repo.Update(ctx, k); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "key.update", ResourceType: "key", ResourceID: idString(id),
			Details: details(out), Section: domain.SectionKeys, Op: domain.OpUpsert}}, nil
	})
	return out, err
}

// Revoke ends a key for good; revoking a revoked key changes nothing.
func (s *Service) Revoke(ctx context.Context, id int64) error {
	return s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		k, err := s.owned(ctx, id)
		if err != nil {
			return nil, err
		}
		if k.Status == domain.KeyRevoked {
			return nil, nil
		}
		k.Status, k.RevokedAt, k.UpdatedAt = domain.KeyRevoked, &now, now
		k.PrevTokenHash, k.PrevExpiresAt, k.AliasTokenHash = "", nil, ""
		if _, err := s.repo.Update(ctx, k); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "key.revoke", ResourceType: "key", ResourceID: idString(id),
			Details: map[string]any{"prefix": k.Prefix, "master_id": k.MasterID}, Section: domain.SectionKeys, Op: domain.OpDelete}}, nil
	})
}

// Rotate gives a key a new token; the old one keeps working for grace.
func (s *Service) Rotate(ctx context.Context, id int64, graceSeconds int) (domain.Key, string, error) {
	if graceSeconds < 0 || graceSeconds > s.policy.MaxGraceSeconds {
		return domain.Key{}, "", domain.NewValidationError("grace_seconds", fmt.Sprintf("must be 0 to %d", s.policy.MaxGraceSeconds))
	}
	tok, err := domain.NewToken(domain.TokenClient)
	if err != nil {
		return domain.Key{}, "", fmt.Errorf("generate token: %w", err)
	}
	var out domain.Key
	err = s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		k, err := s.owned(ctx, id)
		if err != nil {
			return nil, err
		}
		if k.Status == domain.KeyRevoked {
			return nil, fmt.Errorf("key %d is revoked: %w", id, domain.ErrConflict)
		}
		k.PrevTokenHash, k.PrevExpiresAt = "", nil
		if graceSeconds > 0 {
			until := now.Add(time.Duration(graceSeconds) * time.Second)
			k.PrevTokenHash, k.PrevExpiresAt = k.TokenHash, &until
		}
		// The imported bare-token alias ends with the token it stood for.
		k.TokenHash, k.Prefix, k.AliasTokenHash, k.UpdatedAt = tok.Hash, tok.Prefix, "", now
		if out, err = s.repo.Update(ctx, k); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "key.rotate", ResourceType: "key", ResourceID: idString(id),
			Details: map[string]any{"prefix": tok.Prefix, "grace_seconds": graceSeconds}, Section: domain.SectionKeys, Op: domain.OpUpsert}}, nil
	})
	if err != nil {
		return domain.Key{}, "", err
	}
	return out, tok.Plaintext, nil
}

func principalIsMaster(ctx context.Context) bool {
	p, ok := domain.PrincipalFrom(ctx)
	return ok && p.IsMaster()
}

func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
