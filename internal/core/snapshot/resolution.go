package snapshot

import (
	"sort"
	"strconv"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
)

// FaultResolveBudget is the reason of a binding whose resolution exceeded
// its time budget: it is published fail-closed (every candidate a
// config_error) and the rest of the build goes on.
const FaultResolveBudget = "resolve_budget_exceeded"

// Resolver resolves bindings for the snapshot, each within a time budget
// (zero: none), measured with Now.
type Resolver struct {
	Budget time.Duration
	Now    func() time.Time
}

// resolved is what resolving some bindings produced: their resolutions (to
// store once Redis has them) and the bindings that ran out of budget.
type resolved struct {
	resolutions []domain.BindingResolution
	faults      []domain.SnapshotFault
}

// binding resolves b against its route groups' indexes.
func (r Resolver) binding(b domain.Binding, index func(string) *routing.Index, groupIDs map[string]int64, out *resolved) []domain.ResolvedCandidate {
	cs, exceeded := routing.ResolveBinding(b, index, groupIDs, routing.NewBudget(r.Budget, r.Now))
	if exceeded {
		out.faults = append(out.faults, domain.SnapshotFault{Resource: KeyBindings, Field: b.Key(), Reason: FaultResolveBudget})
	}
	at := time.Time{}
	if r.Now != nil {
		at = r.Now()
	}
	out.resolutions = append(out.resolutions, domain.BindingResolution{BindingID: b.ID, Candidates: cs, ResolvedAt: at})
	return cs
}

// indexes builds each route group's index on first use.
func indexes(refs map[string][]domain.ProviderRef) func(string) *routing.Index {
	built := map[string]*routing.Index{}
	return func(group string) *routing.Index {
		idx := built[group]
		if idx == nil {
			idx = routing.NewIndex(refs[group])
			built[group] = idx
		}
		return idx
	}
}

// BudgetExceeded is the number of bindings of the state that ran out of
// their resolution budget when it was computed.
func (s *State) BudgetExceeded() int { return s.budgetExceeded }

// sortFaults orders faults by hash, then field (numerically for ids).
func sortFaults(fs []domain.SnapshotFault) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Resource != fs[j].Resource {
			return fs[i].Resource < fs[j].Resource
		}
		a, aerr := strconv.ParseInt(fs[i].Field, 10, 64)
		b, berr := strconv.ParseInt(fs[j].Field, 10, 64)
		if aerr == nil && berr == nil {
			return a < b
		}
		return fs[i].Field < fs[j].Field
	})
}
