// Package auth authenticates requests: a manager with pluggable
// authenticators (operator JWT, service token, master token), a short-lived
// principal cache, and operator login with failure throttling.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// MaxCredentialLen bounds what is even looked at: longer credentials are
// rejected before any parsing or lookup.
const MaxCredentialLen = 4096

// Manager resolves a credential to a principal with the first registered
// authenticator that accepts its shape.
type Manager struct {
	authenticators []ports.Authenticator
	clock          ports.Clock
	ttl            time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
	// gen counts invalidations: a lookup started before one neither fills
	// the cache nor is shared with callers arriving after it.
	gen uint64
	// lookups shares one authenticator call among concurrent misses of
	// the same credential (64 requests whose cache entry just expired
	// cost one database lookup, not 64).
	lookups singleflight.Group
}

type cached struct {
	p     domain.Principal
	until time.Time
}

// maxCacheEntries bounds the cache; it is cleared when full.
const maxCacheEntries = 10000

// NewManager builds a manager whose resolved principals are cached for ttl
// (0 disables the cache). A revoked or disabled credential therefore stops
// working within ttl on every replica, and at once on the replica that
// changed it (Invalidate).
func NewManager(clock ports.Clock, ttl time.Duration) *Manager {
	return &Manager{clock: clock, ttl: ttl, cache: map[[32]byte]cached{}}
}

// Register adds an authenticator; earlier ones are asked first.
func (m *Manager) Register(a ports.Authenticator) {
	m.authenticators = append(m.authenticators, a)
}

// Authenticate returns the principal for credential, an error wrapping
// domain.ErrUnauthenticated when it is not valid, or one wrapping
// domain.ErrUnavailable when the answer could not be determined.
func (m *Manager) Authenticate(ctx context.Context, credential string) (domain.Principal, error) {
	if credential == "" || len(credential) > MaxCredentialLen {
		return domain.Principal{}, fmt.Errorf("credential: %w", domain.ErrUnauthenticated)
	}
	key := sha256.Sum256([]byte(credential))
	now := m.clock.Now()
	if m.ttl <= 0 {
		return m.lookup(ctx, credential)
	}
	m.mu.Lock()
	c, ok := m.cache[key]
	gen := m.gen
	m.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.p, nil
	}
	flight := string(key[:]) + strconv.FormatUint(gen, 10)
	ch := m.lookups.DoChan(flight, func() (any, error) {
		// Shared by every waiting caller: one leaving must not fail the rest.
		p, err := m.lookup(context.WithoutCancel(ctx), credential)
		if err != nil {
			return nil, err
		}
		until := now.Add(m.ttl)
		if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(until) {
			until = p.ExpiresAt
		}
		m.mu.Lock()
		if m.gen == gen {
			if len(m.cache) >= maxCacheEntries {
				clear(m.cache)
			}
			m.cache[key] = cached{p: p, until: until}
		}
		m.mu.Unlock()
		return p, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return domain.Principal{}, res.Err
		}
		return res.Val.(domain.Principal), nil
	case <-ctx.Done():
		return domain.Principal{}, fmt.Errorf("authenticate: %w: %w", domain.ErrUnavailable, ctx.Err())
	}
}

// lookup asks the first authenticator that accepts the credential's shape.
func (m *Manager) lookup(ctx context.Context, credential string) (domain.Principal, error) {
	for _, a := range m.authenticators {
		if !a.Accepts(credential) {
			continue
		}
		p, err := a.Authenticate(ctx, credential)
		if err != nil {
			if errors.Is(err, domain.ErrUnauthenticated) {
				return domain.Principal{}, err
			}
			return domain.Principal{}, fmt.Errorf("%s authenticator: %w: %v", a.Name(), domain.ErrUnavailable, err)
		}
		return p, nil
	}
	return domain.Principal{}, fmt.Errorf("credential of unknown kind: %w", domain.ErrUnauthenticated)
}

// Invalidate forgets every cached principal: called after any change to a
// credential or its owner on this replica.
func (m *Manager) Invalidate() {
	m.mu.Lock()
	clear(m.cache)
	m.gen++
	m.mu.Unlock()
}
