package routing

import (
	"strings"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// Index resolves many candidates against one route group's providers
// without scanning every provider model per candidate: exact and
// normalize_exact selectors are map lookups; regex selectors scan. Its
// results equal Resolve's (FuzzIndexMatchesResolve).
type Index struct {
	providers []domain.ProviderRef
	exact     map[string][]hit // trimmed model id → entries, in provider then list order
	norm      map[string][]hit // NormalizeModelID of the trimmed id → entries
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
			m = strings.TrimSpace(m)
			if m == "" {
				continue // no selector (trimmed, non-empty) hits an empty id
			}
			x.exact[m] = append(x.exact[m], hit{p.ID, m})
			n := NormalizeModelID(m)
			x.norm[n] = append(x.norm[n], hit{p.ID, m})
		}
	}
	return x
}

// Resolve is Resolve(c, providers) for the indexed providers.
func (x *Index) Resolve(c domain.BindingCandidate) domain.CandidateResolution {
	return x.ResolveWithin(c, nil)
}

// ResolveWithin is Resolve spending budget on every regex match (exact
// and normalize_exact are map lookups and cost none); when the budget runs
// out the candidate is a config error saying so. A nil budget never runs out.
func (x *Index) ResolveWithin(c domain.BindingCandidate, budget *Budget) domain.CandidateResolution {
	sel, err := newSelector(c.SelectorType, c.SelectorValue)
	if err != nil {
		return failure(domain.ResolutionConfigError, err.Error())
	}
	hits := map[int64][]string{}
	switch sel.typ {
	case domain.SelectorExact:
		// The original returns a provider's first exact hit.
		for _, h := range x.exact[sel.value] {
			if _, ok := hits[h.id]; !ok {
				hits[h.id] = []string{h.model}
			}
		}
	case domain.SelectorNormalizeExact:
		for _, h := range x.norm[sel.want] {
			hits[h.id] = append(hits[h.id], h.model)
		}
	default:
		return resolveWithin(c, x.providers, budget)
	}
	return conclude(c, sel, hits)
}
