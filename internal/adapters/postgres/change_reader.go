package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// changeReader reads pending outbox rows and the rows they name in one
// repeatable-read transaction, so a delta is built from one consistent view.
type changeReader struct {
	tx    *sqlx.Tx
	after int64
}

var _ ports.ChangeReader = (*changeReader)(nil)

// ReadChanges implements ports.SnapshotSource.
func (s *SnapshotSource) ReadChanges(ctx context.Context, afterVersion int64) (ports.ChangeReader, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, translate(fmt.Errorf("begin change read: %w", err))
	}
	return &changeReader{tx: tx, after: afterVersion}, nil
}

func (r *changeReader) Close() { _ = r.tx.Rollback() }

func (r *changeReader) Pending(ctx context.Context, limit int) ([]ports.OutboxChange, error) {
	var rows []outboxRow
	q := `SELECT version, section, entity_id, op, created_at FROM config_outbox WHERE version > $1 ORDER BY version LIMIT $2`
	if err := r.tx.SelectContext(ctx, &rows, q, r.after, limit); err != nil {
		return nil, fmt.Errorf("pending changes: %w", translate(err))
	}
	out := make([]ports.OutboxChange, len(rows))
	for i, row := range rows {
		out[i] = ports.OutboxChange{Version: row.Version, Section: domain.Section(row.Section), EntityID: row.EntityID,
			Op: domain.ChangeOp(row.Op), CreatedAt: row.CreatedAt}
	}
	return out, nil
}

const providerSecretSelect = `SELECT ` + providerColumns + `, p.api_key_ciphertext
FROM providers p JOIN route_groups g ON g.id = p.group_id `

func (r *changeReader) providers(ctx context.Context, where string, arg any) ([]domain.Provider, map[int64][]byte, error) {
	var rows []struct {
		providerRow
		Ciphertext []byte `db:"api_key_ciphertext"`
	}
	if err := r.tx.SelectContext(ctx, &rows, providerSecretSelect+where+` ORDER BY p.id`, arg); err != nil {
		return nil, nil, fmt.Errorf("snapshot providers: %w", translate(err))
	}
	out := make([]domain.Provider, 0, len(rows))
	cts := make(map[int64][]byte, len(rows))
	for _, row := range rows {
		out = append(out, toDomainProvider(row.providerRow))
		if len(row.Ciphertext) > 0 {
			cts[row.ID] = row.Ciphertext
		}
	}
	return out, cts, nil
}

func (r *changeReader) Providers(ctx context.Context, ids []int64) ([]domain.Provider, map[int64][]byte, error) {
	return r.providers(ctx, `WHERE p.id = ANY($1)`, pq.Array(ids))
}

// RoutingIn reads only the columns resolution uses: the groups with their
// active providers (providers_group_status_idx), none for a group without.
func (r *changeReader) RoutingIn(ctx context.Context, groups []string) (ports.GroupRouting, error) {
	const q = `SELECT g.id AS group_id, g.name AS group_name, p.id, p.models, p.api_key_ciphertext
FROM route_groups g LEFT JOIN providers p ON p.group_id = g.id AND p.status = 'active'
WHERE g.name = ANY($1) ORDER BY p.id`
	var rows []struct {
		GroupID    int64          `db:"group_id"`
		Group      string         `db:"group_name"`
		ID         *int64         `db:"id"`
		Models     pq.StringArray `db:"models"`
		Ciphertext []byte         `db:"api_key_ciphertext"`
	}
	if err := r.tx.SelectContext(ctx, &rows, q, pq.Array(groups)); err != nil {
		return ports.GroupRouting{}, fmt.Errorf("snapshot route groups: %w", translate(err))
	}
	out := ports.GroupRouting{GroupIDs: map[string]int64{}, Active: map[string][]domain.ProviderRef{}, Ciphertexts: map[int64][]byte{}}
	for _, row := range rows {
		out.GroupIDs[row.Group] = row.GroupID
		if row.ID == nil {
			continue
		}
		out.Active[row.Group] = append(out.Active[row.Group], domain.ProviderRef{ID: *row.ID, Models: []string(row.Models)})
		if len(row.Ciphertext) > 0 {
			out.Ciphertexts[*row.ID] = row.Ciphertext
		}
	}
	return out, nil
}

