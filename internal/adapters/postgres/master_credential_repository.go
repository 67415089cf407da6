package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// MasterCredentialRepository resolves master tokens to tenants.
type MasterCredentialRepository struct{ db *sqlx.DB }

var _ ports.MasterCredentialRepository = (*MasterCredentialRepository)(nil)

// NewMasterCredentialRepository builds the repository.
func NewMasterCredentialRepository(db *sqlx.DB) *MasterCredentialRepository {
	return &MasterCredentialRepository{db: db}
}

type masterCredentialRow struct {
	ID     int64  `db:"id"`
	Name   string `db:"name"`
	Status string `db:"status"`
}

// GetByTokenHash implements ports.MasterCredentialRepository.
func (r *MasterCredentialRepository) GetByTokenHash(ctx context.Context, hash string) (domain.MasterCredential, error) {
	const q = `SELECT id, name, status FROM masters WHERE token_hash = $1`
	var row masterCredentialRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, hash); err != nil {
		return domain.MasterCredential{}, fmt.Errorf("master by token: %w", translate(err))
	}
	return domain.MasterCredential{MasterID: row.ID, Name: row.Name, Status: domain.MasterStatus(row.Status)}, nil
}
