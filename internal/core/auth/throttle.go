package auth

import (
	"slices"
	"sync"
	"time"
)

// Throttle counts failures per key in a sliding window and refuses keys
// that reached the limit until their oldest failure leaves the window.
// Attempts are reserved before the password is checked (Reserve), so
// concurrent guesses cannot all pass the check before any failure is
// recorded.
type Throttle struct {
	limit  int
	window time.Duration
	// maxBackoff > window turns on backoff: each time a key trips the
	// limit again within its lockout, the lockout doubles, up to maxBackoff.
	maxBackoff time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
	lockouts map[string]lockout
}

type lockout struct {
	until time.Time
	span  time.Duration
}

// maxThrottleKeys bounds memory under a spray of distinct usernames or IPs;
// beyond it, expired keys are swept first, and if the sweep frees nothing
// the new key is refused (fail closed) rather than growing the map.
const maxThrottleKeys = 100000

// NewThrottle allows limit failures per window for each key.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return &Throttle{limit: limit, window: window, failures: map[string][]time.Time{}, lockouts: map[string]lockout{}}
}

// WithBackoff makes repeated trips lock the key out for doubling spans (the
// window, twice the window, …) up to max.
func (t *Throttle) WithBackoff(max time.Duration) *Throttle {
	t.maxBackoff = max
	return t
}

// Reservation is one attempt counted against a key; Cancel it when the
// attempt turns out not to be a failure.
type Reservation struct {
	t   *Throttle
	key string
	at  time.Time
}

// Reserve counts an attempt for key at now, unless key is over its limit:
// then it reports how long to wait. Check and count are one atomic step.
func (t *Throttle) Reserve(key string, now time.Time) (*Reservation, time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.lockouts[key]; ok {
		if now.Before(l.until) {
			return nil, l.until.Sub(now), false
		}
		if now.After(l.until.Add(l.span)) {
			delete(t.lockouts, key) // quiet for a whole span: backoff starts over
		}
	}
	recent := t.prune(key, now)
	if len(recent) >= t.limit {
		wait := recent[0].Add(t.window).Sub(now)
		if t.maxBackoff > t.window {
			span := t.window
			if l, ok := t.lockouts[key]; ok {
				span = min(l.span*2, t.maxBackoff)
			}
			if len(t.lockouts) >= maxThrottleKeys {
				t.sweep(now)
			}
			t.lockouts[key] = lockout{until: now.Add(span), span: span}
			wait = span
		}
		return nil, wait, false
	}
	if recent == nil && len(t.failures) >= maxThrottleKeys {
		t.sweep(now)
		if len(t.failures) >= maxThrottleKeys {
			return nil, t.window, false
		}
	}
	t.failures[key] = append(recent, now)
	return &Reservation{t: t, key: key, at: now}, 0, true
}

// Cancel takes the attempt back (it was not a failure).
func (r *Reservation) Cancel() {
	if r == nil {
		return
	}
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	fs := t.failures[r.key]
	if i := slices.Index(fs, r.at); i >= 0 {
		fs = slices.Delete(fs, i, i+1)
	}
	if len(fs) == 0 {
		delete(t.failures, r.key)
		return
	}
	t.failures[r.key] = fs
}

// Reset forgets key's failures and lockout (after a successful login).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	delete(t.failures, key)
	delete(t.lockouts, key)
	t.mu.Unlock()
}

// Len is the number of keys tracked (for tests of the memory bound).
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.failures)
}

func (t *Throttle) sweep(now time.Time) {
	for k := range t.failures {
		t.prune(k, now)
	}
	for k, l := range t.lockouts {
		if now.After(l.until.Add(l.span)) {
			delete(t.lockouts, k)
		}
	}
}

func (t *Throttle) prune(key string, now time.Time) []time.Time {
	fs := t.failures[key]
	i := 0
	for i < len(fs) && !fs[i].After(now.Add(-t.window)) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = fs
	return fs
}
