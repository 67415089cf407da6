// Package servicetokens issues, lists and revokes role-bound service tokens
// (st-…) used by automation and balancers.
package servicetokens

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the service-token use-case.
type Service struct {
	repo  ports.ServiceTokenRepository
	audit ports.AuditRepository
	tx    ports.TxRunner
	clock ports.Clock
	cache ports.CredentialCache
}

// NewService builds the use-case.
func NewService(repo ports.ServiceTokenRepository, audit ports.AuditRepository, tx ports.TxRunner,
	clock ports.Clock, cache ports.CredentialCache) *Service {
	return &Service{repo: repo, audit: audit, tx: tx, clock: clock, cache: cache}
}

// Create issues a token; the plaintext is returned here only.
func (s *Service) Create(ctx context.Context, name string, role domain.Role, expiresAt *time.Time) (domain.ServiceToken, string, error) {
	now := s.clock.Now()
	v := &domain.ValidationError{}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 {
		v.Add("name", "must be 1 to 128 characters")
	}
	if !domain.ValidServiceTokenRole(role) {
		v.Add("role", "must be admin, developer, viewer or balancer")
	}
	if expiresAt != nil && !expiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if err := v.OrNil(); err != nil {
		return domain.ServiceToken{}, "", err
	}
	tok, err := domain.NewToken(domain.TokenService)
	if err != nil {
		return domain.ServiceToken{}, "", fmt.Errorf("generate token: %w", err)
	}
	t := domain.ServiceToken{Name: name, Role: role, TokenHash: tok.Hash, Prefix: tok.Prefix, CreatedAt: now, ExpiresAt: expiresAt}
	if p, ok := domain.PrincipalFrom(ctx); ok && p.Kind == domain.PrincipalOperator {
		t.CreatedBy = &p.ID
	}
	var out domain.ServiceToken
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if out, err = s.repo.Create(ctx, t); err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "service_token.create", "service_token",
			strconv.FormatInt(out.ID, 10), map[string]any{"name": name, "role": role, "prefix": tok.Prefix, "expires_at": expiresAt}))
	})
	if err != nil {
		return domain.ServiceToken{}, "", err
	}
	return out, tok.Plaintext, nil
}

// List returns a page of tokens and the id to continue after (0: done).
func (s *Service) List(ctx context.Context, page domain.Page) ([]domain.ServiceToken, int64, error) {
	return domain.FetchPage(page, func(pg domain.Page) ([]domain.ServiceToken, error) { return s.repo.List(ctx, pg) },
		func(t domain.ServiceToken) int64 { return t.ID })
}

// Revoke ends a token for good; revoking a revoked token changes nothing.
func (s *Service) Revoke(ctx context.Context, id int64) error {
	now := s.clock.Now()
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		before, err := s.repo.Get(ctx, id)
		if err != nil {
			return err
		}
		if before.RevokedAt != nil {
			return nil
		}
		if _, err := s.repo.Revoke(ctx, id, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "service_token.revoke", "service_token",
			strconv.FormatInt(id, 10), map[string]any{"name": before.Name, "prefix": before.Prefix}))
	})
	if err != nil {
		return err
	}
	s.cache.Invalidate()
	return nil
}
