package routing

import (
	"fmt"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// checkEvery is how many selector matches run between two looks at the
// clock: a match is bounded (MaxSelectorProgram) but can take a
// millisecond on a long model id, so the budget is checked often.
const checkEvery = 8

// Budget bounds the time one binding's resolution may take. The write-time
// complexity bound caps the cost of one match; the budget caps the number
// of matches times that cost, which grows with the providers and models of
// the route groups (a regex over thousands of long model ids).
type Budget struct {
	limit    time.Duration
	now      func() time.Time
	deadline time.Time
	n        int
	exceeded bool
}

// NewBudget starts a budget of limit, measured with now; a limit ≤ 0 (or a
// nil now) never runs out.
func NewBudget(limit time.Duration, now func() time.Time) *Budget {
	b := &Budget{limit: limit, now: now}
	if limit > 0 && now != nil {
		b.deadline = now().Add(limit)
	}
	return b
}

// spend accounts for one selector match and reports whether the budget
// still holds.
func (b *Budget) spend() bool {
	if b == nil || b.deadline.IsZero() {
		return true
	}
	if b.exceeded {
		return false
	}
	b.n++
	if b.n%checkEvery == 0 && b.now().After(b.deadline) {
		b.exceeded = true
	}
	return !b.exceeded
}

// Exceeded reports whether the budget ran out.
func (b *Budget) Exceeded() bool { return b != nil && b.exceeded }

// ExceededDetail is the detail of a candidate whose binding ran out of budget.
func (b *Budget) ExceededDetail() string {
	return fmt.Sprintf("resolution exceeded its time budget of %s (sync.binding_resolve_budget) after %d selector matches; "+
		"the binding is published fail-closed: use a simpler selector or fewer providers/models in its route groups", b.limit, b.n)
}

// ResolveBinding resolves every candidate of b against the indexes of its
// route groups (index returns a group's index, built on first use) within
// budget. When the budget runs out the whole binding fails: every candidate
// is a config_error saying so, and exceeded is true. The candidates keep
// their stored selector value; resolution applies WithPublicModel.
func ResolveBinding(b domain.Binding, index func(group string) *Index, groupIDs map[string]int64, budget *Budget) (
	out []domain.ResolvedCandidate, exceeded bool) {
	out = make([]domain.ResolvedCandidate, len(b.Candidates))
	for i, c := range b.Candidates {
		out[i] = domain.ResolvedCandidate{BindingCandidate: c, GroupID: groupIDs[c.RouteGroup]}
		if budget.Exceeded() {
			continue
		}
		out[i].Resolution = index(c.RouteGroup).ResolveWithin(WithPublicModel(c, b.PublicModel), budget)
	}
	if !budget.Exceeded() {
		return out, false
	}
	fail := failure(domain.ResolutionConfigError, budget.ExceededDetail())
	for i := range out {
		out[i].Resolution = fail
	}
	return out, true
}
