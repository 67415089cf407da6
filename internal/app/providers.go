// Package app assembles ezapi: configuration, the wire provider sets, and the
// server lifecycle.
package app

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/google/wire"
	"github.com/jmoiron/sqlx"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/adapters/httpapi"
	"github.com/ez-api/ez-api/internal/adapters/logsink"
	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/adapters/ratelimit"
	"github.com/ez-api/ez-api/internal/adapters/redisstore"
	"github.com/ez-api/ez-api/internal/core/auth"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/health"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

// Build information, set with -ldflags "-X github.com/ez-api/ez-api/internal/app.Version=…".
var (
	Version   = "dev"
	Commit    = ""
	BuildTime = ""
)

// InfraSet opens the process-wide resources; each returns its cleanup.
var InfraSet = wire.NewSet(
	ProvideLogger,
	ProvideDB,
	ProvideRedis,
	ProvideClock,
	ProvideBuildInfo,
	ProvideMigrator,
)

// ServerSet builds the use-cases and the HTTP adapter on top of InfraSet.
var ServerSet = wire.NewSet(
	InfraSet,
	RepositorySet,
	AuthSet,
	RoutingSet,
	TenancySet,
	ImportSet,
	SnapshotSet,
	LogSet,
	EdgeSet,
	ProvideProbes,
	health.NewService,
	httpapi.NewAPI,
	ProvideEcho,
	NewServer,
)

// LogOutput is where the service logs go; tests replace it.
type LogOutput io.Writer

// ProvideLogger builds the slog logger: text in development, JSON in
// production, at the configured level.
func ProvideLogger(cfg Config, out LogOutput) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Logging.Level)) // validated by Config.Validate
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: readableDurations}
	var h slog.Handler
	if cfg.Logging.Format == "json" {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(h).With("service", "ezapi")
}

// readableDurations logs durations as "1.5s", not as nanoseconds (the JSON
// handler's default, which nobody reads correctly at a glance).
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// StderrLogOutput is the production log destination.
func StderrLogOutput() LogOutput { return os.Stderr }

// ProvideDB opens the PostgreSQL pool, traced when tracing is on (after
// ProvideTracing installed the provider, or a test installed its own).
func ProvideDB(cfg Config, tr Tracing) (*sqlx.DB, func(), error) {
	db, err := postgres.Open(postgres.Options{
		DSN:             cfg.Postgres.DSN,
		MaxOpenConns:    cfg.Postgres.MaxOpenConns,
		MaxIdleConns:    cfg.Postgres.MaxIdleConns,
		ConnMaxLifetime: cfg.Postgres.ConnMaxLifetime,
		ConnMaxIdleTime: cfg.Postgres.ConnMaxIdleTime,
		Traced:          tr.On,
	})
	if err != nil {
		return nil, nil, err
	}
	return db, func() { _ = db.Close() }, nil
}

// ProvideRedis opens the Redis client.
func ProvideRedis(cfg Config, logger *slog.Logger) (redis.UniversalClient, func()) {
	redisstore.SetLogger(logger)
	rdb := redisstore.Open(redisstore.Options{
		Addrs:        cfg.Redis.Addrs(),
		MasterName:   cfg.Redis.MasterName,
		Username:     cfg.Redis.Username,
		Password:     cfg.Redis.Password,
		DB:           cfg.Redis.DB,
		PoolSize:     cfg.Redis.PoolSize,
		DialTimeout:  cfg.Redis.DialTimeout,
		ReadTimeout:  cfg.Redis.ReadTimeout,
		WriteTimeout: cfg.Redis.WriteTimeout,
	})
	return rdb, func() { _ = rdb.Close() }
}

// ProvideMigrator prepares the embedded migrations.
func ProvideMigrator(db *sqlx.DB, logger *slog.Logger) (*postgres.Migrator, error) {
	return postgres.NewMigrator(db, logger)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ProvideClock is the wall clock.
func ProvideClock() ports.Clock { return systemClock{} }

// ProvideBuildInfo reports the ldflags values, falling back to the VCS
// revision Go stamps into the binary.
func ProvideBuildInfo() domain.BuildInfo {
	b := domain.BuildInfo{Version: Version, Commit: Commit, BuildTime: BuildTime, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.BuildTime == "":
				b.BuildTime = s.Value
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.BuildTime == "" {
		b.BuildTime = "unknown"
	}
	return b
}

// ProvideProbes lists the dependencies health and readiness check: the
// databases, the log pipeline (down when it has stalled) and the snapshot
// publisher (health only: degraded once it has failed for sync.degraded_after).
// The same probes feed ezapi_dependency_up at scrape time.
func ProvideProbes(cfg Config, db *sqlx.DB, rdb redis.UniversalClient, logs *logsink.Sink, pub *snapshot.Publisher,
	m *observability.Metrics) []ports.HealthProbe {
	probes := []ports.HealthProbe{postgres.NewProbe(db), redisstore.NewProbe(rdb), logs, pub.HealthProbe(cfg.Sync.DegradedAfter)}
	m.RegisterDependencies(probes)
	return probes
}

// ProvideEcho builds the HTTP adapter from the configuration.
func ProvideEcho(cfg Config, api *httpapi.API, authn *auth.Manager, limiter *ratelimit.Limiter, m *observability.Metrics,
	logger *slog.Logger) (*echo.Echo, error) {
	opts := httpapi.Options{
		TrustedProxies:       cfg.Server.TrustedProxies,
		Limiter:              limiter,
		MetricsBearer:        cfg.Metrics.BearerToken,
		BodyLimitBytes:       cfg.Server.BodyLimitBytes,
		LogBodyLimitBytes:    cfg.Log.MaxBodyBytes,
		ImportBodyLimitBytes: cfg.Server.ImportBodyLimitBytes,
		CORSAllowOrigins:     cfg.Server.CORS.AllowOrigins,
		CORSAllowCredentials: cfg.Server.CORS.AllowCredentials,
		DocsEnabled:          cfg.Server.DocsEnabled,
		UIEnabled:            cfg.Server.UIEnabled,
	}
	if cfg.Metrics.Enabled {
		opts.Metrics = m
	}
	return httpapi.NewEcho(opts, api, authn, logger)
}
