// Package redisstore opens the Redis connection the snapshot publisher and
// rate limiter share, and reports its health.
package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/ports"
)

// Options selects single node, Sentinel (MasterName set) or Cluster (several
// addresses).
type Options struct {
	Addrs        []string
	MasterName   string
	Username     string
	Password     string
	DB           int
	PoolSize     int
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// slogLogger routes go-redis' own messages (pool dial failures) into the
// service log instead of the standard logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(ctx context.Context, format string, v ...any) {
	s.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// SetLogger sends go-redis' internal messages to logger (process-wide).
func SetLogger(logger *slog.Logger) { redis.SetLogger(slogLogger{l: logger}) }

// Open builds the client; it connects lazily, so an unreachable Redis does not
// stop start-up (the API keeps accepting changes and readiness reports it).
func Open(opts Options) redis.UniversalClient {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        opts.Addrs,
		MasterName:   opts.MasterName,
		Username:     opts.Username,
		Password:     opts.Password,
		DB:           opts.DB,
		PoolSize:     opts.PoolSize,
		DialTimeout:  opts.DialTimeout,
		ReadTimeout:  opts.ReadTimeout,
		WriteTimeout: opts.WriteTimeout,
	})
	// Trace every command (a no-op unless tracing is on).
	_ = redisotel.InstrumentTracing(rdb)
	return rdb
}

// Probe reports Redis reachability to the health service.
type Probe struct{ rdb redis.UniversalClient }

var _ ports.HealthProbe = (*Probe)(nil)

// NewProbe builds a health probe over the client.
func NewProbe(rdb redis.UniversalClient) *Probe { return &Probe{rdb: rdb} }

// Name implements ports.HealthProbe.
func (p *Probe) Name() string { return "redis" }

// Critical implements ports.HealthProbe: with Redis down the database still
// records every change for later publication, so the service is degraded,
// not down.
func (p *Probe) Critical() bool { return false }

// Ping implements ports.HealthProbe.
func (p *Probe) Ping(ctx context.Context) error {
	return p.rdb.Ping(ctx).Err()
}
