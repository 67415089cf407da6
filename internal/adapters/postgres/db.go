// Package postgres implements the core's repositories and probes on
// PostgreSQL with sqlx and lib/pq.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" driver
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
}

// Open connects to PostgreSQL and sets up the pool. It does not wait for the
// server: readiness reports when it is reachable.
func Open(opts Options) (*sqlx.DB, error) {
	// otelsql traces every statement (a no-op unless tracing is on).
	sqlDB, err := otelsql.Open("postgres", opts.DSN, otelsql.WithAttributes(semconv.DBSystemPostgreSQL),
		otelsql.WithSpanOptions(otelsql.SpanOptions{Ping: true}))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := sqlx.NewDb(sqlDB, "postgres")
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
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
