// Package bindings routes public models to providers' upstream models. Each
// candidate names a route group and a selector; its resolution against the
// group's active providers (core/routing) is computed when the binding is
// written, and again by the snapshot publisher when a provider of its route
// groups changes, and stored: reads serve the stored resolution.
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
	repo        ports.BindingRepository
	models      ports.ModelRepository
	providers   ports.ProviderRepository
	groups      ports.RouteGroupRepository
	resolutions ports.BindingResolutionStore
	mut         *changes.Mutator
	clock       ports.Clock
	policy      Policy
}

// Policy tunes resolution.
type Policy struct {
	// ResolveBudget bounds one binding's resolution (zero: no bound), as
	// the publisher's sync.binding_resolve_budget.
	ResolveBudget time.Duration
}

// NewService builds the use-case.
func NewService(repo ports.BindingRepository, models ports.ModelRepository, providers ports.ProviderRepository,
	groups ports.RouteGroupRepository, resolutions ports.BindingResolutionStore, mut *changes.Mutator, clock ports.Clock,
	policy Policy) *Service {
	return &Service{repo: repo, models: models, providers: providers, groups: groups, resolutions: resolutions, mut: mut,
		clock: clock, policy: policy}
}

// Resolved is a binding with each candidate's route group id and resolution.
type Resolved struct {
	domain.Binding
	Candidates []domain.ResolvedCandidate
	// Source is domain.ResolutionStored or domain.ResolutionComputed.
	Source string
	// Version is the config version the stored resolution was computed at
	// (0 when computed for the read); ResolvedAt is when.
	Version    int64
	ResolvedAt time.Time
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
	var (
		out domain.Binding
		res *pendingResolution
	)
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
		if res, err = s.resolveAndStore(ctx, out); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "binding.create", ResourceType: "binding", ResourceID: idString(out.ID),
			Details: map[string]any{"key": out.Key(), "candidates": len(out.Candidates), "status": out.Status},
			Section: domain.SectionBindings, Op: domain.OpUpsert, Recorded: res.store}}, nil
	})
	if err != nil {
		return Resolved{}, err
	}
	return res.Resolved, nil
}

// Get returns one binding with its stored resolution.
func (s *Service) Get(ctx context.Context, id int64) (Resolved, error) {
	b, err := s.repo.Get(ctx, id)
	if err != nil {
		return Resolved{}, err
	}
	out, err := s.withResolutions(ctx, []domain.Binding{b})
	if err != nil {
		return Resolved{}, err
	}
	return out[0], nil
}

// List returns a page of bindings with their stored resolutions and the id
// to continue after.
func (s *Service) List(ctx context.Context, f domain.BindingFilter, page domain.Page) ([]Resolved, int64, error) {
	items, next, err := domain.FetchPage(page, func(pg domain.Page) ([]domain.Binding, error) { return s.repo.List(ctx, f, pg) },
		func(b domain.Binding) int64 { return b.ID })
	if err != nil {
		return nil, 0, err
	}
	out, err := s.withResolutions(ctx, items)
	return out, next, err
}

// withResolutions attaches each binding's stored resolution (one query for
// the page). A binding with none stored for its current candidates (one
// from before the upgrade that no publish has reached yet) is resolved for
// the read, within the budget, and says so (ResolutionComputed).
func (s *Service) withResolutions(ctx context.Context, bs []domain.Binding) ([]Resolved, error) {
	ids := make([]int64, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	stored, err := s.resolutions.Resolutions(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Resolved, len(bs))
	var missing []domain.Binding
	var at []int
	for i, b := range bs {
		r, ok := stored[b.ID]
		if !ok || !r.Matches(b.Candidates) {
			missing, at = append(missing, b), append(at, i)
			continue
		}
		cs := make([]domain.ResolvedCandidate, len(b.Candidates))
		for j, c := range b.Candidates {
			cs[j] = r.Candidates[j]
			cs[j].BindingCandidate = c // the weight as it is now
		}
		out[i] = Resolved{Binding: b, Candidates: cs, Source: domain.ResolutionStored, Version: r.Version, ResolvedAt: r.ResolvedAt}
	}
	if len(missing) > 0 {
		computed, err := s.Resolve(ctx, missing)
		if err != nil {
			return nil, err
		}
		for k, i := range at {
			out[i] = computed[k]
		}
	}
	return out, nil
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
	var (
		out domain.Binding
		res *pendingResolution
	)
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
		if res, err = s.resolveAndStore(ctx, out); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "binding.update", ResourceType: "binding", ResourceID: idString(id),
			Details: map[string]any{"key": out.Key(), "candidates": len(out.Candidates), "status": out.Status},
			Section: domain.SectionBindings, Op: domain.OpUpsert, Recorded: res.store}}, nil
	})
	if err != nil {
		return Resolved{}, err
	}
	return res.Resolved, nil
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

// pendingResolution is a binding's resolution computed in its write
// transaction, stored once the change has its version.
type pendingResolution struct {
	Resolved
	resolutions ports.BindingResolutionStore
}

// resolveAndStore resolves b as the write left it; the returned value's
// store saves it at the change's version, in the same transaction.
func (s *Service) resolveAndStore(ctx context.Context, b domain.Binding) (*pendingResolution, error) {
	rs, err := s.Resolve(ctx, []domain.Binding{b})
	if err != nil {
		return nil, err
	}
	return &pendingResolution{Resolved: rs[0], resolutions: s.resolutions}, nil
}

// store saves the resolution in the write's transaction. The change has no
// config version yet (the publisher assigns it after the commit), so it is
// saved at version 0: the newest version assigned so far, below the one the
// change will get, so the publisher's resolution for it replaces this one.
func (p *pendingResolution) store(ctx context.Context) error {
	if err := p.resolutions.SaveResolutions(ctx, []domain.BindingResolution{{BindingID: p.ID, Version: 0,
		Candidates: p.Candidates, ResolvedAt: p.ResolvedAt}}); err != nil {
		return err
	}
	// An unchanged resolution keeps the row (and version) it had: report
	// what is stored, as a later read will.
	got, err := p.resolutions.Resolutions(ctx, []int64{p.ID})
	if err != nil {
		return err
	}
	r, ok := got[p.ID]
	if !ok {
		return fmt.Errorf("binding %d: resolution not stored", p.ID)
	}
	p.Source, p.Version, p.ResolvedAt = domain.ResolutionStored, r.Version, r.ResolvedAt
	return nil
}

// Resolve computes every candidate's resolution with one provider query,
// each binding within the budget (one that exceeds it has every candidate
// a config_error saying so).
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
	index := func(group string) *routing.Index {
		idx := indexes[group]
		if idx == nil {
			idx = routing.NewIndex(refs[group])
			indexes[group] = idx
		}
		return idx
	}
	out := make([]Resolved, len(bs))
	for i, b := range bs {
		cs, _ := routing.ResolveBinding(b, index, ids, routing.NewBudget(s.policy.ResolveBudget, time.Now))
		out[i] = Resolved{Binding: b, Candidates: cs, Source: domain.ResolutionComputed, ResolvedAt: s.clock.Now()}
	}
	return out, nil
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
