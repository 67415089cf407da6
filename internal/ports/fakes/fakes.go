// Package fakes holds small in-memory implementations of the ports for the
// core use-case tests. repotest runs the same behavioural suite against
// them and against PostgreSQL, so they cannot drift from the real thing.
package fakes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	T  time.Time
}

// Now implements ports.Clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.T }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.T = c.T.Add(d); c.mu.Unlock() }

// TxRunner runs fn directly: the fakes have no rollback.
type TxRunner struct{}

// InTx implements ports.TxRunner.
func (TxRunner) InTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// Audit keeps entries in memory.
type Audit struct {
	mu      sync.Mutex
	Entries []domain.AuditEntry
}

// Record implements ports.AuditRepository.
func (a *Audit) Record(_ context.Context, e domain.AuditEntry) error {
	a.mu.Lock()
	a.Entries = append(a.Entries, e)
	a.mu.Unlock()
	return nil
}

// Actions lists the recorded actions in order.
func (a *Audit) Actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, len(a.Entries))
	for i, e := range a.Entries {
		out[i] = e.Action
	}
	return out
}

// Hasher "hashes" by prefixing; good enough to tell passwords apart.
type Hasher struct{}

// Hash implements ports.PasswordHasher.
func (Hasher) Hash(p string) (string, error) { return "fake$" + p, nil }

// Verify implements ports.PasswordHasher.
func (Hasher) Verify(p, encoded string) (bool, error) {
	if !strings.HasPrefix(encoded, "fake$") {
		return false, fmt.Errorf("malformed hash")
	}
	return encoded == "fake$"+p, nil
}

// Cache counts invalidations.
type Cache struct{ Invalidations int }

// Invalidate implements ports.CredentialCache.
func (c *Cache) Invalidate() { c.Invalidations++ }

// Operators is an in-memory ports.OperatorRepository.
type Operators struct {
	mu   sync.Mutex
	next int64
	rows map[int64]domain.Operator
}

var _ ports.OperatorRepository = (*Operators)(nil)

// NewOperators builds an empty repository.
func NewOperators() *Operators { return &Operators{rows: map[int64]domain.Operator{}} }

// Create implements ports.OperatorRepository.
func (r *Operators) Create(_ context.Context, op domain.Operator) (domain.Operator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.rows {
		if strings.EqualFold(o.Username, op.Username) {
			return domain.Operator{}, fmt.Errorf("username %q is taken: %w", op.Username, domain.ErrConflict)
		}
	}
	r.next++
	op.ID = r.next
	r.rows[op.ID] = op
	return op, nil
}

// Get implements ports.OperatorRepository.
func (r *Operators) Get(_ context.Context, id int64) (domain.Operator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op, ok := r.rows[id]
	if !ok {
		return domain.Operator{}, fmt.Errorf("operator %d: %w", id, domain.ErrNotFound)
	}
	return op, nil
}

// GetByUsername implements ports.OperatorRepository.
func (r *Operators) GetByUsername(_ context.Context, username string) (domain.Operator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.rows {
		if strings.EqualFold(o.Username, username) {
			return o, nil
		}
	}
	return domain.Operator{}, fmt.Errorf("operator by username: %w", domain.ErrNotFound)
}

// List implements ports.OperatorRepository.
func (r *Operators) List(_ context.Context, page domain.Page) ([]domain.Operator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.Operator
	for _, o := range r.rows {
		if o.ID > page.After {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b domain.Operator) int { return int(a.ID - b.ID) })
	if len(out) > page.Limit {
		out = out[:page.Limit]
	}
	return out, nil
}

// Update implements ports.OperatorRepository.
func (r *Operators) Update(_ context.Context, op domain.Operator) (domain.Operator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.rows[op.ID]
	if !ok {
		return domain.Operator{}, fmt.Errorf("operator %d: %w", op.ID, domain.ErrNotFound)
	}
	old.PasswordHash, old.Role, old.Status, old.UpdatedAt = op.PasswordHash, op.Role, op.Status, op.UpdatedAt
	r.rows[op.ID] = old
	return old, nil
}

// Delete implements ports.OperatorRepository.
func (r *Operators) Delete(_ context.Context, id int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[id]; !ok {
		return fmt.Errorf("operator %d: %w", id, domain.ErrNotFound)
	}
	delete(r.rows, id)
	return nil
}

// LockActiveAdmins implements ports.OperatorRepository.
func (r *Operators) LockActiveAdmins(_ context.Context) ([]int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []int64
	for _, o := range r.rows {
		if o.Role == domain.RoleAdmin && o.Status == domain.OperatorActive {
			ids = append(ids, o.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// AnyAdmin implements ports.OperatorRepository.
func (r *Operators) AnyAdmin(_ context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.rows {
		if o.Role == domain.RoleAdmin {
			return true, nil
		}
	}
	return false, nil
}

// TouchLogin implements ports.OperatorRepository.
func (r *Operators) TouchLogin(_ context.Context, id int64, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.rows[id]
	if !ok {
		return fmt.Errorf("operator %d: %w", id, domain.ErrNotFound)
	}
	o.LastLoginAt = &at
	r.rows[id] = o
	return nil
}
