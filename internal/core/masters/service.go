// Package masters manages tenants: their limits, status and master token.
// A suspended master's token and keys stop working without anything being
// deleted; deleting a master with keys needs cascade, which revokes them.
package masters

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the masters use-case.
type Service struct {
	repo  ports.MasterRepository
	keys  ports.KeyRepository
	mut   *changes.Mutator
	cache ports.CredentialCache
}

// NewService builds the use-case.
func NewService(repo ports.MasterRepository, keys ports.KeyRepository, mut *changes.Mutator, cache ports.CredentialCache) *Service {
	return &Service{repo: repo, keys: keys, mut: mut, cache: cache}
}

// Patch is a partial update.
type Patch struct {
	Name       *string
	Group      *string
	Status     *domain.MasterStatus
	MaxKeys    *int
	DefaultRPM *int
	DefaultTPM *int
	// Caps; Field values may clear the nullable ones.
	MaxRPM           *int
	MaxTPM           *int
	MaxQuotaTokens   domain.Field[int64]
	MaxBudgetUSD     domain.Field[float64]
	BudgetPeriod     *domain.BudgetPeriod
	MaxKeyTTLSeconds *int64
	AllowedModels    *[]string
	Namespaces       *[]string
	DefaultNamespace *string
}

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	groupPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

func validate(m *domain.Master) error {
	v := &domain.ValidationError{}
	if !namePattern.MatchString(m.Name) {
		v.Add("name", "1–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if m.Group == "" {
		m.Group = domain.DefaultGroup
	}
	if !groupPattern.MatchString(m.Group) {
		v.Add("group", "not a route group name")
	}
	switch m.Status {
	case "":
		m.Status = domain.MasterActive
	case domain.MasterActive, domain.MasterSuspended:
	default:
		v.Add("status", "must be active or suspended")
	}
	for f, n := range map[string]int{"max_keys": m.MaxKeys, "default_rpm": m.DefaultRPM, "default_tpm": m.DefaultTPM,
		"max_rpm": m.MaxRPM, "max_tpm": m.MaxTPM} {
		if n < 0 {
			v.Add(f, "must be ≥ 0")
		}
	}
	// A key that sets no limit gets the default: it must be inside the cap.
	if m.MaxRPM > 0 && m.DefaultRPM > m.MaxRPM {
		v.Add("default_rpm", fmt.Sprintf("must not exceed max_rpm (%d)", m.MaxRPM))
	}
	if m.MaxTPM > 0 && m.DefaultTPM > m.MaxTPM {
		v.Add("default_tpm", fmt.Sprintf("must not exceed max_tpm (%d)", m.MaxTPM))
	}
	if m.MaxQuotaTokens != nil && *m.MaxQuotaTokens < 1 {
		v.Add("max_quota_tokens", "must be ≥ 1")
	}
	if m.MaxBudgetUSD != nil && *m.MaxBudgetUSD < 0 {
		v.Add("max_budget_usd", "must be ≥ 0")
	}
	switch m.BudgetPeriod {
	case "":
		m.BudgetPeriod = domain.BudgetNone
	case domain.BudgetNone, domain.BudgetDaily, domain.BudgetMonthly:
	default:
		v.Add("budget_period", "must be none, daily or monthly")
	}
	if m.MaxKeyTTLSeconds < 0 {
		v.Add("max_key_ttl_seconds", "must be ≥ 0")
	}
	m.AllowedModels = dedupe(m.AllowedModels)
	for i, name := range m.AllowedModels {
		if name == "" || len(name) > 200 {
			v.Add(fmt.Sprintf("allowed_models.%d", i), "must be 1 to 200 characters")
		}
	}
	m.Namespaces = dedupe(m.Namespaces)
	for i, ns := range m.Namespaces {
		if !domain.ValidNamespace(ns) {
			v.Add(fmt.Sprintf("namespaces.%d", i), "not a namespace name")
		}
	}
	if m.DefaultNamespace == "" {
		m.DefaultNamespace = domain.DefaultNamespace
	}
	switch {
	case !domain.ValidNamespace(m.DefaultNamespace):
		v.Add("default_namespace", "not a namespace name")
	case len(m.Namespaces) > 0 && !slices.Contains(m.Namespaces, m.DefaultNamespace):
		v.Add("default_namespace", "must be one of namespaces")
	}
	return v.OrNil()
}

// dedupe drops repeated entries, keeping the first occurrence's order.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func details(m domain.Master) map[string]any {
	return map[string]any{"name": m.Name, "group": m.Group, "status": m.Status, "max_keys": m.MaxKeys,
		"default_rpm": m.DefaultRPM, "default_tpm": m.DefaultTPM, "token_prefix": m.TokenPrefix,
		"max_rpm": m.MaxRPM, "max_tpm": m.MaxTPM, "max_quota_tokens": m.MaxQuotaTokens, "max_budget_usd": m.MaxBudgetUSD,
		"budget_period": m.BudgetPeriod, "max_key_ttl_seconds": m.MaxKeyTTLSeconds, "allowed_models": m.AllowedModels,
		"namespaces": m.Namespaces, "default_namespace": m.DefaultNamespace}
}

