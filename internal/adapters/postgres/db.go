// Package postgres implements the core's repositories and probes on
// PostgreSQL with sqlx and lib/pq.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"

	"github.com/ez-api/ez-api/internal/ports"
)

// Options configures the connection pool.
type Options struct {
	DSN             string
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// Traced wraps the driver in otelsql, a span per statement. Off (no
	// tracer provider installed), statements reach lib/pq directly: the wrapper's per-call
	// work (metric attributes, argument checks) costs even with no-op
	// providers, and a log batch's COPY makes one call per row.
	Traced bool
}

// Open connects to PostgreSQL and sets up the pool. It does not wait for the
// server: readiness reports when it is reachable.
//
// Unless the DSN says otherwise, lib/pq runs in binary_parameters mode: a
// query with parameters is sent as Parse/Bind/Describe/Execute/Sync in one
// write and answered in one round trip, instead of Parse/Describe/Sync, a
// wait, then Bind/Execute/Sync (two round trips per query). Only []byte
// arguments travel in binary (bytea ciphertexts); JSON goes as text.
// MaxIdleConns < 0 keeps as many idle connections as may be open, so a
// steady load does not close and reopen sessions. Context cancellation
// reaches the driver CancelGrace late (see connector.go).
func Open(opts Options) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	if !strings.Contains(opts.DSN, "binary_parameters") {
		cfg.BinaryParameters = true
	}
	pqConnector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	var sqlDB *sql.DB
	if opts.Traced {
		sqlDB = otelsql.OpenDB(graceConnector{inner: pqConnector, grace: CancelGrace},
			otelsql.WithAttributes(semconv.DBSystemPostgreSQL), otelsql.WithSpanOptions(otelsql.SpanOptions{Ping: true}))
	} else {
		sqlDB = sql.OpenDB(graceConnector{inner: pqConnector, grace: CancelGrace})
	}
	db := sqlx.NewDb(sqlDB, "postgres")
	idle := opts.MaxIdleConns
	if idle < 0 {
		idle = opts.MaxOpenConns
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(idle)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	return db, nil
}

// Probe reports PostgreSQL reachability to the health service.
type Probe struct{ db *sqlx.DB }

var _ ports.HealthProbe = (*Probe)(nil)

// NewProbe builds a health probe over the pool.
func NewProbe(db *sqlx.DB) *Probe { return &Probe{db: db} }

// Name implements ports.HealthProbe.
func (p *Probe) Name() string { return "postgres" }

// Critical implements ports.HealthProbe: nothing works without the database.
func (p *Probe) Critical() bool { return true }

// Ping implements ports.HealthProbe.
func (p *Probe) Ping(ctx context.Context) error {
	return p.db.PingContext(ctx)
}
