package postgres

import (
	"bytes"
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

// ProviderRepository stores providers.
type ProviderRepository struct{ db *sqlx.DB }

var _ ports.ProviderRepository = (*ProviderRepository)(nil)

// NewProviderRepository builds the repository.
func NewProviderRepository(db *sqlx.DB) *ProviderRepository { return &ProviderRepository{db: db} }

type providerRow struct {
	ID             int64          `db:"id"`
	Name           string         `db:"name"`
	Type           string         `db:"type"`
	BaseURL        string         `db:"base_url"`
	APIKeyMask     string         `db:"api_key_mask"`
	GoogleProject  *string        `db:"google_project"`
	GoogleLocation *string        `db:"google_location"`
	GroupID        int64          `db:"group_id"`
	Group          string         `db:"group_name"`
	Models         pq.StringArray `db:"models"`
	Weight         int            `db:"weight"`
	Priority       int            `db:"priority"`
	Status         string         `db:"status"`
	AutoBan        bool           `db:"auto_ban"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

func toDomainProvider(r providerRow) domain.Provider {
	return domain.Provider{
		ID: r.ID, Name: r.Name, Type: r.Type, BaseURL: r.BaseURL, APIKeyMask: r.APIKeyMask,
		GoogleProject: deref(r.GoogleProject), GoogleLocation: deref(r.GoogleLocation),
		Group: r.Group, GroupID: r.GroupID, Models: []string(r.Models), Weight: r.Weight, Priority: r.Priority,
		Status: domain.ProviderStatus(r.Status), AutoBan: r.AutoBan, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

const providerColumns = `p.id, p.name, p.type, p.base_url, p.api_key_mask, p.google_project, p.google_location,
       p.group_id, g.name AS group_name, p.models, p.weight, p.priority, p.status, p.auto_ban, p.created_at, p.updated_at`

const providerSelect = `SELECT ` + providerColumns + `
FROM providers p JOIN route_groups g ON g.id = p.group_id`

func providerConflict(err error, name string) error {
	err = translate(err)
	if errors.Is(err, domain.ErrConflict) && isUniqueViolation(err) {
		return fmt.Errorf("a provider named %q exists: %w", name, domain.ErrConflict)
	}
	return err
}

// NextID implements ports.ProviderRepository.
func (r *ProviderRepository) NextID(ctx context.Context) (int64, error) {
	var id int64
	if err := conn(ctx, r.db).GetContext(ctx, &id, `SELECT nextval(pg_get_serial_sequence('providers', 'id'))`); err != nil {
		return 0, fmt.Errorf("reserve provider id: %w", translate(err))
	}
	return id, nil
}

// Create implements ports.ProviderRepository.
func (r *ProviderRepository) Create(ctx context.Context, p domain.Provider, ciphertext []byte) (domain.Provider, error) {
	// The row as Get reads it, from the same statement.
	const q = `WITH p AS (INSERT INTO providers (id, name, type, base_url, api_key_ciphertext, api_key_mask, google_project, google_location,
  group_id, models, weight, priority, status, auto_ban, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING *)
SELECT ` + providerColumns + ` FROM p JOIN route_groups g ON g.id = p.group_id`
	var row providerRow
	err := conn(ctx, r.db).GetContext(ctx, &row, q, p.ID, p.Name, p.Type, p.BaseURL, ciphertext, p.APIKeyMask,
		nullIfEmpty(p.GoogleProject), nullIfEmpty(p.GoogleLocation), p.GroupID, pq.StringArray(nonNil(p.Models)),
		p.Weight, p.Priority, string(p.Status), p.AutoBan, p.CreatedAt)
	if err != nil {
		return domain.Provider{}, fmt.Errorf("create provider: %w", providerConflict(err, p.Name))
	}
	return toDomainProvider(row), nil
}

// Get implements ports.ProviderRepository.
func (r *ProviderRepository) Get(ctx context.Context, id int64) (domain.Provider, error) {
	var row providerRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, providerSelect+` WHERE p.id = $1`, id); err != nil {
		return domain.Provider{}, fmt.Errorf("provider %d: %w", id, translate(err))
	}
	return toDomainProvider(row), nil
}

// List implements ports.ProviderRepository.
func (r *ProviderRepository) List(ctx context.Context, f domain.ProviderFilter, page domain.Page) ([]domain.Provider, error) {
	where := []string{"p.id > $1"}
	args := []any{page.After}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Group != "" {
		add("p.group_id = (SELECT id FROM route_groups WHERE name = $%d)", f.Group)
	}
	if f.Type != "" {
		add("p.type = $%d", f.Type)
	}
	if f.Status != "" {
		add("p.status = $%d", string(f.Status))
	}
	if f.NamePrefix != "" {
		add("starts_with(p.name, $%d)", f.NamePrefix)
	}
	args = append(args, page.Limit)
	// The page is cut from providers alone, reading its primary key in
	// order, and only the page is joined: the plan never joins or sorts
	// the whole table, whatever the statistics say.
	q := `SELECT ` + providerColumns + `
FROM (SELECT * FROM providers p WHERE ` + strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY p.id LIMIT $%d) p`, len(args)) + `
JOIN route_groups g ON g.id = p.group_id ORDER BY p.id`
	var rows []providerRow
	if err := listPage(ctx, r.db, len(where) > 1, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list providers: %w", translate(err))
	}
	out := make([]domain.Provider, len(rows))
	for i, row := range rows {
		out[i] = toDomainProvider(row)
	}
	return out, nil
}

// Update implements ports.ProviderRepository.
func (r *ProviderRepository) Update(ctx context.Context, p domain.Provider, keyChanged bool, ciphertext []byte) (domain.Provider, error) {
	const q = `UPDATE providers SET name = $2, type = $3, base_url = $4, google_project = $5, google_location = $6,
  group_id = $7, models = $8, weight = $9, priority = $10, status = $11, auto_ban = $12, updated_at = $13,
  api_key_ciphertext = CASE WHEN $14 THEN $15 ELSE api_key_ciphertext END,
  api_key_mask = CASE WHEN $14 THEN $16 ELSE api_key_mask END
WHERE id = $1`
	res, err := conn(ctx, r.db).ExecContext(ctx, q, p.ID, p.Name, p.Type, p.BaseURL, nullIfEmpty(p.GoogleProject),
		nullIfEmpty(p.GoogleLocation), p.GroupID, pq.StringArray(p.Models), p.Weight, p.Priority, string(p.Status),
		p.AutoBan, p.UpdatedAt, keyChanged, ciphertext, p.APIKeyMask)
	if err != nil {
		return domain.Provider{}, fmt.Errorf("update provider %d: %w", p.ID, providerConflict(err, p.Name))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Provider{}, fmt.Errorf("provider %d: %w", p.ID, domain.ErrNotFound)
	}
	return r.Get(ctx, p.ID)
}

// Delete implements ports.ProviderRepository.
func (r *ProviderRepository) Delete(ctx context.Context, id int64) error {
	res, err := conn(ctx, r.db).ExecContext(ctx, `DELETE FROM providers WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete provider %d: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("provider %d: %w", id, domain.ErrNotFound)
	}
	return nil
}

type refRow struct {
	Group  string         `db:"group_name"`
	ID     int64          `db:"id"`
	Models pq.StringArray `db:"models"`
}

// ActiveRefsByGroup implements ports.ProviderRepository.
func (r *ProviderRepository) ActiveRefsByGroup(ctx context.Context, groups []string) (map[string][]domain.ProviderRef, error) {
	const q = `SELECT g.name AS group_name, p.id, p.models FROM providers p JOIN route_groups g ON g.id = p.group_id
WHERE p.status = 'active' AND g.name = ANY($1::text[]) ORDER BY p.id`
	var rows []refRow
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, pq.Array(groups)); err != nil {
		return nil, fmt.Errorf("active providers by group: %w", translate(err))
	}
	out := make(map[string][]domain.ProviderRef, len(groups))
	for _, row := range rows {
		out[row.Group] = append(out[row.Group], domain.ProviderRef{ID: row.ID, Models: []string(row.Models)})
	}
	return out, nil
}

type secretRow struct {
	ID         int64  `db:"id"`
	Ciphertext []byte `db:"api_key_ciphertext"`
}

// Secrets implements ports.ProviderRepository.
func (r *ProviderRepository) Secrets(ctx context.Context, afterID int64, limit int) ([]ports.ProviderSecret, error) {
	const q = `SELECT id, api_key_ciphertext FROM providers WHERE id > $1 AND api_key_ciphertext IS NOT NULL ORDER BY id LIMIT $2`
	var rows []secretRow
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, afterID, limit); err != nil {
		return nil, fmt.Errorf("provider secrets: %w", translate(err))
	}
	out := make([]ports.ProviderSecret, len(rows))
	for i, row := range rows {
		out[i] = ports.ProviderSecret{ProviderID: row.ID, Ciphertext: row.Ciphertext}
	}
	return out, nil
}

// ReplaceSecret implements ports.ProviderRepository (compare-and-swap).
func (r *ProviderRepository) ReplaceSecret(ctx context.Context, id int64, old, ciphertext []byte) (bool, error) {
	if bytes.Equal(old, ciphertext) {
		return false, nil
	}
	const q = `UPDATE providers SET api_key_ciphertext = $3 WHERE id = $1 AND api_key_ciphertext = $2`
	res, err := conn(ctx, r.db).ExecContext(ctx, q, id, old, ciphertext)
	if err != nil {
		return false, fmt.Errorf("replace secret of provider %d: %w", id, translate(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
