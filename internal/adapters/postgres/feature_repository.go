package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/ports"
)

// FeatureRepository stores feature flags.
type FeatureRepository struct{ db *sqlx.DB }

var _ ports.FeatureRepository = (*FeatureRepository)(nil)

// NewFeatureRepository builds the repository.
func NewFeatureRepository(db *sqlx.DB) *FeatureRepository { return &FeatureRepository{db: db} }

// All implements ports.FeatureRepository.
func (r *FeatureRepository) All(ctx context.Context) (map[string]string, error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, `SELECT name, value FROM feature_flags ORDER BY name`); err != nil {
		return nil, fmt.Errorf("feature flags: %w", translate(err))
	}
	out := make(map[string]string, len(rows))
	for _, row := range rows {
		out[row.Name] = row.Value
	}
	return out, nil
}

// Upsert implements ports.FeatureRepository.
func (r *FeatureRepository) Upsert(ctx context.Context, name, value string) error {
	const q = `INSERT INTO feature_flags (name, value, updated_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`
	if _, err := conn(ctx, r.db).ExecContext(ctx, q, name, value); err != nil {
		return fmt.Errorf("set feature %q: %w", name, translate(err))
	}
	return nil
}

// Delete implements ports.FeatureRepository.
func (r *FeatureRepository) Delete(ctx context.Context, name string) (bool, error) {
	res, err := conn(ctx, r.db).ExecContext(ctx, `DELETE FROM feature_flags WHERE name = $1`, name)
	if err != nil {
		return false, fmt.Errorf("remove feature %q: %w", name, translate(err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
