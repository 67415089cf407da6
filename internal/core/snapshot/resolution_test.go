package snapshot_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

func TestBuildFailsOnlyTheBindingThatRunsOutOfBudget(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	data := ports.SnapshotData{Version: 42, GroupIDs: map[string]int64{"g": 1}, Features: map[string]string{}}
	for i := range 40 {
		p := domain.Provider{ID: int64(i + 1), Name: fmt.Sprint("p", i), Type: "openai", Group: "g", GroupID: 1,
			Status: domain.ProviderActive}
		for j := range 50 {
			p.Models = append(p.Models, fmt.Sprintf("model-%d-%d", i, j))
		}
		data.Providers = append(data.Providers, p)
	}
	data.Models = []domain.Model{{ID: 1, Namespace: "default", Name: "fast"}, {ID: 2, Namespace: "default", Name: "slow"}}
	data.Bindings = []domain.Binding{
		{ID: 1, ModelID: 1, Namespace: "default", PublicModel: "fast", Status: domain.StatusActive, UpdatedAt: now,
			Candidates: []domain.BindingCandidate{{RouteGroup: "g", SelectorType: domain.SelectorExact, SelectorValue: "model-3-3"}}},
		{ID: 2, ModelID: 2, Namespace: "default", PublicModel: "slow", Status: domain.StatusActive, UpdatedAt: now,
			Candidates: []domain.BindingCandidate{{RouteGroup: "g", SelectorType: domain.SelectorRegex, SelectorValue: "^none$"}}},
	}
	// Every clock reading is a millisecond later: exact selectors (map
	// lookups) never read it, the regex over 2,000 ids runs out at 10 ms.
	clock := now
	tick := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	s, err := snapshot.BuildWithin(data, func(int64, []byte) (string, error) { return "", nil }, now,
		snapshot.Resolver{Budget: 10 * time.Millisecond, Now: tick})
	require.NoError(t, err)

	var fast, slow snapshot.BindingJSON
	require.NoError(t, json.Unmarshal([]byte(s.Sections[snapshot.KeyBindings]["default.fast"]), &fast))
	require.NoError(t, json.Unmarshal([]byte(s.Sections[snapshot.KeyBindings]["default.slow"]), &slow))
	assert.Equal(t, "ok", fast.Candidates[0].Status)
	assert.Equal(t, map[string]string{"4": "model-3-3"}, fast.Candidates[0].Upstreams)
	assert.Equal(t, "error", slow.Candidates[0].Status)
	assert.Equal(t, domain.ResolutionConfigError, slow.Candidates[0].Error)
	assert.Equal(t, []domain.SnapshotFault{{Resource: snapshot.KeyBindings, Field: "default.slow", Reason: snapshot.FaultResolveBudget}}, s.Faults)
	assert.Equal(t, 1, s.BudgetExceeded())

	require.Len(t, s.Resolutions, 2, "every binding's resolution, to store once published")
	for _, r := range s.Resolutions {
		assert.Equal(t, int64(42), r.Version)
	}
	assert.Contains(t, s.Resolutions[1].Candidates[0].Resolution.Detail, "time budget")
}
