package imports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ez-api/ez-api/internal/core/bindings"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// ModelCreator adds a public catalogue model with the usual validation.
type ModelCreator interface {
	Create(ctx context.Context, m domain.Model) (domain.Model, error)
}

// BindingCreator creates a binding with the usual validation and returns it
// resolved against the route groups' active providers.
type BindingCreator interface {
	Create(ctx context.Context, b domain.Binding) (bindings.Resolved, error)
}

// candidateWeight is every imported candidate's weight: abilities carry
// none, so the route groups of one public model share it equally.
const candidateWeight = 1

// plannedBinding is one ezapi binding built from the exporter's bindings
// (New API abilities: one per group × model × channel) of one
// namespace.model.
type plannedBinding struct {
	namespace, model string
	records          []string // the file's bindings[i] it comes from
	groups           []string // route groups in file order
	active           map[string]bool
}

// planBindings merges the exporter's bindings by namespace.model; records
// that cannot be mapped are reported skipped.
func planBindings(bs []Binding, rep *Report) []*plannedBinding {
	var out []*plannedBinding
	byKey := map[string]*plannedBinding{}
	for i, b := range bs {
		rec := fmt.Sprintf("bindings[%d]", i)
		model := strings.TrimSpace(b.Model)
		rawNS := strings.TrimSpace(b.Namespace)
		if rawNS == "" {
			rawNS = domain.DefaultNamespace
		}
		ns := normNamespace(rawNS)
		switch {
		case model == "":
			rep.Bindings.Skipped++
			rep.add(rec, rawNS+".", OutcomeSkipped, "no model name")
			continue
		case ns == "":
			rep.Bindings.Skipped++
			rep.add(rec, rawNS+"."+model, OutcomeSkipped, "namespace %q is not a namespace name (lower-case "+
				"letters, digits, '_' and '-'): create the model and binding under a valid namespace", b.Namespace)
			continue
		case ns != rawNS:
			rep.add(rec, domain.BindingKey(ns, model), OutcomeMapped, "namespace %q imported as %q", b.Namespace, ns)
		}
		group := strings.TrimSpace(b.RouteGroup)
		if group == "" {
			group = domain.DefaultGroup
		}
		key := domain.BindingKey(ns, strings.ToLower(model))
		p := byKey[key]
		if p == nil {
			p = &plannedBinding{namespace: ns, model: model, active: map[string]bool{}}
			byKey[key] = p
			out = append(out, p)
		}
		p.records = append(p.records, rec)
		if !slices.Contains(p.groups, group) {
			p.groups = append(p.groups, group)
		}
		switch b.Status {
		case "active":
			p.active[group] = true
		case "disabled":
		default:
			rep.add(rec, domain.BindingKey(ns, model), OutcomeMapped, "status %q unknown: treated as disabled", b.Status)
		}
	}
	return out
}

// binding is the ezapi binding a plan becomes: active with the route groups
// of its active abilities when it has any, else disabled with all of them
// (kept for the operator to enable).
func (p *plannedBinding) binding() (domain.Binding, []string) {
	b := domain.Binding{Namespace: p.namespace, PublicModel: p.model, Status: domain.StatusDisabled}
	var left []string
	for _, g := range p.groups {
		if p.active[g] {
			b.Status = domain.StatusActive
		}
	}
	for _, g := range p.groups {
		if b.Status == domain.StatusActive && !p.active[g] {
			left = append(left, g)
			continue
		}
		b.Candidates = append(b.Candidates, domain.BindingCandidate{RouteGroup: g, Weight: candidateWeight,
			SelectorType: domain.SelectorExact, SelectorValue: p.model})
	}
	return b, left
}

// importBindings creates the public model (when missing) and the binding
// of each planned namespace.model. A model that already has a binding is
// left as it is, so a second import changes nothing.
func (s *Service) importBindings(ctx context.Context, bs []Binding, rep *Report) error {
	for _, p := range planBindings(bs, rep) {
		rec := strings.Join(p.records, ",")
		key := domain.BindingKey(p.namespace, p.model)
		stored, found, bound, err := s.repo.ModelBinding(ctx, p.namespace, p.model)
		if err != nil {
			return err
		}
		if bound {
			rep.Bindings.Existing++
			rep.add(rec, key, OutcomeExists, "model %s already has a binding; left as it is",
				domain.BindingKey(p.namespace, stored))
			continue
		}
		if found {
			if stored != p.model {
				rep.add(rec, key, OutcomeMapped, "the catalogue names the model %q", stored)
			}
			p.model = stored
			rep.add(rec, key, OutcomeExists, "public model %s exists in the catalogue", domain.BindingKey(p.namespace, stored))
		} else {
			if _, err := s.models.Create(ctx, domain.Model{Namespace: p.namespace, Name: p.model}); err != nil {
				var ve *domain.ValidationError
				if !errors.As(err, &ve) {
					return fmt.Errorf("import model %s: %w", key, err)
				}
				rep.Bindings.Skipped++
				rep.add(rec, key, OutcomeSkipped, "public model not importable: %s", fieldProblems(ve))
				continue
			}
			rep.add(rec, key, OutcomeImported, "public model %s created in the catalogue (kind chat, no prices: "+
				"review it)", key)
		}
		b, left := p.binding()
		if len(left) > 0 {
			rep.add(rec, key, OutcomeMapped, "route groups %s only had disabled abilities: left out of the active "+
				"binding", strings.Join(left, ", "))
		}
		res, err := s.bindings.Create(ctx, b)
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) {
				return fmt.Errorf("import binding %s: %w", key, err)
			}
			rep.Bindings.Skipped++
			rep.add(rec, key, OutcomeSkipped, "binding not importable: %s", fieldProblems(ve))
			continue
		}
		rep.Bindings.Imported++
		outcome := OutcomeImported
		if res.Status == domain.StatusDisabled {
			outcome = OutcomeImportedDisabled
		}
		rep.add(rec, key, outcome, "binding %s (%s, from %d abilities): %s", key, res.Status, len(p.records),
			describeCandidates(res.Candidates))
	}
	return nil
}

// describeCandidates words each candidate and its resolution.
func describeCandidates(cs []domain.ResolvedCandidate) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		r := c.Resolution
		var what string
		switch {
		case r.Status == "ok":
			what = fmt.Sprintf("ok, %d providers", len(r.Upstreams))
		case r.Error == domain.ResolutionNoProvider:
			what = fmt.Sprintf("%s (no active provider of route group %q serves it: add or enable one)", r.Error,
				c.RouteGroup)
		default:
			what = r.Error
			if r.Detail != "" {
				what += " (" + r.Detail + ")"
			}
		}
		parts = append(parts, fmt.Sprintf("route group %q weight %d selector %s %q: %s", c.RouteGroup, c.Weight,
			c.SelectorType, c.SelectorValue, what))
	}
	return strings.Join(parts, "; ")
}
