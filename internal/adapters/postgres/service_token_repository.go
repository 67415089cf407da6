package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// ServiceTokenRepository stores service tokens.
type ServiceTokenRepository struct{ db *sqlx.DB }

var _ ports.ServiceTokenRepository = (*ServiceTokenRepository)(nil)

// NewServiceTokenRepository builds the repository.
func NewServiceTokenRepository(db *sqlx.DB) *ServiceTokenRepository {
	return &ServiceTokenRepository{db: db}
}

type serviceTokenRow struct {
	ID         int64      `db:"id"`
	Name       string     `db:"name"`
	Role       string     `db:"role"`
	TokenHash  string     `db:"token_hash"`
	Prefix     string     `db:"prefix"`
	CreatedBy  *int64     `db:"created_by"`
	CreatedAt  time.Time  `db:"created_at"`
	ExpiresAt  *time.Time `db:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
}

func toDomainServiceToken(r serviceTokenRow) domain.ServiceToken {
	return domain.ServiceToken{
		ID: r.ID, Name: r.Name, Role: domain.Role(r.Role), TokenHash: r.TokenHash, Prefix: r.Prefix,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		RevokedAt: r.RevokedAt, LastUsedAt: r.LastUsedAt,
	}
}

func toRowServiceToken(t domain.ServiceToken) serviceTokenRow {
	return serviceTokenRow{
		ID: t.ID, Name: t.Name, Role: string(t.Role), TokenHash: t.TokenHash, Prefix: t.Prefix,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt,
	}
}

const serviceTokenColumns = `id, name, role, token_hash, prefix, created_by, created_at, expires_at, revoked_at, last_used_at`

// Create implements ports.ServiceTokenRepository.
func (r *ServiceTokenRepository) Create(ctx context.Context, t domain.ServiceToken) (domain.ServiceToken, error) {
	const q = `INSERT INTO service_tokens (name, role, token_hash, prefix, created_by, created_at, expires_at)
VALUES (:name, :role, :token_hash, :prefix, :created_by, :created_at, :expires_at)
RETURNING ` + serviceTokenColumns
	var row serviceTokenRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowServiceToken(t)); err != nil {
		return domain.ServiceToken{}, fmt.Errorf("create service token: %w", translate(err))
	}
	return toDomainServiceToken(row), nil
}

// Get implements ports.ServiceTokenRepository.
func (r *ServiceTokenRepository) Get(ctx context.Context, id int64) (domain.ServiceToken, error) {
	const q = `SELECT ` + serviceTokenColumns + ` FROM service_tokens WHERE id = $1`
	var row serviceTokenRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, id); err != nil {
		return domain.ServiceToken{}, fmt.Errorf("service token %d: %w", id, translate(err))
	}
	return toDomainServiceToken(row), nil
}

// GetByHash implements ports.ServiceTokenRepository.
func (r *ServiceTokenRepository) GetByHash(ctx context.Context, hash string) (domain.ServiceToken, error) {
	const q = `SELECT ` + serviceTokenColumns + ` FROM service_tokens WHERE token_hash = $1`
	var row serviceTokenRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, hash); err != nil {
		return domain.ServiceToken{}, fmt.Errorf("service token by hash: %w", translate(err))
	}
	return toDomainServiceToken(row), nil
}

// List implements ports.ServiceTokenRepository: oldest first.
func (r *ServiceTokenRepository) List(ctx context.Context, page domain.Page) ([]domain.ServiceToken, error) {
	const q = `SELECT ` + serviceTokenColumns + ` FROM service_tokens WHERE id > $1 ORDER BY id LIMIT $2`
	var rows []serviceTokenRow
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, page.After, page.Limit); err != nil {
		return nil, fmt.Errorf("list service tokens: %w", translate(err))
	}
	out := make([]domain.ServiceToken, len(rows))
	for i, row := range rows {
		out[i] = toDomainServiceToken(row)
	}
	return out, nil
}

// Revoke implements ports.ServiceTokenRepository; revoking twice keeps the
// first revocation time.
func (r *ServiceTokenRepository) Revoke(ctx context.Context, id int64, at time.Time) (domain.ServiceToken, error) {
	const q = `UPDATE service_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ` + serviceTokenColumns
	var row serviceTokenRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, id, at); err != nil {
		return domain.ServiceToken{}, fmt.Errorf("revoke service token %d: %w", id, translate(err))
	}
	return toDomainServiceToken(row), nil
}

// TouchLastUsed implements ports.ServiceTokenRepository with one UPDATE.
func (r *ServiceTokenRepository) TouchLastUsed(ctx context.Context, lastUsed map[int64]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(lastUsed))
	ats := make([]time.Time, 0, len(lastUsed))
	for id, at := range lastUsed {
		ids = append(ids, id)
		ats = append(ats, at)
	}
	const q = `UPDATE service_tokens t SET last_used_at = GREATEST(t.last_used_at, u.at)
FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at) WHERE t.id = u.id`
	if _, err := conn(ctx, r.db).ExecContext(ctx, q, pq.Array(ids), pq.Array(ats)); err != nil {
		return fmt.Errorf("touch service tokens: %w", translate(err))
	}
	return nil
}
