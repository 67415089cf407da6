package imports

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
)

func TestPlanBindings(t *testing.T) {
	t.Parallel()
	var rep Report
	plans := planBindings([]Binding{
		{Namespace: "default", RouteGroup: "default", Model: "gpt-4o", Status: "active"},
		{Namespace: "default", RouteGroup: "vip", Model: " GPT-4o ", Status: "disabled"},
		{Namespace: "default", RouteGroup: "default", Model: "gpt-4o", Status: "active"},
		{Namespace: "", RouteGroup: "", Model: "m", Status: "disabled"},
		{Namespace: "Team", RouteGroup: "g", Model: "x", Status: "weird"},
		{Namespace: "no spaces", RouteGroup: "g", Model: "x", Status: "active"},
		{Namespace: "default", RouteGroup: "g", Model: " ", Status: "active"},
	}, &rep)
	require.Len(t, plans, 3)
	assert.Equal(t, 2, rep.Bindings.Skipped)

	b, left := plans[0].binding()
	assert.Equal(t, []string{"bindings[0]", "bindings[1]", "bindings[2]"}, plans[0].records)
	assert.Equal(t, domain.StatusActive, b.Status)
	assert.Equal(t, []string{"vip"}, left, "a group with only disabled abilities stays out of an active binding")
	assert.Equal(t, []domain.BindingCandidate{{RouteGroup: "default", Weight: candidateWeight,
		SelectorType: domain.SelectorExact, SelectorValue: "gpt-4o"}}, b.Candidates)

	b, left = plans[1].binding()
	assert.Equal(t, domain.StatusDisabled, b.Status, "only disabled abilities: a disabled binding")
	assert.Empty(t, left)
	assert.Equal(t, domain.BindingKey(domain.DefaultNamespace, "m"), b.Key())
	assert.Equal(t, domain.DefaultGroup, b.Candidates[0].RouteGroup)

	b, _ = plans[2].binding()
	assert.Equal(t, "team", b.Namespace)
	assert.Equal(t, domain.StatusDisabled, b.Status, "an unknown status counts as disabled")
}