// Create adds a tenant; its master token is returned here only.
func (s *Service) Create(ctx context.Context, m domain.Master) (domain.Master, string, error) {
	if err := validate(&m); err != nil {
		return domain.Master{}, "", err
	}
	tok, err := domain.NewToken(domain.TokenMaster)
	if err != nil {
		return domain.Master{}, "", fmt.Errorf("generate token: %w", err)
	}
	m.TokenHash, m.TokenPrefix = tok.Hash, tok.Prefix
	var out domain.Master
	err = s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m.CreatedAt, m.UpdatedAt = now, now
		var err error
		if out, err = s.repo.Create(ctx, m); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "master.create", ResourceType: "master", ResourceID: idString(out.ID),
			Details: details(out), Section: domain.SectionMasters, Op: domain.OpUpsert}}, nil
	})
	if err != nil {
		return domain.Master{}, "", err
	}
	return out, tok.Plaintext, nil
}

// visible hides other tenants from a master principal (404, not 403).
func visible(ctx context.Context, id int64) error {
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() && p.MasterID != id {
		return fmt.Errorf("master %d: %w", id, domain.ErrNotFound)
	}
	return nil
}

// Get returns one master.
func (s *Service) Get(ctx context.Context, id int64) (domain.Master, error) {
	if err := visible(ctx, id); err != nil {
		return domain.Master{}, err
	}
	return s.repo.Get(ctx, id)
}

// List returns a page of masters; a master principal sees only itself.
func (s *Service) List(ctx context.Context, f domain.MasterFilter, page domain.Page) ([]domain.Master, int64, error) {
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() {
		f.OnlyID = p.MasterID
	}
	return domain.FetchPage(page, func(pg domain.Page) ([]domain.Master, error) { return s.repo.List(ctx, f, pg) },
		func(m domain.Master) int64 { return m.ID })
}

// Update applies a partial update; suspension takes effect for the master
// token at once on this replica.
func (s *Service) Update(ctx context.Context, id int64, p Patch) (domain.Master, error) {
	var out domain.Master
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m, err := s.repo.Lock(ctx, id)
		if err != nil {
			return nil, err
		}
		setIf(&m.Name, p.Name)
		setIf(&m.Group, p.Group)
		setIf(&m.Status, p.Status)
		setIf(&m.MaxKeys, p.MaxKeys)
		setIf(&m.DefaultRPM, p.DefaultRPM)
		setIf(&m.DefaultTPM, p.DefaultTPM)
		setIf(&m.MaxRPM, p.MaxRPM)
		setIf(&m.MaxTPM, p.MaxTPM)
		if p.MaxQuotaTokens.Set {
			m.MaxQuotaTokens = p.MaxQuotaTokens.Value
		}
		if p.MaxBudgetUSD.Set {
			m.MaxBudgetUSD = p.MaxBudgetUSD.Value
		}
		setIf(&m.BudgetPeriod, p.BudgetPeriod)
		setIf(&m.MaxKeyTTLSeconds, p.MaxKeyTTLSeconds)
		setIf(&m.AllowedModels, p.AllowedModels)
		setIf(&m.Namespaces, p.Namespaces)
		setIf(&m.DefaultNamespace, p.DefaultNamespace)
		if err := validate(&m); err != nil {
			return nil, err
		}
		m.UpdatedAt = now
		if out, err = s.repo.Update(ctx, m); err != nil {
			return nil, err
		}
		chs := []changes.Change{{Action: "master.update", ResourceType: "master", ResourceID: idString(id),
			Details: details(out), Section: domain.SectionMasters, Op: domain.OpUpsert}}
		if p.Namespaces != nil || p.DefaultNamespace != nil {
			keyChs, err := s.narrowKeyNamespaces(ctx, out, now)
			if err != nil {
				return nil, err
			}
			chs = append(chs, keyChs...)
		}
		return chs, nil
	})
	if err != nil {
		return domain.Master{}, err
	}
	s.cache.Invalidate()
	return out, nil
}

