// Package routing resolves binding candidates to upstream models under the
// balancer contract's selector rules.
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

// Resolve resolves one binding candidate against the active providers of its
// route group (the caller passes only those). Pure function.
func Resolve(c domain.BindingCandidate, providers []domain.ProviderRef) domain.CandidateResolution {
	match, err := matcher(c.SelectorType, c.SelectorValue)
	if err != nil {
		return failure(domain.ResolutionConfigError, err.Error())
	}

	// Hits per provider id as a set, so a model listed twice counts once and
	// a provider id listed twice is treated as one provider.
	hits := make(map[int64]map[string]struct{}, len(providers))
	for _, p := range providers {
		set := hits[p.ID]
		for _, m := range p.Models {
			if !match(m) {
				continue
			}
			if set == nil {
				set = map[string]struct{}{}
				hits[p.ID] = set
			}
			set[m] = struct{}{}
		}
	}

	return conclude(c, hits)
}

// conclude turns the models each provider's selector hit into the
// resolution: several hits on a provider is a config error, none anywhere
// is no_provider.
func conclude(c domain.BindingCandidate, hits map[int64]map[string]struct{}) domain.CandidateResolution {
	// Walk providers in id order so the reported conflict does not depend on
	// the caller's order.
	ids := make([]int64, 0, len(hits))
	for id := range hits {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	upstreams := make(map[int64]string, len(ids))
	for _, id := range ids {
		set := hits[id]
		if len(set) > 1 {
			models := make([]string, 0, len(set))
			for m := range set {
				models = append(models, m)
			}
			slices.Sort(models)
			return failure(domain.ResolutionConfigError, fmt.Sprintf(
				"%s selector %q matches %d models of provider %d, want exactly one: %s",
				c.SelectorType, c.SelectorValue, len(models), id, quoteJoin(models)))
		}
		for m := range set {
			upstreams[id] = m
		}
	}

	if len(upstreams) == 0 {
		return failure(domain.ResolutionNoProvider, fmt.Sprintf(
			"no active provider in route group %q serves a model matching %s selector %q",
			c.RouteGroup, c.SelectorType, c.SelectorValue))
	}
	return domain.CandidateResolution{Status: statusOK, Upstreams: upstreams}
}

// Normalize is the normalize_exact form: lower-cased, trimmed, only the part after the last '/'.
func Normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// ValidateSelector checks a selector on its own, as at write time; its error
// message is safe to show to API clients.
func ValidateSelector(t domain.SelectorType, value string) error {
	if !knownType(t) {
		return unknownTypeError(t)
	}
	if value == "" {
		return errors.New("selector_value: must not be empty")
	}
	if len(value) > MaxSelectorValueLen {
		return fmt.Errorf("selector_value: must be at most %d bytes, got %d", MaxSelectorValueLen, len(value))
	}
	if t == domain.SelectorNormalizeExact && Normalize(value) == "" {
		return errors.New(`selector_value: normalizes to an empty model id (nothing after the last "/")`)
	}
	if t == domain.SelectorRegex {
		if _, err := compile(value); err != nil {
			return err
		}
	}
	return nil
}

// matcher returns the predicate a selector applies to upstream model ids.
func matcher(t domain.SelectorType, value string) (func(string) bool, error) {
	switch t {
	case domain.SelectorExact:
		return func(m string) bool { return m == value }, nil
	case domain.SelectorRegex:
		re, err := compile(value)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	case domain.SelectorNormalizeExact:
		want := Normalize(value)
		// An empty normalized selector would otherwise match every model id
		// ending in "/", which nobody means.
		return func(m string) bool { return want != "" && Normalize(m) == want }, nil
	default:
		return nil, unknownTypeError(t)
	}
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
