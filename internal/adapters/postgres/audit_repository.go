package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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

var _ ports.AuditReader = (*AuditRepository)(nil)

type auditRow struct {
	ID           int64     `db:"id"`
	At           time.Time `db:"at"`
	ActorType    string    `db:"actor_type"`
	ActorID      int64     `db:"actor_id"`
	Action       string    `db:"action"`
	ResourceType string    `db:"resource_type"`
	ResourceID   string    `db:"resource_id"`
	Changes      []byte    `db:"changes"`
	RequestID    string    `db:"request_id"`
	ClientIP     string    `db:"client_ip"`
}

// List implements ports.AuditReader: newest first, before f.Before.
func (r *AuditRepository) List(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEntry, error) {
	where := []string{"TRUE"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Before > 0 {
		add("id < $%d", f.Before)
	}
	if f.ActorType != "" {
		add("actor_type = $%d", f.ActorType)
	}
	if f.ActorID != nil {
		add("actor_id = $%d", *f.ActorID)
	}
	if f.ResourceType != "" {
		add("resource_type = $%d", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = $%d", f.ResourceID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.From != nil {
		add("at >= $%d", *f.From)
	}
	if f.To != nil {
		add("at < $%d", *f.To)
	}
	args = append(args, f.Limit)
	q := `SELECT id, at, actor_type, actor_id, action, resource_type, resource_id, changes, request_id, client_ip
FROM audit_log WHERE ` + strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	var rows []auditRow
	filtered := len(where) > 2 || (len(where) == 2 && f.Before == 0)
	if err := listPage(ctx, r.db, filtered, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list audit: %w", translate(err))
	}
	out := make([]domain.AuditEntry, len(rows))
	for i, row := range rows {
		e := domain.AuditEntry{ID: row.ID, At: row.At, Actor: domain.Actor{Type: row.ActorType, ID: row.ActorID},
			Action: row.Action, ResourceType: row.ResourceType, ResourceID: row.ResourceID,
			RequestID: row.RequestID, ClientIP: row.ClientIP}
		if len(row.Changes) > 0 {
			if err := json.Unmarshal(row.Changes, &e.Changes); err != nil {
				return nil, fmt.Errorf("audit %d changes: %w", row.ID, err)
			}
		}
		out[i] = e
	}
	return out, nil
}