// narrowKeyNamespaces keeps every live key of m inside m's namespaces: a key
// naming namespaces the master no longer has loses them, and a key left
// with none of its own would widen to all of the master's, so that is
// refused (409) instead.
func (s *Service) narrowKeyNamespaces(ctx context.Context, m domain.Master, now time.Time) ([]changes.Change, error) {
	live, err := s.keys.LiveIDs(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	var chs []changes.Change
	for _, kid := range live {
		k, err := s.keys.Get(ctx, kid)
		if err != nil {
			return nil, err
		}
		ns := k.Namespaces
		if len(m.Namespaces) > 0 && len(ns) > 0 {
			ns = slices.DeleteFunc(slices.Clone(ns), func(n string) bool { return !slices.Contains(m.Namespaces, n) })
			if len(ns) == 0 {
				return nil, fmt.Errorf("key %d uses only namespaces %v, which the master would no longer allow; change the key first: %w",
					kid, k.Namespaces, domain.ErrConflict)
			}
		}
		allowed := ns
		if len(allowed) == 0 {
			allowed = m.Namespaces
		}
		def := k.DefaultNamespace
		if len(allowed) > 0 && !slices.Contains(allowed, def) {
			def = allowed[0]
			if slices.Contains(allowed, m.DefaultNamespace) {
				def = m.DefaultNamespace
			}
		}
		if slices.Equal(ns, k.Namespaces) && def == k.DefaultNamespace {
			continue
		}
		k.Namespaces, k.DefaultNamespace, k.UpdatedAt = ns, def, now
		if _, err := s.keys.Update(ctx, k); err != nil {
			return nil, err
		}
		chs = append(chs, changes.Change{Action: "key.update", ResourceType: "key", ResourceID: idString(kid),
			Details: map[string]any{"reason": "master namespaces narrowed", "namespaces": ns, "default_namespace": def},
			Section: domain.SectionKeys, Op: domain.OpUpsert})
	}
	return chs, nil
}

// Delete removes a master. With live keys it is refused unless cascade,
// which revokes them first.
func (s *Service) Delete(ctx context.Context, id int64, cascade bool) error {
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m, err := s.repo.Lock(ctx, id)
		if err != nil {
			return nil, err
		}
		live, err := s.keys.LiveIDs(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(live) > 0 && !cascade {
			return nil, fmt.Errorf("master %d has %d key(s); delete with cascade=true to revoke them: %w", id, len(live), domain.ErrConflict)
		}
		var chs []changes.Change
		for _, kid := range live {
			k, err := s.keys.Get(ctx, kid)
			if err != nil {
				return nil, err
			}
			k.Status, k.RevokedAt, k.UpdatedAt = domain.KeyRevoked, &now, now
			k.PrevTokenHash, k.PrevExpiresAt = "", nil
			if _, err := s.keys.Update(ctx, k); err != nil {
				return nil, err
			}
			chs = append(chs, changes.Change{Action: "key.revoke", ResourceType: "key", ResourceID: idString(kid),
				Details: map[string]any{"reason": "master deleted", "master_id": id}, Section: domain.SectionKeys, Op: domain.OpDelete})
		}
		if err := s.repo.Delete(ctx, id); err != nil {
			return nil, err
		}
		return append(chs, changes.Change{Action: "master.delete", ResourceType: "master", ResourceID: idString(id),
			Details: map[string]any{"name": m.Name, "cascade": cascade}, Section: domain.SectionMasters, Op: domain.OpDelete}), nil
	})
	if err != nil {
		return err
	}
	s.cache.Invalidate()
	return nil
}

// RotateToken replaces the master token; the old one stops working.
func (s *Service) RotateToken(ctx context.Context, id int64) (domain.Master, string, error) {
	tok, err := domain.NewToken(domain.TokenMaster)
	if err != nil {
		return domain.Master{}, "", fmt.Errorf("generate token: %w", err)
	}
	var out domain.Master
	err = s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m, err := s.repo.Lock(ctx, id)
		if err != nil {
			return nil, err
		}
		m.TokenHash, m.TokenPrefix, m.UpdatedAt = tok.Hash, tok.Prefix, now
		if out, err = s.repo.Update(ctx, m); err != nil {
			return nil, err
		}
		// The master token is not part of the snapshot: audit only.
		return []changes.Change{{Action: "master.rotate_token", ResourceType: "master", ResourceID: idString(id),
			Details: map[string]any{"token_prefix": tok.Prefix}}}, nil
	})
	if err != nil {
		return domain.Master{}, "", err
	}
	s.cache.Invalidate()
	return out, tok.Plaintext, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
