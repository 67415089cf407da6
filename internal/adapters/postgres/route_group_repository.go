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

// Ensure implements ports.RouteGroupRepository in one statement: the
// groups it creates come from the INSERT, those that exist from the table.
// A group another transaction committed while this one waited on its
// insert is in neither (the statement's snapshot predates it): a second
// lookup, with a fresh snapshot, finds it.
func (r *RouteGroupRepository) Ensure(ctx context.Context, names []string) (map[string]int64, error) {
	const q = `WITH ins AS (
		INSERT INTO route_groups (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING RETURNING id, name)
	SELECT id, name FROM ins UNION ALL SELECT id, name FROM route_groups WHERE name = ANY($1::text[])`
	var rows []groupRow
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, pq.Array(names)); err != nil {
		return nil, fmt.Errorf("ensure route groups: %w", translate(err))
	}
	out := make(map[string]int64, len(rows))
	for _, row := range rows {
		out[row.Name] = row.ID
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return r.Lookup(ctx, names)
		}
	}
	return out, nil
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
