package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// ChangeRecorder writes outbox rows. It takes no lock: the rows get their
// config versions from the publisher (assignVersions), so concurrent
// writers do not wait for each other's commits.
type ChangeRecorder struct{ db *sqlx.DB }

var (
	_ ports.ChangeRecorder        = (*ChangeRecorder)(nil)
	_ ports.AuditedChangeRecorder = (*ChangeRecorder)(nil)
)

// NewChangeRecorder builds the recorder.
func NewChangeRecorder(db *sqlx.DB) *ChangeRecorder { return &ChangeRecorder{db: db} }

// Record implements ports.ChangeRecorder; it returns the change's sequence
// number (config_change_seq).
func (r *ChangeRecorder) Record(ctx context.Context, section domain.Section, entityID string, op domain.ChangeOp) (int64, error) {
	// The NOTIFY rides in the same statement (no extra round trip) and is
	// delivered at commit: it wakes the publishing replica wherever it runs.
	const q = `WITH ins AS (
		INSERT INTO config_outbox (section, entity_id, op) VALUES ($1, $2, $3) RETURNING seq)
		SELECT ins.seq FROM ins CROSS JOIN LATERAL pg_notify($4, ins.seq::text) n`
	var seq int64
	if err := conn(ctx, r.db).GetContext(ctx, &seq, q, string(section), entityID, string(op), ChangeChannel); err != nil {
		return 0, fmt.Errorf("record %s change: %w", section, translate(err))
	}
	return seq, nil
}

// RecordAudited implements ports.AuditedChangeRecorder: the outbox row,
// its NOTIFY and the audit entry (as AuditRepository.Record writes it, its
// changes with "change_seq" added) in one statement.
func (r *ChangeRecorder) RecordAudited(ctx context.Context, section domain.Section, entityID string, op domain.ChangeOp,
	e domain.AuditEntry) (int64, error) {
	const q = `WITH ins AS (
		INSERT INTO config_outbox (section, entity_id, op) VALUES ($1, $2, $3) RETURNING seq),
	aud AS (
		INSERT INTO audit_log (at, actor_type, actor_id, action, resource_type, resource_id, changes, request_id, client_ip)
		SELECT $5, $6, $7, $8, $9, $10, coalesce($11::jsonb, '{}'::jsonb) || jsonb_build_object('change_seq', ins.seq), $12, $13 FROM ins)
	SELECT ins.seq FROM ins CROSS JOIN LATERAL pg_notify($4, ins.seq::text) n`
	var changes []byte
	if len(e.Changes) > 0 {
		var err error
		if changes, err = json.Marshal(e.Changes); err != nil {
			return 0, fmt.Errorf("encode audit changes: %w", err)
		}
	}
	var seq int64
	if err := conn(ctx, r.db).GetContext(ctx, &seq, q, string(section), entityID, string(op), ChangeChannel,
		e.At, e.Actor.Type, e.Actor.ID, e.Action, e.ResourceType, e.ResourceID, nullableJSON(changes), e.RequestID, e.ClientIP); err != nil {
		return 0, translate(fmt.Errorf("record %s change and audit %s: %w", section, e.Action, err))
	}
	return seq, nil
}

// assignVersions gives every committed outbox row without a config version
// the next versions, in change order, and returns the highest version
// assigned (0 when none). Only the publisher calls it; versionLock keeps
// two assigners (a leader and its successor overlapping for a moment, or
// AdvancePast) from interleaving, so a reader that sees version N has seen
// every version below it. The caller runs it in a transaction, the lock
// taken first so the UPDATE's snapshot sees every earlier assignment.
func assignVersions(ctx context.Context, q querier) (int64, error) {
	if err := lockVersions(ctx, q); err != nil {
		return 0, err
	}
	// nextval is evaluated after the sort (a volatile target of an ordered
	// query), so versions follow seq within a batch.
	const assign = `WITH v AS (
		SELECT seq, nextval('config_version') AS version FROM config_outbox WHERE version IS NULL ORDER BY seq)
		UPDATE config_outbox o SET version = v.version FROM v WHERE o.seq = v.seq AND o.version IS NULL
		RETURNING o.version`
	var vs []int64
	if err := q.SelectContext(ctx, &vs, assign); err != nil {
		return 0, fmt.Errorf("assign config versions: %w", translate(err))
	}
	var top int64
	for _, v := range vs {
		top = max(top, v)
	}
	return top, nil
}

// AssignVersions gives committed changes their versions when there is
// anything to assign (one cheap read otherwise).
func (s *SnapshotSource) AssignVersions(ctx context.Context) error {
	var any bool
	if err := s.db.GetContext(ctx, &any, `SELECT EXISTS (SELECT 1 FROM config_outbox WHERE version IS NULL)`); err != nil {
		return fmt.Errorf("unversioned changes: %w", translate(err))
	}
	if !any {
		return nil
	}
	return s.assign(ctx)
}

// assignBatch is assignVersions as one multi-statement simple query: the
// statements run as one implicit transaction (all or nothing, the lock
// held to its end) and, in read committed, the UPDATE takes its snapshot
// after the lock is granted, as assignVersions requires, in one round
// trip instead of BEGIN, lock, UPDATE, COMMIT.
var assignBatch = func() string {
	const assign = `WITH v AS (
		SELECT seq, nextval('config_version') AS version FROM config_outbox WHERE version IS NULL ORDER BY seq)
		UPDATE config_outbox o SET version = v.version FROM v WHERE o.seq = v.seq AND o.version IS NULL`
	if !versionLockEnabled {
		return assign
	}
	return fmt.Sprintf("SELECT pg_advisory_xact_lock(%d); %s", versionLock, assign)
}()

// assign runs assignBatch; it has no parameters, so lib/pq sends it as
// one simple query.
func (s *SnapshotSource) assign(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, assignBatch); err != nil {
		return fmt.Errorf("assign config versions: %w", translate(err))
	}
	return nil
}
