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

// ModelRepository stores the public model catalogue.
type ModelRepository struct{ db *sqlx.DB }

var _ ports.ModelRepository = (*ModelRepository)(nil)

// NewModelRepository builds the repository.
func NewModelRepository(db *sqlx.DB) *ModelRepository { return &ModelRepository{db: db} }

type modelRow struct {
	ID                 int64     `db:"id"`
	Namespace          string    `db:"namespace"`
	Name               string    `db:"name"`
	Kind               string    `db:"kind"`
	ContextWindow      *int      `db:"context_window"`
	MaxOutputTokens    *int      `db:"max_output_tokens"`
	InputPricePerMTok  float64   `db:"input_price_per_mtok"`
	OutputPricePerMTok float64   `db:"output_price_per_mtok"`
	SupportsVision     bool      `db:"supports_vision"`
	SupportsFunctions  bool      `db:"supports_functions"`
	SupportsToolChoice bool      `db:"supports_tool_choice"`
	SupportsFIM        bool      `db:"supports_fim"`
	SupportsStream     bool      `db:"supports_stream"`
	Status             string    `db:"status"`
	CreatedAt          time.Time `db:"created_at"`
	UpdatedAt          time.Time `db:"updated_at"`
}

func toDomainModel(r modelRow) domain.Model {
	return domain.Model{
		ID: r.ID, Namespace: r.Namespace, Name: r.Name, Kind: domain.ModelKind(r.Kind),
		ContextWindow: r.ContextWindow, MaxOutputTokens: r.MaxOutputTokens,
		InputPricePerMTok: r.InputPricePerMTok, OutputPricePerMTok: r.OutputPricePerMTok,
		SupportsVision: r.SupportsVision, SupportsFunctions: r.SupportsFunctions, SupportsToolChoice: r.SupportsToolChoice,
		SupportsFIM: r.SupportsFIM, SupportsStream: r.SupportsStream, Status: domain.ResourceStatus(r.Status),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func toRowModel(m domain.Model) modelRow {
	return modelRow{
		ID: m.ID, Namespace: m.Namespace, Name: m.Name, Kind: string(m.Kind),
		ContextWindow: m.ContextWindow, MaxOutputTokens: m.MaxOutputTokens,
		InputPricePerMTok: m.InputPricePerMTok, OutputPricePerMTok: m.OutputPricePerMTok,
		SupportsVision: m.SupportsVision, SupportsFunctions: m.SupportsFunctions, SupportsToolChoice: m.SupportsToolChoice,
		SupportsFIM: m.SupportsFIM, SupportsStream: m.SupportsStream, Status: string(m.Status),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

const modelColumns = `id, namespace, name, kind, context_window, max_output_tokens, input_price_per_mtok, output_price_per_mtok,
supports_vision, supports_functions, supports_tool_choice, supports_fim, supports_stream, status, created_at, updated_at`

// Create implements ports.ModelRepository.
func (r *ModelRepository) Create(ctx context.Context, m domain.Model) (domain.Model, error) {
	const q = `INSERT INTO models (namespace, name, kind, context_window, max_output_tokens, input_price_per_mtok,
  output_price_per_mtok, supports_vision, supports_functions, supports_tool_choice, supports_fim, supports_stream,
  status, created_at, updated_at)
VALUES (:namespace, :name, :kind, :context_window, :max_output_tokens, :input_price_per_mtok, :output_price_per_mtok,
  :supports_vision, :supports_functions, :supports_tool_choice, :supports_fim, :supports_stream, :status,
  :created_at, :updated_at)
RETURNING ` + modelColumns
	var row modelRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowModel(m)); err != nil {
		err = translate(err)
		if errors.Is(err, domain.ErrConflict) {
			return domain.Model{}, fmt.Errorf("model %s exists: %w", m.Key(), domain.ErrConflict)
		}
		return domain.Model{}, fmt.Errorf("create model: %w", err)
	}
	return toDomainModel(row), nil
}

// Get implements ports.ModelRepository.
func (r *ModelRepository) Get(ctx context.Context, id int64) (domain.Model, error) {
	var row modelRow
	if err := conn(ctx, r.db).GetContext(ctx, &row, `SELECT `+modelColumns+` FROM models WHERE id = $1`, id); err != nil {
		return domain.Model{}, fmt.Errorf("model %d: %w", id, translate(err))
	}
	return toDomainModel(row), nil
}

// GetByKey implements ports.ModelRepository.
func (r *ModelRepository) GetByKey(ctx context.Context, namespace, name string) (domain.Model, error) {
	var row modelRow
	q := `SELECT ` + modelColumns + ` FROM models WHERE namespace = $1 AND name = $2`
	if err := conn(ctx, r.db).GetContext(ctx, &row, q, namespace, name); err != nil {
		return domain.Model{}, fmt.Errorf("model %s: %w", domain.BindingKey(namespace, name), translate(err))
	}
	return toDomainModel(row), nil
}

// List implements ports.ModelRepository.
func (r *ModelRepository) List(ctx context.Context, f domain.ModelFilter, page domain.Page) ([]domain.Model, error) {
	where := []string{"id > $1"}
	args := []any{page.After}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Namespace != "" {
		add("namespace = $%d", f.Namespace)
	}
	if f.Kind != "" {
		add("kind = $%d", string(f.Kind))
	}
	if f.Status != "" {
		add("status = $%d", string(f.Status))
	}
	args = append(args, page.Limit)
	q := `SELECT ` + modelColumns + ` FROM models WHERE ` + strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	var rows []modelRow
	if err := listPage(ctx, r.db, len(where) > 1, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list models: %w", translate(err))
	}
	out := make([]domain.Model, len(rows))
	for i, row := range rows {
		out[i] = toDomainModel(row)
	}
	return out, nil
}

// Update implements ports.ModelRepository.
func (r *ModelRepository) Update(ctx context.Context, m domain.Model) (domain.Model, error) {
	const q = `UPDATE models SET kind = :kind, context_window = :context_window, max_output_tokens = :max_output_tokens,
  input_price_per_mtok = :input_price_per_mtok, output_price_per_mtok = :output_price_per_mtok,
  supports_vision = :supports_vision, supports_functions = :supports_functions, supports_tool_choice = :supports_tool_choice,
  supports_fim = :supports_fim, supports_stream = :supports_stream, status = :status, updated_at = :updated_at
WHERE id = :id RETURNING ` + modelColumns
	var row modelRow
	if err := namedGet(ctx, conn(ctx, r.db), &row, q, toRowModel(m)); err != nil {
		return domain.Model{}, fmt.Errorf("update model %d: %w", m.ID, translate(err))
	}
	return toDomainModel(row), nil
}

// Delete implements ports.ModelRepository.
func (r *ModelRepository) Delete(ctx context.Context, id int64) error {
	res, err := conn(ctx, r.db).ExecContext(ctx, `DELETE FROM models WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete model %d: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("model %d: %w", id, domain.ErrNotFound)
	}
	return nil
}

var _ ports.ModelCatalog = (*ModelRepository)(nil)

// MissingKeys implements ports.ModelCatalog: the binding keys among keys
// that name no model.
func (r *ModelRepository) MissingKeys(ctx context.Context, keys []string) ([]string, error) {
	const q = `SELECT k FROM unnest($1::text[]) AS k
WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.namespace || '.' || m.name = k) ORDER BY k`
	var missing []string
	if err := conn(ctx, r.db).SelectContext(ctx, &missing, q, pq.Array(keys)); err != nil {
		return nil, fmt.Errorf("check model keys: %w", translate(err))
	}
	return missing, nil
}
