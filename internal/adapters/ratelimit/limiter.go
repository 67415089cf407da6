// Package ratelimit limits requests per client IP, per principal and per
// endpoint with token-bucket or sliding-window rules, in memory (one
// replica) or in Redis (shared by every replica; GCRA via go-redis/redis_rate
// for token buckets, a Lua script for sliding windows). When Redis fails the
// decision falls back to a local limiter at limit ÷ replicas: a failed
// limiter never fails the request.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Algorithms.
const (
	TokenBucket   = "token_bucket"
	SlidingWindow = "sliding_window"
)

// Scopes.
const (
	ScopeIP        = "ip"
	ScopePrincipal = "principal"
	ScopeEndpoint  = "endpoint"
)

// Rule is one limit. Token bucket: Limit tokens per Window refill, up to
// Burst. Sliding window: at most Limit requests in any Window.
type Rule struct {
	Name      string
	Scope     string
	Algorithm string
	Limit     int
	Window    time.Duration
	Burst     int
	// Match restricts the rule to route templates with this prefix ("" = all
	// but the health and metrics endpoints).
	Match string
	// Role restricts the rule to principals of this role ("" = any). A
	// principal rule with a role replaces the general principal rules for
	// that role (the balancer fleet shares one credential).
	Role string
}

// Decision is a rule's verdict for one request.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Duration
	RetryAfter time.Duration
}

// Backend decides one rule for one key.
type Backend interface {
	Allow(ctx context.Context, r Rule, key string) (Decision, error)
}

// Memory keeps counters in this process.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	windows map[string]*window
	sweep   time.Time
}

type window struct {
	start      time.Time
	prev, curr int
}

// NewMemory builds an in-process backend.
func NewMemory() *Memory {
	return &Memory{buckets: map[string]*rate.Limiter{}, windows: map[string]*window{}}
}

// maxKeys bounds memory under a spray of distinct keys.
const maxKeys = 200_000

// Allow implements Backend.
func (m *Memory) Allow(_ context.Context, r Rule, key string) (Decision, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.buckets)+len(m.windows) > maxKeys || now.Sub(m.sweep) > 10*time.Minute {
		clear(m.buckets) // forgetting a counter only forgives, never punishes
		clear(m.windows)
		m.sweep = now
	}
	k := r.Name + "|" + key
	if r.Algorithm == TokenBucket {
		burst := max(r.Burst, 1)
		lim := m.buckets[k]
		if lim == nil {
			lim = rate.NewLimiter(rate.Limit(float64(r.Limit)/r.Window.Seconds()), burst)
			m.buckets[k] = lim
		}
		res := lim.ReserveN(now, 1)
		if delay := res.DelayFrom(now); delay > 0 {
			res.CancelAt(now)
			return Decision{Limit: burst, Remaining: 0, Reset: delay, RetryAfter: delay}, nil
		}
		left := int(lim.TokensAt(now))
		return Decision{Allowed: true, Limit: burst, Remaining: max(left, 0), Reset: r.Window / time.Duration(max(r.Limit, 1))}, nil
	}
	w := m.windows[k]
	if w == nil {
		w = &window{start: now.Truncate(r.Window)}
		m.windows[k] = w
	}
	slideWindow(w, now, r.Window)
	return decideWindow(r, now, w.start, w.prev, w.curr, func() { w.curr++ }), nil
}

func slideWindow(w *window, now time.Time, size time.Duration) {
	start := now.Truncate(size)
	switch {
	case start.Equal(w.start):
	case start.Sub(w.start) == size:
		w.prev, w.curr, w.start = w.curr, 0, start
	default:
		w.prev, w.curr, w.start = 0, 0, start
	}
}

// decideWindow applies the sliding-window counter: the previous window's
// count weighted by how much of it still overlaps the last Window.
func decideWindow(r Rule, now, start time.Time, prev, curr int, take func()) Decision {
	elapsed := now.Sub(start)
	weight := 1 - float64(elapsed)/float64(r.Window)
	used := float64(prev)*weight + float64(curr)
	reset := r.Window - elapsed
	if used+1 > float64(r.Limit) {
		retry := reset
		if prev > 0 && curr < r.Limit {
			// The previous window's weight falls until one slot frees up.
			need := (used + 1 - float64(r.Limit)) / float64(prev)
			retry = time.Duration(need * float64(r.Window))
		}
		return Decision{Limit: r.Limit, Remaining: 0, Reset: reset, RetryAfter: max(retry, time.Second)}
	}
	take()
	return Decision{Allowed: true, Limit: r.Limit, Remaining: int(math.Max(0, float64(r.Limit)-used-1)), Reset: reset}
}

// Redis shares counters between replicas.
type Redis struct {
	rdb    redis.UniversalClient
	gcra   *redis_rate.Limiter
	prefix string
}

// NewRedis builds the shared backend; keys start with prefix.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: rdb, gcra: redis_rate.NewLimiter(rdb), prefix: prefix + "ratelimit:"}
}

// slidingScript increments the current window's counter and returns the
// previous and current counts and the window start, atomically.
var slidingScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local start = now - (now % size)
local cur = KEYS[1] .. ':' .. start
local prev = tonumber(redis.call('GET', KEYS[1] .. ':' .. (start - size)) or '0')
local curr = tonumber(redis.call('GET', cur) or '0')
local used = prev * (1 - (now - start) / size) + curr
local allowed = 0
if used + 1 <= limit then
  curr = redis.call('INCR', cur)
  redis.call('PEXPIRE', cur, size * 2)
  allowed = 1
end
return {allowed, prev, curr, start}
`)

// Allow implements Backend.
func (b *Redis) Allow(ctx context.Context, r Rule, key string) (Decision, error) {
	k := b.prefix + r.Name + ":" + key
	if r.Algorithm == TokenBucket {
		burst := max(r.Burst, 1)
		res, err := b.gcra.Allow(ctx, k, redis_rate.Limit{Rate: r.Limit, Burst: burst, Period: r.Window})
		if err != nil {
			return Decision{}, err
		}
		d := Decision{Allowed: res.Allowed > 0, Limit: burst, Remaining: res.Remaining, Reset: res.ResetAfter}
		if !d.Allowed {
			d.RetryAfter = res.RetryAfter
		}
		return d, nil
	}
	now := time.Now()
	out, err := slidingScript.Run(ctx, b.rdb, []string{k}, now.UnixMilli(), r.Window.Milliseconds(), r.Limit).Int64Slice()
	if err != nil {
		return Decision{}, err
	}
	if len(out) != 4 {
		return Decision{}, fmt.Errorf("sliding window script returned %d values", len(out))
	}
	start := time.UnixMilli(out[3])
	prev, curr := int(out[1]), int(out[2])
	if out[0] == 1 {
		curr-- // decideWindow counts the request itself
	}
	return decideWindow(r, now, start, prev, curr, func() {}), nil
}
