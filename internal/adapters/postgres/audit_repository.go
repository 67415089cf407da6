package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// AuditRepository writes audit entries.
type AuditRepository struct{ db *sqlx.DB }

var _ ports.AuditRepository = (*AuditRepository)(nil)

// NewAuditRepository builds the repository.
func NewAuditRepository(db *sqlx.DB) *AuditRepository { return &AuditRepository{db: db} }

// Record implements ports.AuditRepository.
func (r *AuditRepository) Record(ctx context.Context, e domain.AuditEntry) error {
	const q = `INSERT INTO audit_log (at, actor_type, actor_id, action, resource_type, resource_id, changes, request_id, client_ip)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	var changes []byte
	if len(e.Changes) > 0 {
		var err error
		if changes, err = json.Marshal(e.Changes); err != nil {
			return fmt.Errorf("encode audit changes: %w", err)
		}
	}
	_, err := conn(ctx, r.db).ExecContext(ctx, q, e.At, e.Actor.Type, e.Actor.ID, e.Action,
		e.ResourceType, e.ResourceID, nullableJSON(changes), e.RequestID, e.ClientIP)
	if err != nil {
		return translate(fmt.Errorf("record audit %s: %w", e.Action, err))
	}
	return nil
}

func nullableJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
