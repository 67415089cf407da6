package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// ChangeRecorder writes outbox rows versioned by the config_version sequence.
type ChangeRecorder struct{ db *sqlx.DB }

var _ ports.ChangeRecorder = (*ChangeRecorder)(nil)

// NewChangeRecorder builds the recorder.
func NewChangeRecorder(db *sqlx.DB) *ChangeRecorder { return &ChangeRecorder{db: db} }

// Record implements ports.ChangeRecorder.
func (r *ChangeRecorder) Record(ctx context.Context, section domain.Section, entityID string, op domain.ChangeOp) (int64, error) {
	if err := lockVersions(ctx, conn(ctx, r.db)); err != nil {
		return 0, err
	}
	// The NOTIFY rides in the same statement (no extra round trip) and is
	// delivered at commit: it wakes the publishing replica wherever it runs.
	const q = `WITH ins AS (
		INSERT INTO config_outbox (version, section, entity_id, op) VALUES (nextval('config_version'), $1, $2, $3) RETURNING version)
		SELECT ins.version FROM ins CROSS JOIN LATERAL pg_notify($4, ins.version::text) n`
	var v int64
	if err := conn(ctx, r.db).GetContext(ctx, &v, q, string(section), entityID, string(op), ChangeChannel); err != nil {
		return 0, fmt.Errorf("record %s change: %w", section, translate(err))
	}
	return v, nil
}
