package app

import (
	"context"
	"time"

	"github.com/google/wire"
	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/adapters/ratelimit"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/jmoiron/sqlx"
)

// EdgeSet builds metrics and rate limiting.
var EdgeSet = wire.NewSet(ProvideMetrics, ProvideLimiter, ProvideTracing)

// Tracing marks that tracing is set up (or deliberately off).
type Tracing struct {
	// On: spans are recorded, so the HTTP server is wrapped in otelhttp.
	On bool
}

// ProvideUntraced is the tracing state of the commands that set up no
// tracing of their own (migrate, admin): on only if a provider is already
// installed.
func ProvideUntraced() Tracing { return Tracing{On: observability.TracingInstalled()} }

// ProvideTracing installs the OpenTelemetry tracer provider when
// tracing.enabled; the cleanup flushes pending spans.
func ProvideTracing(cfg Config, build domain.BuildInfo) (Tracing, func(), error) {
	shutdown, err := observability.SetupTracing(context.Background(), observability.TracingOptions{
		Enabled: cfg.Tracing.Enabled, Endpoint: cfg.Tracing.Endpoint, Insecure: cfg.Tracing.Insecure,
		SampleRatio: cfg.Tracing.SampleRatio, ServiceName: cfg.Tracing.ServiceName, Version: build.Version,
	})
	if err != nil {
		return Tracing{}, nil, err
	}
	return Tracing{On: observability.TracingInstalled()}, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx)
	}, nil
}

// ProvideMetrics builds the registry with the domain gauges.
func ProvideMetrics(db *sqlx.DB) *observability.Metrics {
	m := observability.New()
	m.RegisterDomain(db)
	return m
}

// ProvideLimiter builds the rate limiter from ratelimit.* (nil when disabled).
func ProvideLimiter(cfg Config, rdb redis.UniversalClient, m *observability.Metrics) *ratelimit.Limiter {
	if !cfg.RateLimit.Enabled || len(cfg.RateLimit.Rules) == 0 {
		return nil
	}
	rules := make([]ratelimit.Rule, len(cfg.RateLimit.Rules))
	for i, r := range cfg.RateLimit.Rules {
		burst := r.Burst
		if burst == 0 {
			burst = r.Limit
		}
		rules[i] = ratelimit.Rule{Name: r.Name, Scope: r.Scope, Algorithm: r.Algorithm, Limit: r.Limit, Window: r.Window, Burst: burst, Match: r.Match, Role: r.Role}
	}
	var backend ratelimit.Backend = ratelimit.NewMemory()
	if cfg.RateLimit.Backend == "redis" {
		backend = ratelimit.NewRedis(rdb, cfg.Redis.KeyPrefix)
	}
	l := ratelimit.New(rules, backend, cfg.RateLimit.Replicas)
	l.OnFallback, l.OnReject = m.RateLimitFallback, m.RateLimited
	return l
}
