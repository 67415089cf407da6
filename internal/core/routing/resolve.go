// Package routing resolves binding candidates to upstream models under the
// balancer contract's selector rules, which are those of the original
// EZ-API routing.ResolveUpstreamModel (docs/snapshot.md, "Selectors").
package routing

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// MaxSelectorValueLen is the longest selector value accepted, in bytes.
const MaxSelectorValueLen = 512

const (
	statusOK    = "ok"
	statusError = "error"
)

// WithPublicModel returns c as the balancer resolves it for the public model
// it belongs to: a selector value that is empty after trimming stands for the
// public model itself.
func WithPublicModel(c domain.BindingCandidate, publicModel string) domain.BindingCandidate {
	if strings.TrimSpace(c.SelectorValue) == "" {
		c.SelectorValue = publicModel
	}
	return c
}

// Resolve resolves one binding candidate against the active providers of its
// route group (the caller passes only those). Per provider it applies the
// original ResolveUpstreamModel: the selector value is trimmed, an empty type
// means exact, model ids are compared trimmed, and a provider whose models
// the selector hits more than once makes the candidate a config error. Pure
// function; callers pass the candidate through WithPublicModel first.
func Resolve(c domain.BindingCandidate, providers []domain.ProviderRef) domain.CandidateResolution {
	return resolveWithin(c, providers, nil)
}

// resolveWithin is Resolve spending budget per selector match (nil: no
// budget); a budget that runs out makes the candidate a config error.
func resolveWithin(c domain.BindingCandidate, providers []domain.ProviderRef, budget *Budget) domain.CandidateResolution {
	sel, err := newSelector(c.SelectorType, c.SelectorValue)
	if err != nil {
		return failure(domain.ResolutionConfigError, err.Error())
	}

	// Models per provider id in the order given: a provider id listed twice
	// is one provider serving both lists.
	var order []int64
	models := make(map[int64][]string, len(providers))
	for _, p := range providers {
		if _, seen := models[p.ID]; !seen {
			order = append(order, p.ID)
		}
		models[p.ID] = append(models[p.ID], p.Models...)
	}

	hits := make(map[int64][]string, len(order))
	for _, id := range order {
		h, ok := sel.hits(models[id], budget)
		if !ok {
			return failure(domain.ResolutionConfigError, budget.ExceededDetail())
		}
		if len(h) > 0 {
			hits[id] = h
		}
	}
	return conclude(c, sel, hits)
}

// selector is a candidate's selector in the form resolution applies it.
type selector struct {
	typ   domain.SelectorType // never empty: "" has become exact
	value string              // trimmed
	re    *regexp.Regexp      // regex only
	want  string              // normalize_exact only: NormalizeModelID(value)
}

func newSelector(t domain.SelectorType, value string) (selector, error) {
	s := selector{typ: t, value: strings.TrimSpace(value)}
	if s.value == "" {
		return s, errors.New("selector_value: missing (empty after trimming, and no public model to fall back on)")
	}
	switch t {
	case "", domain.SelectorExact:
		s.typ = domain.SelectorExact
	case domain.SelectorRegex:
		re, err := compiled.get(s.value)
		if err != nil {
			return s, err
		}
		s.re = re
	case domain.SelectorNormalizeExact:
		s.want = NormalizeModelID(s.value)
	default:
		return s, unknownTypeError(t)
	}
	return s, nil
}

// hits returns the trimmed model ids of one provider the selector hits, in
// list order. exact stops at its first hit, as the original does, so a model
// listed twice is one hit; regex and normalize_exact count every listed entry.
// A regex match spends budget; ok is false when it ran out.
func (s selector) hits(models []string, budget *Budget) (out []string, ok bool) {
	for _, m := range models {
		m = strings.TrimSpace(m)
		switch s.typ {
		case domain.SelectorExact:
			if m == s.value {
				return []string{m}, true
			}
		case domain.SelectorRegex:
			if m == "" {
				continue
			}
			if !budget.spend() {
				return nil, false
			}
			if s.re.MatchString(m) {
				out = append(out, m)
			}
		case domain.SelectorNormalizeExact:
			if m != "" && NormalizeModelID(m) == s.want {
				out = append(out, m)
			}
		}
	}
	return out, true
}

