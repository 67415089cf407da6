package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// KeyRepository stores client keys.
type KeyRepository struct{ db *sqlx.DB }

var _ ports.KeyRepository = (*KeyRepository)(nil)

// NewKeyRepository builds the repository.
func NewKeyRepository(db *sqlx.DB) *KeyRepository { return &KeyRepository{db: db} }

type keyRow struct {
	ID               int64          `db:"id"`
	MasterID         int64          `db:"master_id"`
	Name             string         `db:"name"`
	Prefix           string         `db:"prefix"`
	TokenHash        string         `db:"token_hash"`
	PrevTokenHash    *string        `db:"prev_token_hash"`
	PrevExpiresAt    *time.Time     `db:"prev_expires_at"`
	AliasHash        *string        `db:"alias_token_hash"`
	Group            string         `db:"group_name"`
	AllowedModels    pq.StringArray `db:"allowed_models"`
	AllowedIPs       pq.StringArray `db:"allowed_ips"`
	RPMLimit         int            `db:"rpm_limit"`
	TPMLimit         int            `db:"tpm_limit"`
	QuotaTokens      *int64         `db:"quota_tokens"`
	BudgetUSD        *float64       `db:"budget_usd"`
	BudgetPeriod     string         `db:"budget_period"`
	ExpiresAt        *time.Time     `db:"expires_at"`
	Namespaces       pq.StringArray `db:"namespaces"`
	DefaultNamespace string         `db:"default_namespace"`
	Status           string         `db:"status"`
	IssuedBy         string         `db:"issued_by"`
	UsedTokens       int64          `db:"used_tokens"`
	UsedUSD          float64        `db:"used_usd"`
	RevokedAt        *time.Time     `db:"revoked_at"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
}

func toDomainKey(r keyRow) domain.Key {
	return domain.Key{
		ID: r.ID, MasterID: r.MasterID, Name: r.Name, Prefix: r.Prefix, TokenHash: strings.TrimSpace(r.TokenHash),
		PrevTokenHash: strings.TrimSpace(deref(r.PrevTokenHash)), PrevExpiresAt: r.PrevExpiresAt, Group: r.Group,
		AliasTokenHash: strings.TrimSpace(deref(r.AliasHash)),
		AllowedModels:  []string(r.AllowedModels), AllowedIPs: []string(r.AllowedIPs), RPMLimit: r.RPMLimit,
		TPMLimit: r.TPMLimit, QuotaTokens: r.QuotaTokens, BudgetUSD: r.BudgetUSD,
		BudgetPeriod: domain.BudgetPeriod(r.BudgetPeriod), ExpiresAt: r.ExpiresAt, Status: domain.KeyStatus(r.Status),
		IssuedBy: r.IssuedBy, UsedTokens: r.UsedTokens, UsedUSD: r.UsedUSD, RevokedAt: r.RevokedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Namespaces: []string(r.Namespaces), DefaultNamespace: r.DefaultNamespace,
	}
}

func toRowKey(k domain.Key) keyRow {
	return keyRow{
		ID: k.ID, MasterID: k.MasterID, Name: k.Name, Prefix: k.Prefix, TokenHash: k.TokenHash,
		PrevTokenHash: nullIfEmpty(k.PrevTokenHash), PrevExpiresAt: k.PrevExpiresAt, Group: k.Group,
		AliasHash:     nullIfEmpty(k.AliasTokenHash),
		AllowedModels: pq.StringArray(nonNil(k.AllowedModels)), AllowedIPs: pq.StringArray(nonNil(k.AllowedIPs)),
		RPMLimit: k.RPMLimit, TPMLimit: k.TPMLimit, QuotaTokens: k.QuotaTokens, BudgetUSD: k.BudgetUSD,
		BudgetPeriod: string(k.BudgetPeriod), ExpiresAt: k.ExpiresAt, Status: string(k.Status), IssuedBy: k.IssuedBy,
		UsedTokens: k.UsedTokens, UsedUSD: k.UsedUSD, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt,
		Namespaces: pq.StringArray(nonNil(k.Namespaces)), DefaultNamespace: k.DefaultNamespace,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const keyColumns = `id, master_id, name, prefix, token_hash, prev_token_hash, prev_expires_at, group_name, allowed_models,
allowed_ips, rpm_limit, tpm_limit, quota_tokens, budget_usd, budget_period, expires_at, status, issued_by, used_tokens,
used_usd, revoked_at, created_at, updated_at, namespaces, default_namespace, alias_token_hash`

// Create implements ports.KeyRepository.
func (r *KeyRepository) Create(ctx context.Context, k domain.Key) (domain.Key, error) {
	const q = `INSERT INTO keys (master_id, name, prefix, token_hash, group_name, allowed_models, allowed_ips, rpm_limit,
  tpm_limit, quota_tokens, budget_usd, budget_period, expires_at, status, issued_by, created_at, updated_at,
  namespaces, default_namespace)
VALUES (:master_id, :name, :prefix, :token_hash, :group_name, :allowed_models, :allowed_ips, :rpm_limit, :tpm_limit,
  :quota_tokens, :budget_usd, :budget_period, :expires_at, :status, :issued_by, :created_at, :updated_at,
  :namespaces, :default_namespace)
RETURNING ` + keyColumns
	var row keyRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowKey(k)); err != nil {
		err = translate(err)
		if errors.Is(err, domain.ErrConflict) && strings.Contains(err.Error(), "master") {
			return domain.Key{}, fmt.Errorf("master %d: %w", k.MasterID, domain.ErrNotFound)
		}
		return domain.Key{}, fmt.Errorf("create key: %w", err)
	}
	return toDomainKey(row), nil
}

// Get implements ports.KeyRepository.
func (r *KeyRepository) Get(ctx context.Context, id int64) (domain.Key, error) {
	var row keyRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, `SELECT `+keyColumns+` FROM keys WHERE id = $1`, id); err != nil {
		return domain.Key{}, fmt.Errorf("key %d: %w", id, translate(err))
	}
	return toDomainKey(row), nil
}

// List implements ports.KeyRepository.
func (r *KeyRepository) List(ctx context.Context, f domain.KeyFilter, page domain.Page) ([]domain.Key, error) {
	// The effective status: an active key past its expiry counts as expired.
	q := `SELECT ` + keyColumns + ` FROM keys WHERE id > $1 AND ($2 = 0 OR master_id = $2)
AND ($3 = ''
  OR ($3 = 'active' AND status = 'active' AND (expires_at IS NULL OR expires_at > now()))
  OR ($3 = 'expired' AND (status = 'expired' OR (status = 'active' AND expires_at <= now())))
  OR ($3 NOT IN ('active', 'expired') AND status = $3))
AND ($4 = '' OR group_name = $4) ORDER BY id LIMIT $5`
	var rows []keyRow
	filtered := f.MasterID != 0 || f.Status != "" || f.Group != ""
	if err := listPage(ctx, r.db, filtered, &rows, q, page.After, f.MasterID, string(f.Status), f.Group, page.Limit); err != nil {
		return nil, fmt.Errorf("list keys: %w", translate(err))
	}
	out := make([]domain.Key, len(rows))
	for i, row := range rows {
		out[i] = toDomainKey(row)
	}
	return out, nil
}

// Update implements ports.KeyRepository.
func (r *KeyRepository) Update(ctx context.Context, k domain.Key) (domain.Key, error) {
	const q = `UPDATE keys SET name = :name, prefix = :prefix, token_hash = :token_hash, prev_token_hash = :prev_token_hash,
  prev_expires_at = :prev_expires_at, alias_token_hash = :alias_token_hash, group_name = :group_name, allowed_models = :allowed_models,
  allowed_ips = :allowed_ips, rpm_limit = :rpm_limit, tpm_limit = :tpm_limit, quota_tokens = :quota_tokens,
  budget_usd = :budget_usd, budget_period = :budget_period, expires_at = :expires_at, status = :status,
  namespaces = :namespaces, default_namespace = :default_namespace, revoked_at = :revoked_at, updated_at = :updated_at
WHERE id = :id RETURNING ` + keyColumns
	var row keyRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowKey(k)); err != nil {
		return domain.Key{}, fmt.Errorf("update key %d: %w", k.ID, translate(err))
	}
	return toDomainKey(row), nil
}

// CountLive implements ports.KeyRepository.
func (r *KeyRepository) CountLive(ctx context.Context, masterID int64) (int, error) {
	var n int
	if err := conn(ctx, r.db).GetContext(ctx, &n, `SELECT count(*) FROM keys WHERE master_id = $1 AND status <> 'revoked'`, masterID); err != nil {
		return 0, fmt.Errorf("count keys of master %d: %w", masterID, translate(err))
	}
	return n, nil
}

// LiveIDs implements ports.KeyRepository.
func (r *KeyRepository) LiveIDs(ctx context.Context, masterID int64) ([]int64, error) {
	var ids []int64
	if err := conn(ctx, r.db).SelectContext(ctx, &ids, `SELECT id FROM keys WHERE master_id = $1 AND status <> 'revoked' ORDER BY id`, masterID); err != nil {
		return nil, fmt.Errorf("keys of master %d: %w", masterID, translate(err))
	}
	return ids, nil
}
