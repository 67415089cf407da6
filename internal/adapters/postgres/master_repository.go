package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// MasterRepository stores tenants.
type MasterRepository struct{ db *sqlx.DB }

var _ ports.MasterRepository = (*MasterRepository)(nil)

// NewMasterRepository builds the repository.
func NewMasterRepository(db *sqlx.DB) *MasterRepository { return &MasterRepository{db: db} }

type masterRow struct {
	ID               int64          `db:"id"`
	Name             string         `db:"name"`
	Group            string         `db:"group_name"`
	Status           string         `db:"status"`
	MaxKeys          int            `db:"max_keys"`
	DefaultRPM       int            `db:"default_rpm"`
	DefaultTPM       int            `db:"default_tpm"`
	MaxRPM           int            `db:"max_rpm"`
	MaxTPM           int            `db:"max_tpm"`
	MaxQuotaTokens   *int64         `db:"max_quota_tokens"`
	MaxBudgetUSD     *float64       `db:"max_budget_usd"`
	BudgetPeriod     string         `db:"budget_period"`
	MaxKeyTTLSeconds int64          `db:"max_key_ttl_seconds"`
	AllowedModels    pq.StringArray `db:"allowed_models"`
	Namespaces       pq.StringArray `db:"namespaces"`
	DefaultNamespace string         `db:"default_namespace"`
	TokenHash        string         `db:"token_hash"`
	TokenPrefix      string         `db:"token_prefix"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
}

func toDomainMaster(r masterRow) domain.Master {
	return domain.Master{ID: r.ID, Name: r.Name, Group: r.Group, Status: domain.MasterStatus(r.Status),
		MaxKeys: r.MaxKeys, DefaultRPM: r.DefaultRPM, DefaultTPM: r.DefaultTPM, TokenHash: r.TokenHash,
		TokenPrefix: r.TokenPrefix, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		MaxRPM: r.MaxRPM, MaxTPM: r.MaxTPM, MaxQuotaTokens: r.MaxQuotaTokens, MaxBudgetUSD: r.MaxBudgetUSD,
		BudgetPeriod: domain.BudgetPeriod(r.BudgetPeriod), MaxKeyTTLSeconds: r.MaxKeyTTLSeconds,
		AllowedModels: []string(r.AllowedModels), Namespaces: []string(r.Namespaces), DefaultNamespace: r.DefaultNamespace}
}

func toRowMaster(m domain.Master) masterRow {
	return masterRow{ID: m.ID, Name: m.Name, Group: m.Group, Status: string(m.Status), MaxKeys: m.MaxKeys,
		DefaultRPM: m.DefaultRPM, DefaultTPM: m.DefaultTPM, TokenHash: m.TokenHash, TokenPrefix: m.TokenPrefix,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		MaxRPM: m.MaxRPM, MaxTPM: m.MaxTPM, MaxQuotaTokens: m.MaxQuotaTokens, MaxBudgetUSD: m.MaxBudgetUSD,
		BudgetPeriod: string(m.BudgetPeriod), MaxKeyTTLSeconds: m.MaxKeyTTLSeconds,
		AllowedModels: pq.StringArray(nonNil(m.AllowedModels)), Namespaces: pq.StringArray(nonNil(m.Namespaces)),
		DefaultNamespace: m.DefaultNamespace}
}

const masterColumns = `id, name, group_name, status, max_keys, default_rpm, default_tpm, token_hash, token_prefix, created_at, updated_at,
max_rpm, max_tpm, max_quota_tokens, max_budget_usd, budget_period, max_key_ttl_seconds, allowed_models, namespaces, default_namespace`

func masterConflict(err error, name string) error {
	err = translate(err)
	if errors.Is(err, domain.ErrConflict) {
		return fmt.Errorf("a master named %q exists: %w", name, domain.ErrConflict)
	}
	return err
}

// Create implements ports.MasterRepository.
func (r *MasterRepository) Create(ctx context.Context, m domain.Master) (domain.Master, error) {
	const q = `INSERT INTO masters (name, group_name, status, max_keys, default_rpm, default_tpm, token_hash, token_prefix, created_at, updated_at,
  max_rpm, max_tpm, max_quota_tokens, max_budget_usd, budget_period, max_key_ttl_seconds, allowed_models, namespaces, default_namespace)
VALUES (:name, :group_name, :status, :max_keys, :default_rpm, :default_tpm, :token_hash, :token_prefix, :created_at, :updated_at,
  :max_rpm, :max_tpm, :max_quota_tokens, :max_budget_usd, :budget_period, :max_key_ttl_seconds, :allowed_models, :namespaces, :default_namespace)
RETURNING ` + masterColumns
	var row masterRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowMaster(m)); err != nil {
		return domain.Master{}, fmt.Errorf("create master: %w", masterConflict(err, m.Name))
	}
	return toDomainMaster(row), nil
}

// Get implements ports.MasterRepository.
func (r *MasterRepository) Get(ctx context.Context, id int64) (domain.Master, error) {
	var row masterRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, `SELECT `+masterColumns+` FROM masters WHERE id = $1`, id); err != nil {
		return domain.Master{}, fmt.Errorf("master %d: %w", id, translate(err))
	}
	return toDomainMaster(row), nil
}

// Lock implements ports.MasterRepository.
func (r *MasterRepository) Lock(ctx context.Context, id int64) (domain.Master, error) {
	var row masterRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, `SELECT `+masterColumns+` FROM masters WHERE id = $1 FOR UPDATE`, id); err != nil {
		return domain.Master{}, fmt.Errorf("master %d: %w", id, translate(err))
	}
	return toDomainMaster(row), nil
}

// List implements ports.MasterRepository.
func (r *MasterRepository) List(ctx context.Context, f domain.MasterFilter, page domain.Page) ([]domain.Master, error) {
	q := `SELECT ` + masterColumns + ` FROM masters WHERE id > $1 AND ($2 = '' OR status = $2) AND ($3 = 0 OR id = $3) ORDER BY id LIMIT $4`
	var rows []masterRow
	if err := listPage(ctx, r.db, f.Status != "", &rows, q, page.After, string(f.Status), f.OnlyID, page.Limit); err != nil {
		return nil, fmt.Errorf("list masters: %w", translate(err))
	}
	out := make([]domain.Master, len(rows))
	for i, row := range rows {
		out[i] = toDomainMaster(row)
	}
	return out, nil
}

// Update implements ports.MasterRepository.
func (r *MasterRepository) Update(ctx context.Context, m domain.Master) (domain.Master, error) {
	const q = `UPDATE masters SET name = :name, group_name = :group_name, status = :status, max_keys = :max_keys,
  default_rpm = :default_rpm, default_tpm = :default_tpm, token_hash = :token_hash, token_prefix = :token_prefix,
  max_rpm = :max_rpm, max_tpm = :max_tpm, max_quota_tokens = :max_quota_tokens, max_budget_usd = :max_budget_usd,
  budget_period = :budget_period, max_key_ttl_seconds = :max_key_ttl_seconds, allowed_models = :allowed_models,
  namespaces = :namespaces, default_namespace = :default_namespace,
  updated_at = :updated_at WHERE id = :id RETURNING ` + masterColumns
	var row masterRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowMaster(m)); err != nil {
		return domain.Master{}, fmt.Errorf("update master %d: %w", m.ID, masterConflict(err, m.Name))
	}
	return toDomainMaster(row), nil
}

// Delete implements ports.MasterRepository.
func (r *MasterRepository) Delete(ctx context.Context, id int64) error {
	res, err := conn(ctx, r.db).ExecContext(ctx, `DELETE FROM masters WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete master %d: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("master %d: %w", id, domain.ErrNotFound)
	}
	return nil
}