func (r *changeReader) Masters(ctx context.Context, ids []int64) ([]domain.Master, error) {
	var rows []masterRow
	if err := r.tx.SelectContext(ctx, &rows, `SELECT `+masterColumns+` FROM masters WHERE id = ANY($1) ORDER BY id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("snapshot masters: %w", translate(err))
	}
	out := make([]domain.Master, 0, len(rows))
	for _, row := range rows {
		out = append(out, toDomainMaster(row))
	}
	return out, nil
}

func (r *changeReader) keys(ctx context.Context, q string, ids []int64) ([]domain.Key, error) {
	var rows []keyRow
	if err := r.tx.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("snapshot keys: %w", translate(err))
	}
	out := make([]domain.Key, 0, len(rows))
	for _, row := range rows {
		out = append(out, toDomainKey(row))
	}
	return out, nil
}

func (r *changeReader) Keys(ctx context.Context, ids []int64) ([]domain.Key, error) {
	return r.keys(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ANY($1) ORDER BY id`, ids)
}

func (r *changeReader) KeysOfMasters(ctx context.Context, masterIDs []int64) ([]domain.Key, error) {
	return r.keys(ctx, `SELECT `+keyColumns+` FROM keys WHERE master_id = ANY($1) AND status <> 'revoked' ORDER BY id`, masterIDs)
}

func (r *changeReader) Models(ctx context.Context, ids []int64) ([]domain.Model, error) {
	var rows []modelRow
	if err := r.tx.SelectContext(ctx, &rows, `SELECT `+modelColumns+` FROM models WHERE id = ANY($1) ORDER BY id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("snapshot models: %w", translate(err))
	}
	out := make([]domain.Model, 0, len(rows))
	for _, row := range rows {
		out = append(out, toDomainModel(row))
	}
	return out, nil
}

func (r *changeReader) bindings(ctx context.Context, where string, arg any) ([]domain.Binding, error) {
	var rows []bindingRow
	if err := r.tx.SelectContext(ctx, &rows, bindingSelect+` `+where+` ORDER BY b.id`, arg); err != nil {
		return nil, fmt.Errorf("snapshot bindings: %w", translate(err))
	}
	out := make([]domain.Binding, 0, len(rows))
	for _, row := range rows {
		b, err := toDomainBinding(row)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (r *changeReader) Bindings(ctx context.Context, ids []int64) ([]domain.Binding, error) {
	return r.bindings(ctx, `WHERE b.id = ANY($1)`, pq.Array(ids))
}

func (r *changeReader) BindingsOfModels(ctx context.Context, modelIDs []int64) ([]domain.Binding, error) {
	return r.bindings(ctx, `WHERE b.model_id = ANY($1)`, pq.Array(modelIDs))
}

// BindingsRoutingTo finds the bindings with a candidate on one of groups
// (the route group -> bindings index is the candidates column itself).
func (r *changeReader) BindingsRoutingTo(ctx context.Context, groups []string) ([]domain.Binding, error) {
	// One containment probe of bindings_candidates_idx per group.
	return r.bindings(ctx, `WHERE b.id IN (SELECT x.id FROM unnest($1::text[]) AS g(name) CROSS JOIN LATERAL
		(SELECT id FROM bindings WHERE candidates @> jsonb_build_array(jsonb_build_object('route_group', g.name))) x)`,
		pq.Array(groups))
}

func (r *changeReader) Features(ctx context.Context, names []string) (map[string]string, error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := r.tx.SelectContext(ctx, &rows, `SELECT name, value FROM feature_flags WHERE name = ANY($1)`, pq.Array(names)); err != nil {
		return nil, fmt.Errorf("snapshot features: %w", translate(err))
	}
	out := make(map[string]string, len(rows))
	for _, f := range rows {
		out[f.Name] = f.Value
	}
	return out, nil
}

func (r *changeReader) KeysChangedByClock(ctx context.Context, from, to time.Time) ([]int64, error) {
	// Both branches match a partial index (migration 00009); an extra key
	// (an empty previous hash) only costs a no-op recomputation.
	const q = `SELECT id FROM keys WHERE
  (status = 'active' AND expires_at IS NOT NULL AND expires_at > $1 AND expires_at <= $2) OR
  (prev_token_hash IS NOT NULL AND status <> 'revoked' AND prev_expires_at > $1 AND prev_expires_at <= $2) ORDER BY id`
	var out []int64
	if err := r.tx.SelectContext(ctx, &out, q, from, to); err != nil {
		return nil, fmt.Errorf("keys changed by the clock: %w", translate(err))
	}
	return out, nil
}

func (r *changeReader) NextKeyTimeChange(ctx context.Context, at time.Time) (*time.Time, error) {
	const q = `SELECT least(
  (SELECT min(expires_at) FROM keys WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at > $1),
  (SELECT min(prev_expires_at) FROM keys WHERE prev_token_hash IS NOT NULL AND status <> 'revoked' AND prev_expires_at > $1))`
	var next *time.Time
	if err := r.tx.GetContext(ctx, &next, q, at); err != nil {
		return nil, fmt.Errorf("next clock change: %w", translate(err))
	}
	return next, nil
}
