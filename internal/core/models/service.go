// Package models manages the public model catalogue. A model's binding key
// is namespace.name; a model that bindings use cannot be deleted.
package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the catalogue use-case.
type Service struct {
	repo     ports.ModelRepository
	bindings ports.BindingRepository
	mut      *changes.Mutator
}

// NewService builds the use-case.
func NewService(repo ports.ModelRepository, bindings ports.BindingRepository, mut *changes.Mutator) *Service {
	return &Service{repo: repo, bindings: bindings, mut: mut}
}

// Patch is a partial update of the mutable fields.
type Patch struct {
	Kind               *domain.ModelKind
	ContextWindow      domain.Field[int]
	MaxOutputTokens    domain.Field[int]
	InputPricePerMTok  *float64
	OutputPricePerMTok *float64
	SupportsVision     *bool
	SupportsFunctions  *bool
	SupportsToolChoice *bool
	SupportsFIM        *bool
	SupportsStream     *bool
	Status             *domain.ResourceStatus
}

func validate(m *domain.Model) error {
	v := &domain.ValidationError{}
	if m.Namespace == "" {
		m.Namespace = domain.DefaultNamespace
	}
	if strings.Contains(m.Namespace, ".") {
		v.Add("namespace", "must not contain '.'")
	}
	if m.Name == "" || len(m.Name) > 128 {
		v.Add("name", "must be 1 to 128 characters")
	}
	switch m.Kind {
	case "":
		m.Kind = domain.ModelChat
	case domain.ModelChat, domain.ModelEmbedding, domain.ModelRerank, domain.ModelOther:
	default:
		v.Add("kind", "must be chat, embedding, rerank or other")
	}
	if m.ContextWindow != nil && *m.ContextWindow < 1 {
		v.Add("context_window", "must be ≥ 1")
	}
	if m.MaxOutputTokens != nil && *m.MaxOutputTokens < 1 {
		v.Add("max_output_tokens", "must be ≥ 1")
	}
	if m.InputPricePerMTok < 0 {
		v.Add("input_price_per_mtok", "must be ≥ 0")
	}
	if m.OutputPricePerMTok < 0 {
		v.Add("output_price_per_mtok", "must be ≥ 0")
	}
	switch m.Status {
	case "":
		m.Status = domain.StatusActive
	case domain.StatusActive, domain.StatusDisabled:
	default:
		v.Add("status", "must be active or disabled")
	}
	return v.OrNil()
}

func details(m domain.Model) map[string]any {
	return map[string]any{"key": m.Key(), "kind": m.Kind, "status": m.Status,
		"input_price_per_mtok": m.InputPricePerMTok, "output_price_per_mtok": m.OutputPricePerMTok}
}

// Create adds a model; (namespace, name) is unique.
func (s *Service) Create(ctx context.Context, m domain.Model) (domain.Model, error) {
	if err := validate(&m); err != nil {
		return domain.Model{}, err
	}
	var out domain.Model
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m.CreatedAt, m.UpdatedAt = now, now
		var err error
		if out, err = s.repo.Create(ctx, m); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "model.create", ResourceType: "model", ResourceID: idString(out.ID),
			Details: details(out), Section: domain.SectionModels, Op: domain.OpUpsert}}, nil
	})
	return out, err
}

// Get returns one model.
func (s *Service) Get(ctx context.Context, id int64) (domain.Model, error) {
	return s.repo.Get(ctx, id)
}

// List returns a page of models and the id to continue after (0: done).
func (s *Service) List(ctx context.Context, f domain.ModelFilter, page domain.Page) ([]domain.Model, int64, error) {
	return domain.FetchPage(page, func(pg domain.Page) ([]domain.Model, error) { return s.repo.List(ctx, f, pg) },
		func(m domain.Model) int64 { return m.ID })
}

// Update applies a partial update.
func (s *Service) Update(ctx context.Context, id int64, p Patch) (domain.Model, error) {
	var out domain.Model
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m, err := s.repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if p.Kind != nil {
			m.Kind = *p.Kind
		}
		if p.ContextWindow.Set {
			m.ContextWindow = p.ContextWindow.Value
		}
		if p.MaxOutputTokens.Set {
			m.MaxOutputTokens = p.MaxOutputTokens.Value
		}
		setIf(&m.InputPricePerMTok, p.InputPricePerMTok)
		setIf(&m.OutputPricePerMTok, p.OutputPricePerMTok)
		setIf(&m.SupportsVision, p.SupportsVision)
		setIf(&m.SupportsFunctions, p.SupportsFunctions)
		setIf(&m.SupportsToolChoice, p.SupportsToolChoice)
		setIf(&m.SupportsFIM, p.SupportsFIM)
		setIf(&m.SupportsStream, p.SupportsStream)
		if p.Status != nil {
			m.Status = *p.Status
		}
		if err := validate(&m); err != nil {
			return nil, err
		}
		m.UpdatedAt = now
		if out, err = s.repo.Update(ctx, m); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "model.update", ResourceType: "model", ResourceID: idString(id),
			Details: details(out), Section: domain.SectionModels, Op: domain.OpUpsert}}, nil
	})
	return out, err
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Delete removes a model no binding uses.
func (s *Service) Delete(ctx context.Context, id int64) error {
	return s.mut.Do(ctx, func(ctx context.Context, _ time.Time) ([]changes.Change, error) {
		m, err := s.repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		used, err := s.bindings.KeysUsingModel(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(used) > 0 {
			return nil, fmt.Errorf("model %s is used by binding %s: %w", m.Key(), strings.Join(used, ", "), domain.ErrConflict)
		}
		if err := s.repo.Delete(ctx, id); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "model.delete", ResourceType: "model", ResourceID: idString(id),
			Details: map[string]any{"key": m.Key()}, Section: domain.SectionModels, Op: domain.OpDelete}}, nil
	})
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
