package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/tests/testenv"
)

// A request cancelled after its query has answered must not cost a new
// session: lib/pq would otherwise mark the connection bad and dial a
// CancelRequest. A query that is really still running is cancelled.
func TestPoolCancellation(t *testing.T) {
	t.Parallel()
	migratedDB(t)
	// One connection: every query runs on the same session unless the
	// driver throws it away.
	db, err := postgres.Open(postgres.Options{DSN: testenv.DSN(), MaxOpenConns: 1, MaxIdleConns: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	pid := func() int64 {
		var p int64
		require.NoError(t, db.Get(&p, `SELECT pg_backend_pid()`))
		return p
	}

	t.Run("keeps_the_session_when_cancelled_after_the_answer", func(t *testing.T) {
		before := pid()
		for i := range 20 {
			ctx, cancel := context.WithCancel(context.Background())
			rows, err := db.QueryxContext(ctx, `SELECT $1::int8 AS n`, i)
			require.NoError(t, err)
			cancel()          // the client hangs up while the rows are still open
			for rows.Next() { // database/sql may already have closed them
			}
			_ = rows.Close()
		}
		assert.Equal(t, before, pid(), "the pooled session was replaced")
	})

	t.Run("keeps_the_session_when_a_transaction_is_cancelled_after_commit_work", func(t *testing.T) {
		before := pid()
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := db.BeginTxx(ctx, nil)
		require.NoError(t, err)
		var one int
		require.NoError(t, tx.GetContext(ctx, &one, `SELECT $1::int`, 1))
		cancel() // database/sql rolls the transaction back
		require.Eventually(t, func() bool { return tx.Commit() != nil }, 5*time.Second, 10*time.Millisecond)
		assert.Equal(t, before, pid(), "the pooled session was replaced")
	})

	t.Run("still_cancels_a_long_query", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var x string
		err := db.GetContext(ctx, &x, `SELECT pg_sleep($1)::text`, 60)
		require.Error(t, err)
		// The server gave up on the statement (it did not run for a minute).
		var active int
		require.Eventually(t, func() bool {
			return db.Get(&active, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(%' AND state = 'active'`) == nil && active == 0
		}, 10*time.Second, 20*time.Millisecond)
	})
}
