// Package masters manages tenants: their limits, status and master token.
// A suspended master's token and keys stop working without anything being
// deleted; deleting a master with keys needs cascade, which revokes them.
package masters

import (
	"context"
	"fmt"
	"regexp"
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
	for f, n := range map[string]int{"max_keys": m.MaxKeys, "default_rpm": m.DefaultRPM, "default_tpm": m.DefaultTPM} {
		if n < 0 {
			v.Add(f, "must be ≥ 0")
		}
	}
	return v.OrNil()
}

func details(m domain.Master) map[string]any {
	return map[string]any{"name": m.Name, "group": m.Group, "status": m.Status, "max_keys": m.MaxKeys,
		"default_rpm": m.DefaultRPM, "default_tpm": m.DefaultTPM, "token_prefix": m.TokenPrefix}
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
		if err := validate(&m); err != nil {
			return nil, err
		}
		m.UpdatedAt = now
		if out, err = s.repo.Update(ctx, m); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "master.update", ResourceType: "master", ResourceID: idString(id),
			Details: details(out), Section: domain.SectionMasters, Op: domain.OpUpsert}}, nil
	})
	if err != nil {
		return domain.Master{}, err
	}
	s.cache.Invalidate()
	return out, nil
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
