package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// BalancerRegistry stores balancers' heartbeats.
type BalancerRegistry struct{ db *sqlx.DB }

var _ ports.BalancerRegistry = (*BalancerRegistry)(nil)

// NewBalancerRegistry builds the registry.
func NewBalancerRegistry(db *sqlx.DB) *BalancerRegistry { return &BalancerRegistry{db: db} }

// Heartbeat implements ports.BalancerRegistry.
func (r *BalancerRegistry) Heartbeat(ctx context.Context, b domain.BalancerHeartbeat) error {
	const q = `INSERT INTO balancers (instance_id, snapshot_version, checksum, hostname, version, last_seen)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (instance_id) DO UPDATE SET snapshot_version = EXCLUDED.snapshot_version, checksum = EXCLUDED.checksum,
  hostname = EXCLUDED.hostname, version = EXCLUDED.version, last_seen = EXCLUDED.last_seen`
	if _, err := r.db.ExecContext(ctx, q, b.InstanceID, b.SnapshotVersion, b.Checksum, b.Hostname, b.Version, b.LastSeen); err != nil {
		return fmt.Errorf("balancer heartbeat: %w", translate(err))
	}
	return nil
}

// List implements ports.BalancerRegistry: most recently seen first.
func (r *BalancerRegistry) List(ctx context.Context) ([]domain.BalancerHeartbeat, error) {
	var rows []struct {
		InstanceID      string    `db:"instance_id"`
		SnapshotVersion int64     `db:"snapshot_version"`
		Checksum        string    `db:"checksum"`
		Hostname        string    `db:"hostname"`
		Version         string    `db:"version"`
		LastSeen        time.Time `db:"last_seen"`
	}
	const q = `SELECT instance_id, snapshot_version, checksum, hostname, version, last_seen FROM balancers ORDER BY last_seen DESC LIMIT 1000`
	if err := r.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("balancers: %w", translate(err))
	}
	out := make([]domain.BalancerHeartbeat, len(rows))
	for i, row := range rows {
		out[i] = domain.BalancerHeartbeat{InstanceID: row.InstanceID, SnapshotVersion: row.SnapshotVersion,
			Checksum: row.Checksum, Hostname: row.Hostname, Version: row.Version, LastSeen: row.LastSeen}
	}
	return out, nil
}
