package postgres

import (
	"context"
	"fmt"
)

// versionLock serialises configuration transactions from taking a version
// to committing, so versions are committed in order: a reader that sees
// version N has seen every version below it.
const versionLock = 0x657a617069 // "ezapi"

// lockVersions takes versionLock for the rest of the transaction. Only the
// writer benchmark turns it off (build tag ezbench_nolock), to measure
// whether the lock limits concurrent writers; such a build may publish out
// of order and is never shipped.
func lockVersions(ctx context.Context, q querier) error {
	if !versionLockEnabled {
		return nil
	}
	if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, versionLock); err != nil {
		return fmt.Errorf("version lock: %w", translate(err))
	}
	return nil
}
