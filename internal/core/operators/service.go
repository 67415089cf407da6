// Package operators manages operator accounts: creation, role and status
// changes, deletion, and the first admin's bootstrap. The last active admin
// can be neither deleted, disabled nor demoted.
package operators

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the operators use-case.
type Service struct {
	repo   ports.OperatorRepository
	hasher ports.PasswordHasher
	audit  ports.AuditRepository
	tx     ports.TxRunner
	clock  ports.Clock
	cache  ports.CredentialCache
}

// NewService builds the use-case.
func NewService(repo ports.OperatorRepository, hasher ports.PasswordHasher, audit ports.AuditRepository,
	tx ports.TxRunner, clock ports.Clock, cache ports.CredentialCache) *Service {
	return &Service{repo: repo, hasher: hasher, audit: audit, tx: tx, clock: clock, cache: cache}
}

// Create adds an operator.
func (s *Service) Create(ctx context.Context, username, password string, role domain.Role) (domain.Operator, error) {
	hash, err := s.newCredentials(username, password, role)
	if err != nil {
		return domain.Operator{}, err
	}
	now := s.clock.Now()
	var out domain.Operator
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.repo.Create(ctx, domain.Operator{
			Username: username, PasswordHash: hash, Role: role, Status: domain.OperatorActive, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "operator.create", "operator", idString(out.ID),
			map[string]any{"username": username, "role": role, "password": domain.Redacted}))
	})
	return out, err
}

// newCredentials validates a new operator and hashes its password.
func (s *Service) newCredentials(username, password string, role domain.Role) (string, error) {
	if err := validateNew(username, password, role); err != nil {
		return "", err
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

func validateNew(username, password string, role domain.Role) error {
	v := &domain.ValidationError{}
	if err := domain.ValidateUsername(username); err != nil {
		v.Add("username", err.(*domain.ValidationError).Fields[0].Message)
	}
	if err := domain.ValidatePassword(password); err != nil {
		v.Add("password", "must be 12 to 1024 characters")
	}
	if !domain.ValidOperatorRole(role) {
		v.Add("role", "must be admin, developer or viewer")
	}
	return v.OrNil()
}

// Get returns one operator.
func (s *Service) Get(ctx context.Context, id int64) (domain.Operator, error) {
	return s.repo.Get(ctx, id)
}

// List returns a page of operators and the id to continue after (0: done).
func (s *Service) List(ctx context.Context, page domain.Page) ([]domain.Operator, int64, error) {
	return domain.FetchPage(page, func(pg domain.Page) ([]domain.Operator, error) { return s.repo.List(ctx, pg) },
		func(o domain.Operator) int64 { return o.ID })
}

// Update changes password, role or status.
func (s *Service) Update(ctx context.Context, id int64, patch domain.OperatorPatch) (domain.Operator, error) {
	v := &domain.ValidationError{}
	if patch.Password != nil && domain.ValidatePassword(*patch.Password) != nil {
		v.Add("password", "must be 12 to 1024 characters")
	}
	if patch.Role != nil && !domain.ValidOperatorRole(*patch.Role) {
		v.Add("role", "must be admin, developer or viewer")
	}
	if patch.Status != nil && *patch.Status != domain.OperatorActive && *patch.Status != domain.OperatorDisabled {
		v.Add("status", "must be active or disabled")
	}
	if err := v.OrNil(); err != nil {
		return domain.Operator{}, err
	}
	var newHash string
	if patch.Password != nil {
		h, err := s.hasher.Hash(*patch.Password)
		if err != nil {
			return domain.Operator{}, fmt.Errorf("hash password: %w", err)
		}
		newHash = h
	}
	now := s.clock.Now()
	var out domain.Operator
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		admins, err := s.repo.LockActiveAdmins(ctx)
		if err != nil {
			return err
		}
		op, err := s.repo.Get(ctx, id)
		if err != nil {
			return err
		}
		changes := map[string]any{}
		if patch.Role != nil && *patch.Role != op.Role {
			changes["role"] = map[string]any{"from": op.Role, "to": *patch.Role}
			op.Role = *patch.Role
		}
		if patch.Status != nil && *patch.Status != op.Status {
			changes["status"] = map[string]any{"from": op.Status, "to": *patch.Status}
			op.Status = *patch.Status
			// Disabling ends every session for good: a later re-enable
			// does not bring the old tokens back.
			op.TokenVersion++
		}
		if patch.Password != nil {
			changes["password"] = domain.Redacted
			op.PasswordHash = newHash
			op.TokenVersion++
		}
		stillAdmin := op.Role == domain.RoleAdmin && op.Status == domain.OperatorActive
		if !stillAdmin && isLastAdmin(admins, id) {
			return fmt.Errorf("operator %d is the last active admin; it cannot be disabled or demoted: %w", id, domain.ErrConflict)
		}
		op.UpdatedAt = now
		if out, err = s.repo.Update(ctx, op); err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "operator.update", "operator", idString(id), changes))
	})
	if err != nil {
		return domain.Operator{}, err
	}
	s.cache.Invalidate()
	return out, nil
}

// RevokeSessions ends every session of operator id ("log out
// everywhere"): access tokens issued before stop working.
func (s *Service) RevokeSessions(ctx context.Context, id int64) error {
	now := s.clock.Now()
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		op, err := s.repo.Get(ctx, id)
		if err != nil {
			return err
		}
		op.TokenVersion++
		op.UpdatedAt = now
		if _, err := s.repo.Update(ctx, op); err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "operator.revoke_sessions", "operator", idString(id), nil))
	})
	if err != nil {
		return err
	}
	s.cache.Invalidate()
	return nil
}

// Delete removes an operator.
func (s *Service) Delete(ctx context.Context, id int64) error {
	now := s.clock.Now()
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		admins, err := s.repo.LockActiveAdmins(ctx)
		if err != nil {
			return err
		}
		op, err := s.repo.Get(ctx, id)
		if err != nil {
			return err
		}
		if isLastAdmin(admins, id) {
			return fmt.Errorf("operator %d is the last active admin; it cannot be deleted: %w", id, domain.ErrConflict)
		}
		if err := s.repo.Delete(ctx, id); err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "operator.delete", "operator", idString(id),
			map[string]any{"username": op.Username, "role": op.Role}))
	})
	if err != nil {
		return err
	}
	s.cache.Invalidate()
	return nil
}

// Bootstrap creates the first admin; it refuses (ErrConflict) when an admin
// already exists.
func (s *Service) Bootstrap(ctx context.Context, username, password string) (domain.Operator, error) {
	hash, err := s.newCredentials(username, password, domain.RoleAdmin)
	if err != nil {
		return domain.Operator{}, err
	}
	now := s.clock.Now()
	var out domain.Operator
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.repo.LockActiveAdmins(ctx); err != nil {
			return err
		}
		exists, err := s.repo.AnyAdmin(ctx)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("an admin operator already exists: %w", domain.ErrConflict)
		}
		out, err = s.repo.Create(ctx, domain.Operator{
			Username: username, PasswordHash: hash, Role: domain.RoleAdmin, Status: domain.OperatorActive, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "operator.bootstrap", "operator", idString(out.ID),
			map[string]any{"username": username, "role": domain.RoleAdmin, "password": domain.Redacted}))
	})
	return out, err
}

func isLastAdmin(activeAdmins []int64, id int64) bool {
	return len(activeAdmins) == 1 && slices.Contains(activeAdmins, id)
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
