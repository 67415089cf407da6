package app

import (
	"log/slog"
	"time"

	"github.com/google/wire"
	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/adapters/logsink"
	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/logs"
	"github.com/ez-api/ez-api/internal/ports"
)

// LogSet builds the log pipeline, its maintenance and the query use-case.
var LogSet = wire.NewSet(
	ProvideLogWriter,
	ProvideLogSink,
	wire.Bind(new(ports.LogSink), new(*logsink.Sink)),
	postgres.NewLogReader,
	wire.Bind(new(ports.LogReader), new(*postgres.LogReader)),
	wire.Bind(new(ports.ModelPrices), new(*postgres.LogReader)),
	wire.Bind(new(ports.KeyOwners), new(*postgres.LogReader)),
	ProvideLogMaintainer,
	ProvideLogService,
)

// ProvideLogWriter writes batches; exhausted keys wake the publisher.
func ProvideLogWriter(db *sqlx.DB, notifier ports.ChangeNotifier) ports.LogWriter {
	return postgres.NewLogWriter(db, notifier)
}

// ProvideLogSink starts the queue and writers; the cleanup drains them.
func ProvideLogSink(cfg Config, w ports.LogWriter, m *observability.Metrics, logger *slog.Logger) (*logsink.Sink, func()) {
	s := logsink.New(w, logsink.Options{
		QueueCapacity: cfg.Log.QueueCapacity, Writers: cfg.Log.Writers, BatchSize: cfg.Log.BatchSize,
		FlushInterval: time.Duration(cfg.Log.FlushMS) * time.Millisecond, RetryMax: cfg.Log.RetryMax,
		DrainTimeout: cfg.Server.ShutdownTimeout, MaxAttempts: cfg.Log.MaxWriteAttempts, StallTimeout: cfg.Log.StallTimeout,
	}, logger.With("component", "logsink"))
	m.RegisterLogSink(func() observability.LogStats {
		st := s.Stats()
		return observability.LogStats{QueueDepth: st.QueueDepth, QueueCapacity: int64(cfg.Log.QueueCapacity), Written: st.Written, Duplicates: st.Duplicates,
			Quarantined: st.Quarantined, Batches: st.Batches, Retries: st.Retries}
	})
	return s, s.Close
}

// ProvideLogMaintainer builds partition and budget-period upkeep (started
// by the server after migrating).
func ProvideLogMaintainer(cfg Config, db *sqlx.DB, notifier ports.ChangeNotifier, logger *slog.Logger) (*logsink.Maintainer, func()) {
	m := logsink.NewMaintainer(postgres.NewLogMaintenance(db, cfg.Log.PartitionsAhead, cfg.Log.RetentionDays, logger, notifier),
		time.Minute, logger.With("component", "log-maintenance"))
	return m, m.Close
}

// ProvideLogService builds the log use-case.
func ProvideLogService(cfg Config, sink ports.LogSink, prices ports.ModelPrices, reader ports.LogReader, owners ports.KeyOwners,
	clock ports.Clock, m *observability.Metrics) *logs.Service {
	s := logs.NewService(sink, prices, reader, owners, clock, logs.Policy{
		MaxBatch: cfg.Log.MaxBatch, Ack: cfg.Log.Ack, CommitTimeout: cfg.Log.CommitTimeout,
		MaxRange: time.Duration(cfg.Log.MaxQueryDays) * 24 * time.Hour, MaxFuture: cfg.Log.MaxClockSkew,
		MaxAge: time.Duration(cfg.Log.RetentionDays) * 24 * time.Hour,
	})
	m.RegisterLogIngest(func() observability.LogIngestStats {
		st := s.Stats()
		return observability.LogIngestStats{UnknownFields: st.UnknownFields, KeyMismatches: st.KeyMismatches}
	})
	return s
}
