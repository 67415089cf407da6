package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// snapshotStream reads the whole configuration in one repeatable-read
// transaction; keys and bindings through server-side cursors, a chunk per
// FETCH, so the publisher never holds them all.
type snapshotStream struct {
	tx      *sqlx.Tx
	version int64
}

var _ ports.SnapshotStream = (*snapshotStream)(nil)

const qSnapshotVersion = `SELECT GREATEST(published_version, (SELECT coalesce(max(version), 0) FROM config_outbox)) FROM snapshot_state WHERE id = 1`

// Stream implements ports.SnapshotSource.
func (s *SnapshotSource) Stream(ctx context.Context) (ports.SnapshotStream, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, translate(fmt.Errorf("begin snapshot read: %w", err))
	}
	st := &snapshotStream{tx: tx}
	if err := tx.GetContext(ctx, &st.version, qSnapshotVersion); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("snapshot version: %w", translate(err))
	}
	return st, nil
}

func (st *snapshotStream) Version() int64 { return st.version }
func (st *snapshotStream) Close()         { _ = st.tx.Rollback() }

func (st *snapshotStream) Providers(ctx context.Context) ([]domain.Provider, map[int64][]byte, error) {
	r := changeReader{tx: st.tx}
	return r.providers(ctx, `WHERE $1::bool`, true)
}

func (st *snapshotStream) Masters(ctx context.Context) ([]domain.Master, error) {
	var rows []masterRow
	if err := st.tx.SelectContext(ctx, &rows, `SELECT `+masterColumns+` FROM masters ORDER BY id`); err != nil {
		return nil, fmt.Errorf("snapshot masters: %w", translate(err))
	}
	out := make([]domain.Master, len(rows))
	for i, r := range rows {
		out[i] = toDomainMaster(r)
	}
	return out, nil
}

func (st *snapshotStream) Models(ctx context.Context) ([]domain.Model, error) {
	var rows []modelRow
	if err := st.tx.SelectContext(ctx, &rows, `SELECT `+modelColumns+` FROM models ORDER BY id`); err != nil {
		return nil, fmt.Errorf("snapshot models: %w", translate(err))
	}
	out := make([]domain.Model, len(rows))
	for i, r := range rows {
		out[i] = toDomainModel(r)
	}
	return out, nil
}

func (st *snapshotStream) GroupIDs(ctx context.Context) (map[string]int64, error) {
	var groups []groupRow
	if err := st.tx.SelectContext(ctx, &groups, `SELECT id, name FROM route_groups`); err != nil {
		return nil, fmt.Errorf("snapshot route groups: %w", translate(err))
	}
	out := make(map[string]int64, len(groups))
	for _, g := range groups {
		out[g.Name] = g.ID
	}
	return out, nil
}

func (st *snapshotStream) Features(ctx context.Context) (map[string]string, error) {
	var flags []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := st.tx.SelectContext(ctx, &flags, `SELECT name, value FROM feature_flags`); err != nil {
		return nil, fmt.Errorf("snapshot features: %w", translate(err))
	}
	out := make(map[string]string, len(flags))
	for _, f := range flags {
		out[f.Name] = f.Value
	}
	return out, nil
}

// chunks reads q through a server-side cursor (one plan, one pass, in the
// view's snapshot), chunk rows per FETCH, fetching the next chunk while fn
// handles the current one (at most two chunks in memory besides fn's).
func chunks[R any](ctx context.Context, tx *sqlx.Tx, name, q string, chunk int, fn func([]R) error) error {
	if _, err := tx.ExecContext(ctx, `DECLARE `+name+` NO SCROLL CURSOR FOR `+q); err != nil {
		return translate(err)
	}
	type result struct {
		rows []R
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan result, 1)
	go func() {
		defer close(next)
		for {
			var rows []R
			err := tx.SelectContext(ctx, &rows, fmt.Sprintf(`FETCH %d FROM %s`, chunk, name))
			select {
			case next <- result{rows, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(rows) < chunk {
				return
			}
		}
	}()
	var ferr error
	for r := range next {
		if ferr != nil {
			continue // drain: the reader stops, the tx is free again
		}
		if r.err != nil {
			ferr = translate(r.err)
		} else if len(r.rows) > 0 {
			ferr = fn(r.rows)
		}
		if ferr != nil {
			cancel()
		}
	}
	if ferr != nil {
		return ferr
	}
	if _, err := tx.ExecContext(ctx, `CLOSE `+name); err != nil {
		return translate(err)
	}
	return nil
}

func (st *snapshotStream) Keys(ctx context.Context, chunk int, fn func([]domain.Key) error) error {
	q := `SELECT ` + keyColumns + ` FROM keys WHERE status <> 'revoked' ORDER BY id`
	out := make([]domain.Key, 0, chunk)
	err := chunks(ctx, st.tx, "snapshot_keys", q, chunk, func(rows []keyRow) error {
		out = out[:0]
		for _, r := range rows {
			out = append(out, toDomainKey(r))
		}
		return fn(out)
	})
	if err != nil {
		return fmt.Errorf("snapshot keys: %w", err)
	}
	return nil
}

func (st *snapshotStream) Bindings(ctx context.Context, chunk int, fn func([]domain.Binding) error) error {
	q := bindingSelect + ` ORDER BY b.id`
	out := make([]domain.Binding, 0, chunk)
	err := chunks(ctx, st.tx, "snapshot_bindings", q, chunk, func(rows []bindingRow) error {
		out = out[:0]
		for _, r := range rows {
			b, err := toDomainBinding(r)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return fn(out)
	})
	if err != nil {
		return fmt.Errorf("snapshot bindings: %w", err)
	}
	return nil
}
