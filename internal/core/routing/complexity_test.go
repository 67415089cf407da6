package routing_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
)

func TestRegexSelectorComplexityBound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"ordinary_prefix", "^gpt-4o-2024", true},
		{"long_literal_within_bound", strings.Repeat("a", routing.MaxSelectorValueLen), true},
		{"alternation", "^(gpt-4o|gpt-4o-mini|o1|o3)(-\\d{4}-\\d{2}-\\d{2})?$", true},
		{"counted_repetitions_blow_up", "[a-z]{1000}[0-9]{1000}", false},
		{"nested_repetition", "((a|b){30}){30}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := routing.ValidateSelector(domain.SelectorRegex, tc.value)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "regex too complex")
			assert.True(t, strings.HasPrefix(err.Error(), "selector_value: "), "names the field: %v", err)
			res := routing.Resolve(domain.BindingCandidate{RouteGroup: "g", SelectorType: domain.SelectorRegex, SelectorValue: tc.value},
				[]domain.ProviderRef{{ID: 1, Models: []string{"aaa"}}})
			assert.Equal(t, domain.ResolutionConfigError, res.Error, "a stored pathological selector fails its binding only")
			assert.Empty(t, res.Upstreams)
		})
	}
}
