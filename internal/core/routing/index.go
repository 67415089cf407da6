package routing

import "github.com/ez-api/ez-api/internal/core/domain"

// Index resolves many candidates against one route group's providers
// without scanning every provider model per candidate: exact and
// normalize_exact selectors are map lookups; regex selectors scan. Its
// results equal Resolve's (FuzzIndexMatchesResolve).
type Index struct {
	providers []domain.ProviderRef
	exact     map[string][]hit
	norm      map[string][]hit
}

type hit struct {
	id    int64
	model string
}

// NewIndex indexes a route group's active providers.
func NewIndex(providers []domain.ProviderRef) *Index {
	x := &Index{providers: providers, exact: map[string][]hit{}, norm: map[string][]hit{}}
	for _, p := range providers {
		for _, m := range p.Models {
			x.exact[m] = append(x.exact[m], hit{p.ID, m})
			if n := Normalize(m); n != "" {
				x.norm[n] = append(x.norm[n], hit{p.ID, m})
			}
		}
	}
	return x
}

// Resolve is Resolve(c, providers) for the indexed providers.
func (x *Index) Resolve(c domain.BindingCandidate) domain.CandidateResolution {
	var found []hit
	switch c.SelectorType {
	case domain.SelectorExact:
		found = x.exact[c.SelectorValue]
	case domain.SelectorNormalizeExact:
		if want := Normalize(c.SelectorValue); want != "" {
			found = x.norm[want]
		}
	default:
		return Resolve(c, x.providers)
	}
	hits := make(map[int64]map[string]struct{}, len(found))
	for _, h := range found {
		set := hits[h.id]
		if set == nil {
			set = map[string]struct{}{}
			hits[h.id] = set
		}
		set[h.model] = struct{}{}
	}
	return conclude(c, hits)
}
