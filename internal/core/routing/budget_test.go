package routing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
)

// steppingClock advances by step on every reading.
type steppingClock struct {
	t    time.Time
	step time.Duration
	n    int
}

func (c *steppingClock) now() time.Time { c.n++; c.t = c.t.Add(c.step); return c.t }

func manyProviders(n, models int) []domain.ProviderRef {
	out := make([]domain.ProviderRef, n)
	for i := range out {
		out[i].ID = int64(i + 1)
		for j := range models {
			out[i].Models = append(out[i].Models, fmt.Sprintf("model-%d-%d", i, j))
		}
	}
	return out
}

func TestBudget(t *testing.T) {
	t.Parallel()
	idx := routing.NewIndex(manyProviders(50, 20))
	index := func(string) *routing.Index { return idx }
	b := domain.Binding{PublicModel: "m", Candidates: []domain.BindingCandidate{
		{RouteGroup: "g", SelectorType: domain.SelectorExact, SelectorValue: "model-3-4"},
		{RouteGroup: "g", SelectorType: domain.SelectorRegex, SelectorValue: "^model-7-1$"},
	}}

	t.Run("a_binding_within_its_budget_resolves", func(t *testing.T) {
		t.Parallel()
		clock := &steppingClock{t: time.Unix(0, 0), step: time.Microsecond}
		got, exceeded := routing.ResolveBinding(b, index, map[string]int64{"g": 9}, routing.NewBudget(time.Second, clock.now))
		require.False(t, exceeded)
		assert.Equal(t, map[int64]string{4: "model-3-4"}, got[0].Resolution.Upstreams)
		assert.Equal(t, map[int64]string{8: "model-7-1"}, got[1].Resolution.Upstreams)
		assert.Equal(t, int64(9), got[1].GroupID)
		assert.Less(t, clock.n, 1000/4, "the clock is read every few matches, not on every one")
	})

	t.Run("running_out_fails_every_candidate_of_the_binding", func(t *testing.T) {
		t.Parallel()
		clock := &steppingClock{t: time.Unix(0, 0), step: time.Millisecond}
		got, exceeded := routing.ResolveBinding(b, index, nil, routing.NewBudget(5*time.Millisecond, clock.now))
		require.True(t, exceeded)
		for _, c := range got {
			assert.Equal(t, domain.ResolutionConfigError, c.Resolution.Error)
			assert.Contains(t, c.Resolution.Detail, "time budget of 5ms")
			assert.Empty(t, c.Resolution.Upstreams)
		}
		assert.Equal(t, "model-3-4", got[0].SelectorValue, "the candidates are reported as stored")
	})

	t.Run("no_budget_never_runs_out", func(t *testing.T) {
		t.Parallel()
		_, exceeded := routing.ResolveBinding(b, index, nil, routing.NewBudget(0, nil))
		assert.False(t, exceeded)
	})
}
