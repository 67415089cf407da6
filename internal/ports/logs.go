package ports

import (
	"context"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// LogSink takes accepted records towards PostgreSQL.
type LogSink interface {
	// Submit queues records. With wait it returns once they are committed,
	// with each record's outcome, or when ctx ends (domain.ErrUnavailable:
	// they may still be written). A full queue or a closing sink is
	// domain.ErrUnavailable at once, with nothing queued. The sink keeps
	// references to records until they are written: the caller does not
	// change them after the call.
	Submit(ctx context.Context, records []domain.LogRecord, wait bool) ([]WriteOutcome, error)
}

// ModelPrices gives a model's prices per million tokens by binding key.
type ModelPrices interface {
	Prices(ctx context.Context) (map[string][2]float64, error)
}

// LogReader queries stored logs and the hourly roll-ups.
type LogReader interface {
	List(ctx context.Context, f domain.LogFilter) ([]domain.LogRecord, error)
	Usage(ctx context.Context, from, to time.Time, group domain.UsageGroup, masterID *int64) ([]domain.UsageRow, error)
}

// KeyOwners tells which master owns each client key.
type KeyOwners interface {
	// KeyMasters maps each id that names a key to its master; unknown ids
	// are absent.
	KeyMasters(ctx context.Context, ids []int64) (map[int64]int64, error)
}

// WriteOutcome is what happened to one record of a written batch.
type WriteOutcome int

// Write outcomes.
const (
	Inserted WriteOutcome = iota
	Duplicate
	Quarantined
)

// LogWriter stores a batch in one transaction: the rows, the roll-ups, the
// keys' usage, and any key that turns exhausted (recorded for the
// snapshot). Records PostgreSQL refuses, for whatever reason, are isolated
// and quarantined with the reason and the rest are still written. An error
// means nothing was written and the batch may be retried; it wraps
// domain.ErrUnavailable when the database could not be reached.
type LogWriter interface {
	Write(ctx context.Context, records []domain.LogRecord) ([]WriteOutcome, error)
	// Quarantine keeps records in log_rejects with the reason (a batch
	// that kept failing the same way).
	Quarantine(ctx context.Context, records []domain.LogRecord, reason string) error
}

// LogMaintenance keeps partitions and budget periods current; safe to run
// on every replica (it takes a lock and skips if another replica runs it).
type LogMaintenance interface {
	Maintain(ctx context.Context, now time.Time) error
}
