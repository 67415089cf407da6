package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// BindingRepository stores bindings; candidates as a JSONB array.
type BindingRepository struct{ db *sqlx.DB }

var _ ports.BindingRepository = (*BindingRepository)(nil)

// NewBindingRepository builds the repository.
func NewBindingRepository(db *sqlx.DB) *BindingRepository { return &BindingRepository{db: db} }

type bindingRow struct {
	ID         int64     `db:"id"`
	ModelID    int64     `db:"model_id"`
	Namespace  string    `db:"namespace"`
	Name       string    `db:"name"`
	Status     string    `db:"status"`
	Candidates []byte    `db:"candidates"`
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
}

// candidateJSON is the stored form of a candidate.
type candidateJSON struct {
	RouteGroup    string `json:"route_group"`
	Weight        int    `json:"weight"`
	SelectorType  string `json:"selector_type"`
	SelectorValue string `json:"selector_value"`
}

func toDomainBinding(r bindingRow) (domain.Binding, error) {
	var cs []candidateJSON
	if err := json.Unmarshal(r.Candidates, &cs); err != nil {
		return domain.Binding{}, fmt.Errorf("binding %d candidates: %w", r.ID, err)
	}
	b := domain.Binding{ID: r.ID, ModelID: r.ModelID, Namespace: r.Namespace, PublicModel: r.Name,
		Status: domain.ResourceStatus(r.Status), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for _, c := range cs {
		b.Candidates = append(b.Candidates, domain.BindingCandidate{RouteGroup: c.RouteGroup, Weight: c.Weight,
			SelectorType: domain.SelectorType(c.SelectorType), SelectorValue: c.SelectorValue})
	}
	return b, nil
}

func candidatesJSON(cs []domain.BindingCandidate) ([]byte, error) {
	out := make([]candidateJSON, len(cs))
	for i, c := range cs {
		out[i] = candidateJSON{RouteGroup: c.RouteGroup, Weight: c.Weight, SelectorType: string(c.SelectorType), SelectorValue: c.SelectorValue}
	}
	return json.Marshal(out)
}

const bindingSelect = `SELECT b.id, b.model_id, m.namespace, m.name, b.status, b.candidates, b.created_at, b.updated_at
FROM bindings b JOIN models m ON m.id = b.model_id`

// Create implements ports.BindingRepository.
func (r *BindingRepository) Create(ctx context.Context, b domain.Binding) (domain.Binding, error) {
	cs, err := candidatesJSON(b.Candidates)
	if err != nil {
		return domain.Binding{}, err
	}
	const q = `INSERT INTO bindings (model_id, status, candidates, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id`
	var id int64
	if err := conn(ctx, r.db).GetContext(ctx, &id, q, b.ModelID, string(b.Status), string(cs), b.CreatedAt); err != nil {
		err = translate(err)
		if errors.Is(err, domain.ErrConflict) && isUniqueViolation(err) {
			return domain.Binding{}, fmt.Errorf("model %s already has a binding: %w", b.Key(), domain.ErrConflict)
		}
		return domain.Binding{}, fmt.Errorf("create binding: %w", err)
	}
	return r.Get(ctx, id)
}

// Get implements ports.BindingRepository.
func (r *BindingRepository) Get(ctx context.Context, id int64) (domain.Binding, error) {
	var row bindingRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, bindingSelect+` WHERE b.id = $1`, id); err != nil {
		return domain.Binding{}, fmt.Errorf("binding %d: %w", id, translate(err))
	}
	return toDomainBinding(row)
}

// List implements ports.BindingRepository.
func (r *BindingRepository) List(ctx context.Context, f domain.BindingFilter, page domain.Page) ([]domain.Binding, error) {
	where := []string{"b.id > $1"}
	args := []any{page.After}
	if f.Namespace != "" {
		args = append(args, f.Namespace)
		where = append(where, fmt.Sprintf("b.model_id IN (SELECT id FROM models WHERE namespace = $%d)", len(args)))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, fmt.Sprintf("b.status = $%d", len(args)))
	}
	args = append(args, page.Limit)
	// The page is cut from bindings alone, in primary-key order, and only
	// the page is joined to models: no join or sort of the whole table.
	q := `SELECT b.id, b.model_id, m.namespace, m.name, b.status, b.candidates, b.created_at, b.updated_at
FROM (SELECT * FROM bindings b WHERE ` + strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY b.id LIMIT $%d) b`, len(args)) + `
JOIN models m ON m.id = b.model_id ORDER BY b.id`
	var rows []bindingRow
	if err := listPage(ctx, r.db, len(where) > 1, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list bindings: %w", translate(err))
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

// Update implements ports.BindingRepository.
func (r *BindingRepository) Update(ctx context.Context, b domain.Binding) (domain.Binding, error) {
	cs, err := candidatesJSON(b.Candidates)
	if err != nil {
		return domain.Binding{}, err
	}
	const q = `UPDATE bindings SET status = $2, candidates = $3, updated_at = $4 WHERE id = $1`
	res, err := conn(ctx, r.db).ExecContext(ctx, q, b.ID, string(b.Status), string(cs), b.UpdatedAt)
	if err != nil {
		return domain.Binding{}, fmt.Errorf("update binding %d: %w", b.ID, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Binding{}, fmt.Errorf("binding %d: %w", b.ID, domain.ErrNotFound)
	}
	return r.Get(ctx, b.ID)
}

// Delete implements ports.BindingRepository.
func (r *BindingRepository) Delete(ctx context.Context, id int64) error {
	res, err := conn(ctx, r.db).ExecContext(ctx, `DELETE FROM bindings WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete binding %d: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("binding %d: %w", id, domain.ErrNotFound)
	}
	return nil
}

// KeysUsingModel implements ports.BindingRepository.
func (r *BindingRepository) KeysUsingModel(ctx context.Context, modelID int64) ([]string, error) {
	const q = `SELECT m.namespace || '.' || m.name FROM bindings b JOIN models m ON m.id = b.model_id WHERE b.model_id = $1`
	var keys []string
	if err := conn(ctx, r.db).SelectContext(ctx, &keys, q, modelID); err != nil {
		return nil, fmt.Errorf("bindings of model %d: %w", modelID, translate(err))
	}
	return keys, nil
}
