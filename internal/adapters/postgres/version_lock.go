package postgres

import (
	"context"
	"fmt"
)

// versionLock serialises whoever assigns config versions (assignVersions:
// the publisher, a successor overlapping it for a moment, AdvancePast), so
// each assignment sees every earlier one and versions only grow in the
// order changes became visible. Configuration writers do not take it.
const versionLock = 0x657a617069 // "ezapi"

// lockVersions takes versionLock for the rest of the transaction. Only the
// writer benchmark turns it off (build tag ezbench_nolock), to measure
// whether the lock limits concurrent writers; such a build could number
// versions out of order during a leadership change and is never shipped.
func lockVersions(ctx context.Context, q querier) error {
	if !versionLockEnabled {
		return nil
	}
	if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, versionLock); err != nil {
		return fmt.Errorf("version lock: %w", translate(err))
	}
	return nil
}
