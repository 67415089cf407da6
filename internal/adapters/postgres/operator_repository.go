package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// OperatorRepository stores operators.
type OperatorRepository struct{ db *sqlx.DB }

var _ ports.OperatorRepository = (*OperatorRepository)(nil)

// NewOperatorRepository builds the repository.
func NewOperatorRepository(db *sqlx.DB) *OperatorRepository { return &OperatorRepository{db: db} }

type operatorRow struct {
	ID           int64      `db:"id"`
	Username     string     `db:"username"`
	PasswordHash string     `db:"password_hash"`
	Role         string     `db:"role"`
	Status       string     `db:"status"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
	LastLoginAt  *time.Time `db:"last_login_at"`
	TokenVersion int64      `db:"token_version"`
}

func toDomainOperator(r operatorRow) domain.Operator {
	return domain.Operator{
		ID: r.ID, Username: r.Username, PasswordHash: r.PasswordHash,
		Role: domain.Role(r.Role), Status: domain.OperatorStatus(r.Status),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LastLoginAt: r.LastLoginAt, TokenVersion: r.TokenVersion,
	}
}

func toRowOperator(o domain.Operator) operatorRow {
	return operatorRow{
		ID: o.ID, Username: o.Username, PasswordHash: o.PasswordHash,
		Role: string(o.Role), Status: string(o.Status),
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, LastLoginAt: o.LastLoginAt, TokenVersion: o.TokenVersion,
	}
}

const operatorColumns = `id, username, password_hash, role, status, created_at, updated_at, last_login_at, token_version`

// Create implements ports.OperatorRepository.
func (r *OperatorRepository) Create(ctx context.Context, op domain.Operator) (domain.Operator, error) {
	const q = `INSERT INTO operators (username, password_hash, role, status, created_at, updated_at)
VALUES (:username, :password_hash, :role, :status, :created_at, :updated_at)
RETURNING ` + operatorColumns
	var row operatorRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowOperator(op)); err != nil {
		err = translate(err)
		if errors.Is(err, domain.ErrConflict) {
			return domain.Operator{}, fmt.Errorf("username %q is taken: %w", op.Username, domain.ErrConflict)
		}
		return domain.Operator{}, fmt.Errorf("create operator: %w", err)
	}
	return toDomainOperator(row), nil
}

// Get implements ports.OperatorRepository.
func (r *OperatorRepository) Get(ctx context.Context, id int64) (domain.Operator, error) {
	const q = `SELECT ` + operatorColumns + ` FROM operators WHERE id = $1`
	var row operatorRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, id); err != nil {
		return domain.Operator{}, fmt.Errorf("operator %d: %w", id, translate(err))
	}
	return toDomainOperator(row), nil
}

// GetByUsername implements ports.OperatorRepository (case-insensitive).
func (r *OperatorRepository) GetByUsername(ctx context.Context, username string) (domain.Operator, error) {
	const q = `SELECT ` + operatorColumns + ` FROM operators WHERE lower(username) = lower($1)`
	var row operatorRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, username); err != nil {
		return domain.Operator{}, fmt.Errorf("operator by username: %w", translate(err))
	}
	return toDomainOperator(row), nil
}

// List implements ports.OperatorRepository: oldest first, after page.After.
func (r *OperatorRepository) List(ctx context.Context, page domain.Page) ([]domain.Operator, error) {
	const q = `SELECT ` + operatorColumns + ` FROM operators WHERE id > $1 ORDER BY id LIMIT $2`
	var rows []operatorRow
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, page.After, page.Limit); err != nil {
		return nil, fmt.Errorf("list operators: %w", translate(err))
	}
	out := make([]domain.Operator, len(rows))
	for i, row := range rows {
		out[i] = toDomainOperator(row)
	}
	return out, nil
}

// Update implements ports.OperatorRepository.
func (r *OperatorRepository) Update(ctx context.Context, op domain.Operator) (domain.Operator, error) {
	const q = `UPDATE operators SET password_hash = :password_hash, role = :role, status = :status, updated_at = :updated_at,
    token_version = :token_version
WHERE id = :id RETURNING ` + operatorColumns
	var row operatorRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowOperator(op)); err != nil {
		return domain.Operator{}, fmt.Errorf("update operator %d: %w", op.ID, translate(err))
	}
	return toDomainOperator(row), nil
}

// Delete implements ports.OperatorRepository.
func (r *OperatorRepository) Delete(ctx context.Context, id int64) error {
	const q = `DELETE FROM operators WHERE id = $1`
	res, err := conn(ctx, r.db).ExecContext(ctx, q, id)
	if err != nil {
		return fmt.Errorf("delete operator %d: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("operator %d: %w", id, domain.ErrNotFound)
	}
	return nil
}

// LockActiveAdmins implements ports.OperatorRepository.
func (r *OperatorRepository) LockActiveAdmins(ctx context.Context) ([]int64, error) {
	const q = `SELECT id FROM operators WHERE role = 'admin' AND status = 'active' ORDER BY id FOR UPDATE`
	var ids []int64
	if err := conn(ctx, r.db).SelectContext(ctx, &ids, q); err != nil {
		return nil, fmt.Errorf("lock active admins: %w", translate(err))
	}
	return ids, nil
}

// AnyAdmin implements ports.OperatorRepository.
func (r *OperatorRepository) AnyAdmin(ctx context.Context) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM operators WHERE role = 'admin')`
	var ok bool
	if err := conn(ctx, r.db).GetContext(ctx, &ok, q); err != nil {
		return false, fmt.Errorf("any admin: %w", translate(err))
	}
	return ok, nil
}

// TouchLogin implements ports.OperatorRepository.
func (r *OperatorRepository) TouchLogin(ctx context.Context, id int64, at time.Time) error {
	const q = `UPDATE operators SET last_login_at = $2 WHERE id = $1`
	if _, err := conn(ctx, r.db).ExecContext(ctx, q, id, at); err != nil {
		return fmt.Errorf("touch login %d: %w", id, translate(err))
	}
	return nil
}