// conclude turns the models the selector hit per provider into the
// resolution: several hits on a provider is a config error, none anywhere
// is no_provider.
func conclude(c domain.BindingCandidate, sel selector, hits map[int64][]string) domain.CandidateResolution {
	// Walk providers in id order so the reported conflict does not depend on
	// the caller's order.
	ids := make([]int64, 0, len(hits))
	for id := range hits {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	upstreams := make(map[int64]string, len(ids))
	for _, id := range ids {
		models := hits[id]
		if len(models) > 1 {
			models = slices.Clone(models)
			slices.Sort(models)
			return failure(domain.ResolutionConfigError, fmt.Sprintf(
				"%s selector %q matches %d models of provider %d, want exactly one: %s",
				sel.typ, sel.value, len(models), id, quoteJoin(models)))
		}
		upstreams[id] = models[0]
	}

	if len(upstreams) == 0 {
		return failure(domain.ResolutionNoProvider, fmt.Sprintf(
			"no active provider in route group %q serves a model matching %s selector %q",
			c.RouteGroup, sel.typ, sel.value))
	}
	return domain.CandidateResolution{Status: statusOK, Upstreams: upstreams}
}

// NormalizeModelID is the normalize_exact form of a model id, as the
// original's: lower-cased and trimmed, then only the part after the last '/'
// when something follows it ("moonshot/kimi2" → "kimi2", but "kimi/" stays
// "kimi/"), trimmed again.
func NormalizeModelID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && i+1 < len(s) {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// ValidateSelector checks a selector on its own, as at write time; its error
// message is safe to show to API clients. An empty value is valid: it stands
// for the binding's public model; an empty type is exact.
func ValidateSelector(t domain.SelectorType, value string) error {
	if t != "" && !knownType(t) {
		return unknownTypeError(t)
	}
	if len(value) > MaxSelectorValueLen {
		return fmt.Errorf("selector_value: must be at most %d bytes, got %d", MaxSelectorValueLen, len(value))
	}
	if t == domain.SelectorRegex {
		if v := strings.TrimSpace(value); v != "" {
			if _, err := compile(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxSelectorProgram bounds a regex selector's compiled program, in
// instructions: matching one model id then costs a bounded amount of work
// however the pattern is written (nested counted repetitions can blow a
// short pattern up to a huge program).
const MaxSelectorProgram = 2000

func compile(value string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(value)
	if err == nil {
		if n := programSize(value); n > MaxSelectorProgram {
			return nil, fmt.Errorf("selector_value: regex too complex: compiles to %d instructions, at most %d allowed", n, MaxSelectorProgram)
		}
		return re, nil
	}
	// Drop the "error parsing regexp:" prefix the syntax package adds.
	var se *syntax.Error
	if errors.As(err, &se) {
		if se.Expr != "" {
			return nil, fmt.Errorf("selector_value: invalid regex: %s: %q", se.Code, se.Expr)
		}
		return nil, fmt.Errorf("selector_value: invalid regex: %s", se.Code)
	}
	return nil, fmt.Errorf("selector_value: invalid regex: %v", err)
}

func knownType(t domain.SelectorType) bool {
	switch t {
	case domain.SelectorExact, domain.SelectorRegex, domain.SelectorNormalizeExact:
		return true
	}
	return false
}

func unknownTypeError(t domain.SelectorType) error {
	return fmt.Errorf("selector_type: unknown selector type %q, want %s, %s or %s",
		string(t), domain.SelectorExact, domain.SelectorRegex, domain.SelectorNormalizeExact)
}

func failure(code, detail string) domain.CandidateResolution {
	return domain.CandidateResolution{Status: statusError, Error: code, Detail: detail}
}

func quoteJoin(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// programSize is the number of instructions value compiles to (as
// regexp.Compile does: Perl syntax, simplified); value is known to parse.
func programSize(value string) int {
	re, err := syntax.Parse(value, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(prog.Inst)
}

// Hits reports whether candidate c (passed through WithPublicModel) hits
// any of models, as Resolve would count a provider serving them, spending
// budget per match. A selector that cannot resolve (a config error) hits
// nothing: its resolution does not depend on any provider. A budget that
// runs out counts as a hit, so the caller resolves the binding in full,
// where the same budget publishes it fail-closed.
func Hits(c domain.BindingCandidate, models []string, budget *Budget) bool {
	sel, err := newSelector(c.SelectorType, c.SelectorValue)
	if err != nil {
		return false
	}
	h, ok := sel.hits(models, budget)
	return !ok || len(h) > 0
}
