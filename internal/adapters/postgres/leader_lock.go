package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/ports"
)

// publisherLock is the advisory lock key of the snapshot publisher.
const publisherLock = 0x657a6170697075 // "ezapipu"

// LeaderLock is a PostgreSQL session advisory lock on a dedicated
// connection: when the holder dies its session ends and the lock frees
// itself, so another replica takes over at its next attempt.
type LeaderLock struct {
	db  *sqlx.DB
	key int64

	mu   sync.Mutex
	conn *sql.Conn
}

var _ ports.LeaderLock = (*LeaderLock)(nil)

// NewLeaderLock builds the publisher's lock.
func NewLeaderLock(db *sqlx.DB) *LeaderLock { return &LeaderLock{db: db, key: publisherLock} }

// TryAcquire implements ports.LeaderLock.
func (l *LeaderLock) TryAcquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		c, err := l.db.Conn(ctx)
		if err != nil {
			return false, translate(fmt.Errorf("leader lock connection: %w", err))
		}
		l.conn = c
	}
	var ok bool
	if err := l.conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		_ = l.conn.Close()
		l.conn = nil
		return false, translate(fmt.Errorf("leader lock: %w", err))
	}
	return ok, nil
}

// Held implements ports.LeaderLock: the session is alive and holds the lock.
func (l *LeaderLock) Held(ctx context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return false
	}
	var held bool
	const q = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
  AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)`
	if err := l.conn.QueryRowContext(ctx, q, l.key).Scan(&held); err != nil {
		_ = l.conn.Close()
		l.conn = nil
		return false
	}
	return held
}

// Release implements ports.LeaderLock.
func (l *LeaderLock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	_ = l.conn.Close()
	l.conn = nil
	return translate(err)
}
