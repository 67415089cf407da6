package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/ports"
)

// RouteGroupRepository gives route groups their ids.
type RouteGroupRepository struct{ db *sqlx.DB }

var _ ports.RouteGroupRepository = (*RouteGroupRepository)(nil)

// NewRouteGroupRepository builds the repository.
func NewRouteGroupRepository(db *sqlx.DB) *RouteGroupRepository { return &RouteGroupRepository{db: db} }

type groupRow struct {
	ID   int64  `db:"id"`
	Name string `db:"name"`
}

// Ensure implements ports.RouteGroupRepository.
func (r *RouteGroupRepository) Ensure(ctx context.Context, names []string) (map[string]int64, error) {
	const q = `INSERT INTO route_groups (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING`
	if _, err := conn(ctx, r.db).ExecContext(ctx, q, pq.Array(names)); err != nil {
		return nil, fmt.Errorf("ensure route groups: %w", translate(err))
	}
	return r.Lookup(ctx, names)
}

// Lookup implements ports.RouteGroupRepository.
func (r *RouteGroupRepository) Lookup(ctx context.Context, names []string) (map[string]int64, error) {
	const q = `SELECT id, name FROM route_groups WHERE name = ANY($1::text[])`
	var rows []groupRow
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, pq.Array(names)); err != nil {
		return nil, fmt.Errorf("route groups: %w", translate(err))
	}
	out := make(map[string]int64, len(rows))
	for _, row := range rows {
		out[row.Name] = row.ID
	}
	return out, nil
}
