package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// ImportRepository is the bulk side of POST /admin/import.
type ImportRepository struct{ db *sqlx.DB }

var _ ports.ImportRepository = (*ImportRepository)(nil)

// NewImportRepository builds the repository.
func NewImportRepository(db *sqlx.DB) *ImportRepository { return &ImportRepository{db: db} }

// ProviderNames implements ports.ImportRepository.
func (r *ImportRepository) ProviderNames(ctx context.Context, names []string) (map[string]bool, error) {
	var found []string
	if err := conn(ctx, r.db).SelectContext(ctx, &found, `SELECT name FROM providers WHERE lower(name) = ANY($1)`,
		pq.StringArray(lowered(names))); err != nil {
		return nil, fmt.Errorf("import: provider names: %w", translate(err))
	}
	out := make(map[string]bool, len(found))
	for _, n := range found {
		out[strings.ToLower(n)] = true
	}
	return out, nil
}

// lowered lower-cases names: masters and providers are unique by lower(name).
func lowered(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// MastersByName implements ports.ImportRepository.
func (r *ImportRepository) MastersByName(ctx context.Context, names []string) (map[string]domain.Master, error) {
	var rows []struct {
		ID               int64          `db:"id"`
		Name             string         `db:"name"`
		Group            string         `db:"group_name"`
		Status           string         `db:"status"`
		Namespaces       pq.StringArray `db:"namespaces"`
		DefaultNamespace string         `db:"default_namespace"`
	}
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, `SELECT id, name, group_name, status, namespaces, default_namespace
FROM masters WHERE lower(name) = ANY($1)`, pq.StringArray(lowered(names))); err != nil {
		return nil, fmt.Errorf("import: masters by name: %w", translate(err))
	}
	out := make(map[string]domain.Master, len(rows))
	for _, m := range rows {
		out[strings.ToLower(m.Name)] = domain.Master{ID: m.ID, Name: m.Name, Group: m.Group, Status: domain.MasterStatus(m.Status),
			Namespaces: []string(m.Namespaces), DefaultNamespace: m.DefaultNamespace}
	}
	return out, nil
}

// TakenKeyHashes implements ports.ImportRepository.
func (r *ImportRepository) TakenKeyHashes(ctx context.Context, hashes []string) (map[string]bool, error) {
	const q = `SELECT h FROM unnest($1::text[]) AS h
WHERE EXISTS (SELECT 1 FROM keys WHERE token_hash = h)
   OR EXISTS (SELECT 1 FROM keys WHERE prev_token_hash = h)
   OR EXISTS (SELECT 1 FROM keys WHERE alias_token_hash = h)`
	var found []string
	if err := conn(ctx, r.db).SelectContext(ctx, &found, q, pq.StringArray(hashes)); err != nil {
		return nil, fmt.Errorf("import: key hashes: %w", translate(err))
	}
	out := make(map[string]bool, len(found))
	for _, h := range found {
		out[strings.TrimSpace(h)] = true
	}
	return out, nil
}

// insertBatch bounds one COPY; the whole import still commits once.
const insertBatch = 10000

// InsertKeys implements ports.ImportRepository: ids are taken from the
// sequence up front and the rows are streamed with COPY.
func (r *ImportRepository) InsertKeys(ctx context.Context, keys []domain.Key) ([]int64, error) {
	tx, ok := ctx.Value(txKey{}).(*sqlx.Tx)
	if !ok {
		return nil, fmt.Errorf("import: InsertKeys must run in a transaction")
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, `SELECT nextval(pg_get_serial_sequence('keys', 'id')) FROM generate_series(1, $1)`,
		len(keys)); err != nil {
		return nil, fmt.Errorf("import: key ids: %w", translate(err))
	}
	for start := 0; start < len(keys); start += insertBatch {
		end := min(start+insertBatch, len(keys))
		if err := copyKeys(ctx, tx, keys[start:end], ids[start:end]); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// copyImportedKeys is lib/pq's COPY … FROM STDIN, run through a prepared statement.
const copyImportedKeys = `COPY keys (id, master_id, name, prefix, token_hash, alias_token_hash, group_name, allowed_models,
  allowed_ips, rpm_limit, tpm_limit, quota_tokens, budget_usd, budget_period, expires_at, status, issued_by, used_tokens,
  used_usd, created_at, updated_at, namespaces, default_namespace) FROM STDIN`

func copyKeys(ctx context.Context, tx *sqlx.Tx, keys []domain.Key, ids []int64) error {
	stmt, err := tx.PrepareContext(ctx, copyImportedKeys)
	if err != nil {
		return fmt.Errorf("import: copy keys: %w", translate(err))
	}
	defer stmt.Close()
	for i, k := range keys {
		row := toRowKey(k)
		if _, err := stmt.ExecContext(ctx, ids[i], row.MasterID, row.Name, row.Prefix, row.TokenHash, row.AliasHash,
			row.Group, row.AllowedModels, row.AllowedIPs, row.RPMLimit, row.TPMLimit, row.QuotaTokens, row.BudgetUSD,
			row.BudgetPeriod, row.ExpiresAt, row.Status, row.IssuedBy, row.UsedTokens, row.UsedUSD, row.CreatedAt,
			row.UpdatedAt, row.Namespaces, row.DefaultNamespace); err != nil {
			return fmt.Errorf("import: copy key: %w", translate(err))
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("import: copy keys: %w", translate(err))
	}
	return nil
}

// ModelBinding implements ports.ImportRepository.
func (r *ImportRepository) ModelBinding(ctx context.Context, namespace, name string) (string, bool, bool, error) {
	var rows []struct {
		Name  string `db:"name"`
		Bound bool   `db:"bound"`
	}
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, `SELECT m.name, EXISTS (SELECT 1 FROM bindings b WHERE b.model_id = m.id) AS bound
FROM models m WHERE m.namespace = $1 AND lower(m.name) = lower($2)`, namespace, name); err != nil {
		return "", false, false, fmt.Errorf("import: model %s: %w", domain.BindingKey(namespace, name), translate(err))
	}
	if len(rows) == 0 {
		return "", false, false, nil
	}
	return rows[0].Name, true, rows[0].Bound, nil
}

// RecordChanges implements ports.ImportRepository like ChangeRecorder.Record:
// the publisher gives the rows their versions once they are committed.
func (r *ImportRepository) RecordChanges(ctx context.Context, section domain.Section, ids []string, op domain.ChangeOp) error {
	if len(ids) == 0 {
		return nil
	}
	q := conn(ctx, r.db)
	const ins = `INSERT INTO config_outbox (section, entity_id, op)
SELECT $1, e, $2 FROM unnest($3::text[]) WITH ORDINALITY AS t(e, n) ORDER BY n`
	for start := 0; start < len(ids); start += insertBatch {
		end := min(start+insertBatch, len(ids))
		if _, err := q.ExecContext(ctx, ins, string(section), string(op), pq.StringArray(ids[start:end])); err != nil {
			return fmt.Errorf("import: record %s changes: %w", section, translate(err))
		}
	}
	return nil
}
