package routing_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
)

// The index is an optimisation only: for any candidate and providers it
// answers exactly what Resolve answers.
func FuzzIndexMatchesResolve(f *testing.F) {
	f.Add("exact", "gpt-4o", "gpt-4o", "openai/GPT-4o", "gpt-4o-mini")
	f.Add("normalize_exact", " OpenAI/GPT-4o ", "gpt-4o", "models/gpt-4o", "x")
	f.Add("regex", "^gpt", "gpt-4o", "gpt-4o-mini", "claude")
	f.Add("normalize_exact", "a/b/", "b", "a/b", "")
	f.Add("exact", "", "", "x", "y")
	f.Add("exact", " x ", " x", "x ", "x")
	f.Add("normalize_exact", "kimi/", "KIMI/", "a/kimi/", "kimi")
	f.Fuzz(func(t *testing.T, typ, value, m1, m2, m3 string) {
		c := domain.BindingCandidate{RouteGroup: "g", SelectorType: domain.SelectorType(typ), SelectorValue: value}
		providers := []domain.ProviderRef{{ID: 2, Models: []string{m1, m2}}, {ID: 1, Models: []string{m3, m1}}, {ID: 3, Models: []string{m2}}}
		want := routing.Resolve(c, providers)
		got := routing.NewIndex(providers).Resolve(c)
		assert.Equal(t, want.Status, got.Status)
		assert.Equal(t, want.Error, got.Error)
		assert.Equal(t, want.Detail, got.Detail)
		if len(want.Upstreams) > 0 || len(got.Upstreams) > 0 {
			assert.Equal(t, want.Upstreams, got.Upstreams)
		}
	})
}

func TestIndexMatchesResolve(t *testing.T) {
	t.Parallel()
	providers := []domain.ProviderRef{
		{ID: 1, Models: []string{"gpt-4o", "gpt-4o-mini", "openai/GPT-4o"}},
		{ID: 2, Models: []string{"Models/gpt-4o"}},
		{ID: 3, Models: []string{"claude-sonnet"}},
	}
	x := routing.NewIndex(providers)
	for _, c := range []domain.BindingCandidate{
		{SelectorType: domain.SelectorExact, SelectorValue: "gpt-4o"},
		{SelectorType: domain.SelectorExact, SelectorValue: "nope"},
		{SelectorType: domain.SelectorNormalizeExact, SelectorValue: "GPT-4o"},
		{SelectorType: domain.SelectorNormalizeExact, SelectorValue: "claude-sonnet"},
		{SelectorType: domain.SelectorRegex, SelectorValue: "sonnet$"},
		{SelectorType: "glob", SelectorValue: "x"},
	} {
		assert.Equal(t, routing.Resolve(c, providers), x.Resolve(c), "%s %q", c.SelectorType, c.SelectorValue)
	}
}
