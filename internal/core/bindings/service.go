// Package bindings routes public models to providers' upstream models. Each
// candidate names a route group and a selector; its resolution against the
// group's active providers is computed when read (core/routing).
package bindings

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the bindings use-case.
type Service struct {
	repo      ports.BindingRepository
	models    ports.ModelRepository
	providers ports.ProviderRepository
	groups    ports.RouteGroupRepository
	mut       *changes.Mutator
}

// NewService builds the use-case.
func NewService(repo ports.BindingRepository, models ports.ModelRepository, providers ports.ProviderRepository,
	groups ports.RouteGroupRepository, mut *changes.Mutator) *Service {
	return &Service{repo: repo, models: models, providers: providers, groups: groups, mut: mut}
}

// Resolved is a binding with each candidate's route group id and resolution.
type Resolved struct {
	domain.Binding
	Candidates []domain.ResolvedCandidate
}

// Patch is a partial update.
type Patch struct {
	Status     *domain.ResourceStatus
	Candidates *[]domain.BindingCandidate
}

func validateCandidates(cs []domain.BindingCandidate) error {
	v := &domain.ValidationError{}
	if len(cs) == 0 {
		v.Add("candidates", "must list at least one candidate")
	}
	for i := range cs {
		c := &cs[i]
		if c.RouteGroup == "" {
			c.RouteGroup = domain.DefaultGroup
		}
		if c.SelectorType == "" {
			c.SelectorType = domain.SelectorExact // as the original treats an empty type
		}
		if c.Weight < 0 {
			v.Add(fmt.Sprintf("candidates.%d.weight", i), "must be ≥ 0")
		}
		if err := routing.ValidateSelector(c.SelectorType, c.SelectorValue); err != nil {
			v.Add(fmt.Sprintf("candidates.%d", i), err.Error())
		}
	}
	return v.OrNil()
}

func validStatus(s *domain.ResourceStatus) error {
	switch *s {
	case "":
		*s = domain.StatusActive
	case domain.StatusActive, domain.StatusDisabled:
	default:
		return domain.NewValidationError("status", "must be active or disabled")
	}
	return nil
}

func groupNames(cs []domain.BindingCandidate) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.RouteGroup)
	}
	return out
}

// Create binds a public model (which must exist) to candidates.
func (s *Service) Create(ctx context.Context, b domain.Binding) (Resolved, error) {
	if b.Namespace == "" {
		b.Namespace = domain.DefaultNamespace
	}
	if err := validStatus(&b.Status); err != nil {
		return Resolved{}, err
	}
	if err := validateCandidates(b.Candidates); err != nil {
		return Resolved{}, err
	}
	var out domain.Binding
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		m, err := s.models.GetByKey(ctx, b.Namespace, b.PublicModel)
		if err != nil {
			return nil, domain.NewValidationError("public_model", fmt.Sprintf("no model %s in the catalogue", domain.BindingKey(b.Namespace, b.PublicModel)))
		}
		b.ModelID = m.ID
		if _, err := s.groups.Ensure(ctx, groupNames(b.Candidates)); err != nil {
			return nil, err
		}
		b.CreatedAt, b.UpdatedAt = now, now
		if out, err = s.repo.Create(ctx, b); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "binding.create", ResourceType: "binding", ResourceID: idString(out.ID),
			Details: map[string]any{"key": out.Key(), "candidates": len(out.Candidates), "status": out.Status},
			Section: domain.SectionBindings, Op: domain.OpUpsert}}, nil
	})
	if err != nil {
		return Resolved{}, err
	}
	return s.resolveOne(ctx, out)
}

// Get returns one binding with its resolution.
func (s *Service) Get(ctx context.Context, id int64) (Resolved, error) {
	b, err := s.repo.Get(ctx, id)
	if err != nil {
		return Resolved{}, err
	}
	return s.resolveOne(ctx, b)
}

// List returns a page of resolved bindings and the id to continue after.
func (s *Service) List(ctx context.Context, f domain.BindingFilter, page domain.Page) ([]Resolved, int64, error) {
	items, next, err := domain.FetchPage(page, func(pg domain.Page) ([]domain.Binding, error) { return s.repo.List(ctx, f, pg) },
		func(b domain.Binding) int64 { return b.ID })
	if err != nil {
		return nil, 0, err
	}
	out, err := s.Resolve(ctx, items)
	return out, next, err
}

// Update applies a partial update.
func (s *Service) Update(ctx context.Context, id int64, p Patch) (Resolved, error) {
	if p.Status != nil {
		if err := validStatus(p.Status); err != nil {
			return Resolved{}, err
		}
	}
	if p.Candidates != nil {
		if err := validateCandidates(*p.Candidates); err != nil {
			return Resolved{}, err
		}
	}
	var out domain.Binding
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		b, err := s.repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if p.Status != nil {
			b.Status = *p.Status
		}
		if p.Candidates != nil {
			b.Candidates = *p.Candidates
			if _, err := s.groups.Ensure(ctx, groupNames(b.Candidates)); err != nil {
				return nil, err
			}
		}
		b.UpdatedAt = now
		if out, err = s.repo.Update(ctx, b); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "binding.update", ResourceType: "binding", ResourceID: idString(id),
			Details: map[string]any{"key": out.Key(), "candidates": len(out.Candidates), "status": out.Status},
			Section: domain.SectionBindings, Op: domain.OpUpsert}}, nil
	})
	if err != nil {
		return Resolved{}, err
	}
	return s.resolveOne(ctx, out)
}

// Delete removes a binding.
func (s *Service) Delete(ctx context.Context, id int64) error {
	return s.mut.Do(ctx, func(ctx context.Context, _ time.Time) ([]changes.Change, error) {
		b, err := s.repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.repo.Delete(ctx, id); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "binding.delete", ResourceType: "binding", ResourceID: idString(id),
			Details: map[string]any{"key": b.Key()}, Section: domain.SectionBindings, Op: domain.OpDelete}}, nil
	})
}

func (s *Service) resolveOne(ctx context.Context, b domain.Binding) (Resolved, error) {
	out, err := s.Resolve(ctx, []domain.Binding{b})
	if err != nil {
		return Resolved{}, err
	}
	return out[0], nil
}

// Resolve computes every candidate's resolution with one provider query.
func (s *Service) Resolve(ctx context.Context, bs []domain.Binding) ([]Resolved, error) {
	var names []string
	seen := map[string]bool{}
	for _, b := range bs {
		for _, c := range b.Candidates {
			if !seen[c.RouteGroup] {
				seen[c.RouteGroup] = true
				names = append(names, c.RouteGroup)
			}
		}
	}
	refs, err := s.providers.ActiveRefsByGroup(ctx, names)
	if err != nil {
		return nil, err
	}
	ids, err := s.groups.Lookup(ctx, names)
	if err != nil {
		return nil, err
	}
	indexes := make(map[string]*routing.Index, len(refs))
	out := make([]Resolved, len(bs))
	for i, b := range bs {
		out[i] = Resolved{Binding: b, Candidates: make([]domain.ResolvedCandidate, len(b.Candidates))}
		for j, c := range b.Candidates {
			idx := indexes[c.RouteGroup]
			if idx == nil {
				idx = routing.NewIndex(refs[c.RouteGroup])
				indexes[c.RouteGroup] = idx
			}
			out[i].Candidates[j] = domain.ResolvedCandidate{
				BindingCandidate: c, GroupID: ids[c.RouteGroup], Resolution: idx.Resolve(routing.WithPublicModel(c, b.PublicModel)),
			}
		}
	}
	return out, nil
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
