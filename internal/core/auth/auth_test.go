package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/auth"
	"github.com/ez-api/ez-api/internal/core/domain"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingAuthenticator accepts "ok-…" credentials and counts lookups.
type countingAuthenticator struct {
	calls int
	err   error
}

func (a *countingAuthenticator) Name() string          { return "counting" }
func (a *countingAuthenticator) Accepts(c string) bool { return len(c) > 3 && c[:3] == "ok-" }
func (a *countingAuthenticator) Authenticate(_ context.Context, c string) (domain.Principal, error) {
	a.calls++
	if a.err != nil {
		return domain.Principal{}, a.err
	}
	return domain.Principal{Kind: domain.PrincipalServiceToken, ID: 1, Role: domain.RoleViewer}, nil
}

// blockingAuthenticator holds every lookup until release is closed.
type blockingAuthenticator struct {
	calls   atomic.Int32
	release chan struct{}
}

func (a *blockingAuthenticator) Name() string          { return "blocking" }
func (a *blockingAuthenticator) Accepts(c string) bool { return true }
func (a *blockingAuthenticator) Authenticate(_ context.Context, c string) (domain.Principal, error) {
	a.calls.Add(1)
	<-a.release
	return domain.Principal{Kind: domain.PrincipalServiceToken, ID: 1, Role: domain.RoleViewer}, nil
}

func TestManager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("caches_for_ttl_then_asks_again", func(t *testing.T) {
		clk := &clock{t: time.Unix(1000, 0)}
		a := &countingAuthenticator{}
		m := auth.NewManager(clk, time.Second)
		m.Register(a)
		for range 3 {
			_, err := m.Authenticate(ctx, "ok-1")
			require.NoError(t, err)
		}
		assert.Equal(t, 1, a.calls)
		clk.Advance(time.Second)
		_, err := m.Authenticate(ctx, "ok-1")
		require.NoError(t, err)
		assert.Equal(t, 2, a.calls, "expired entry is looked up again")
	})

	t.Run("concurrent_misses_share_one_lookup", func(t *testing.T) {
		a := &blockingAuthenticator{release: make(chan struct{})}
		m := auth.NewManager(&clock{t: time.Unix(1000, 0)}, time.Second)
		m.Register(a)
		var started atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for range 32 {
			wg.Go(func() {
				started.Add(1)
				_, err := m.Authenticate(ctx, "st-shared")
				errs <- err
			})
		}
		require.Eventually(t, func() bool { return started.Load() == 32 && a.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
		close(a.release)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		assert.Equal(t, int32(1), a.calls.Load(), "one lookup for every concurrent miss")
	})

	t.Run("a_cancelled_caller_does_not_fail_the_shared_lookup", func(t *testing.T) {
		a := &blockingAuthenticator{release: make(chan struct{})}
		m := auth.NewManager(&clock{t: time.Unix(1000, 0)}, time.Second)
		m.Register(a)
		cctx, cancel := context.WithCancel(ctx)
		first := make(chan error, 1)
		go func() { _, err := m.Authenticate(cctx, "st-x"); first <- err }()
		require.Eventually(t, func() bool { return a.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-first, context.Canceled)
		second := make(chan error, 1)
		go func() { _, err := m.Authenticate(ctx, "st-x"); second <- err }()
		close(a.release)
		require.NoError(t, <-second)
		assert.Equal(t, int32(1), a.calls.Load())
	})

	t.Run("invalidate_forgets_at_once", func(t *testing.T) {
		a := &countingAuthenticator{}
		m := auth.NewManager(&clock{t: time.Unix(1000, 0)}, time.Minute)
		m.Register(a)
		_, _ = m.Authenticate(ctx, "ok-1")
		m.Invalidate()
		_, _ = m.Authenticate(ctx, "ok-1")
		assert.Equal(t, 2, a.calls)
	})

	t.Run("rejects_unknown_kinds_empty_and_oversized", func(t *testing.T) {
		m := auth.NewManager(&clock{}, 0)
		m.Register(&countingAuthenticator{})
		for _, c := range []string{"", "zz-1", "ok-" + string(make([]byte, auth.MaxCredentialLen))} {
			_, err := m.Authenticate(ctx, c)
			assert.ErrorIs(t, err, domain.ErrUnauthenticated)
		}
	})

	t.Run("infrastructure_failure_is_unavailable_not_401", func(t *testing.T) {
		m := auth.NewManager(&clock{}, 0)
		m.Register(&countingAuthenticator{err: errors.New("connection refused")})
		_, err := m.Authenticate(ctx, "ok-1")
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.NotErrorIs(t, err, domain.ErrUnauthenticated)
	})

	t.Run("failures_are_not_cached", func(t *testing.T) {
		a := &countingAuthenticator{err: fmt.Errorf("bad: %w", domain.ErrUnauthenticated)}
		m := auth.NewManager(&clock{}, time.Minute)
		m.Register(a)
		_, _ = m.Authenticate(ctx, "ok-1")
		_, _ = m.Authenticate(ctx, "ok-1")
		assert.Equal(t, 2, a.calls)
	})
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	th := auth.NewThrottle(5, time.Minute)
	for i := range 5 {
		_, _, ok := th.Reserve("alice", now.Add(time.Duration(i)*time.Second))
		require.True(t, ok, "attempt %d", i)
	}
	_, wait, ok := th.Reserve("alice", now.Add(5*time.Second))
	assert.False(t, ok)
	assert.Equal(t, 55*time.Second, wait, "until the oldest failure leaves the window")
	_, _, ok = th.Reserve("bob", now)
	assert.True(t, ok, "keys are independent")
	_, _, ok = th.Reserve("alice", now.Add(61*time.Second))
	assert.True(t, ok, "the window slides")
	r, _, _ := th.Reserve("carol", now)
	r.Cancel()
	assert.Equal(t, 2, th.Len(), "alice, bob; carol's cancelled reservation left nothing")
}

func TestThrottleReservesAtomically(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	th := auth.NewThrottle(5, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 40 {
		wg.Go(func() {
			if _, _, ok := th.Reserve("victim", now); ok {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 5, admitted, "40 concurrent attempts: exactly the limit is admitted")
}

func TestThrottleBackoffDoubles(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	th := auth.NewThrottle(2, time.Minute).WithBackoff(4 * time.Minute)
	for range 2 {
		_, _, ok := th.Reserve("u", now)
		require.True(t, ok)
	}
	var waits []time.Duration
	at := now
	for range 4 {
		_, wait, ok := th.Reserve("u", at)
		require.False(t, ok)
		waits = append(waits, wait)
		at = at.Add(wait) // retry the moment the lockout ends: the failures are still fresh enough to trip again
		for range 2 {
			th.Reserve("u", at)
		}
	}
	assert.Equal(t, []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute}, waits)
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	th := auth.NewThrottle(1, time.Minute)
	for i := range 100_050 {
		th.Reserve(fmt.Sprintf("spray-%d", i), now)
	}
	assert.LessOrEqual(t, th.Len(), 100_000, "a username spray cannot grow the table without bound")
	// Once the window has passed, new keys are admitted again.
	_, _, ok := th.Reserve("later", now.Add(2*time.Minute))
	assert.True(t, ok)
}
