package auth

import (
	"sync"
	"time"
)

// Throttle counts failures per key in a sliding window and refuses keys
// that reached the limit until their oldest failure leaves the window.
type Throttle struct {
	limit  int
	window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
}

// maxThrottleKeys bounds memory under a spray of distinct usernames or IPs;
// beyond it, expired keys are swept first.
const maxThrottleKeys = 100000

// NewThrottle allows limit failures per window for each key.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return &Throttle{limit: limit, window: window, failures: map[string][]time.Time{}}
}

// Blocked reports whether key is over the limit at now and, if so, after how
// long it may try again.
func (t *Throttle) Blocked(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	recent := t.prune(key, now)
	if len(recent) < t.limit {
		return false, 0
	}
	return true, recent[0].Add(t.window).Sub(now)
}

// Fail records a failure for key at now.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) >= maxThrottleKeys {
		for k := range t.failures {
			if len(t.prune(k, now)) == 0 {
				delete(t.failures, k)
			}
		}
	}
	recent := t.prune(key, now)
	if len(recent) >= t.limit {
		recent = recent[1:] // keep at most limit timestamps
	}
	t.failures[key] = append(recent, now)
}

// Reset forgets key's failures (after a successful login).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	delete(t.failures, key)
	t.mu.Unlock()
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
