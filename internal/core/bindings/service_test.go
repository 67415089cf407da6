package bindings_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/bindings"
	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports/fakes"
)

type fixture struct {
	svc       *bindings.Service
	repo      *fakes.Bindings
	models    *fakes.Models
	providers *fakes.Providers
	groups    *fakes.RouteGroups
	changes   *fakes.Changes
	audit     *fakes.Audit
	stored    *fakes.BindingResolutions
}

var now = time.Unix(1000, 0).UTC()

func newFixture() fixture {
	models, groups := fakes.NewModels(), fakes.NewRouteGroups()
	f := fixture{repo: fakes.NewBindings(models), models: models, providers: fakes.NewProviders(groups), groups: groups,
		changes: &fakes.Changes{}, audit: &fakes.Audit{}}
	f.stored = fakes.NewBindingResolutions(f.repo)
	clock := &fakes.Clock{T: now}
	mut := changes.NewMutator(fakes.TxRunner{}, f.audit, f.changes, clock, nil)
	f.svc = bindings.NewService(f.repo, models, f.providers, groups, f.stored, mut, clock, bindings.Policy{ResolveBudget: time.Second})
	return f
}

// addModel puts namespace.name in the catalogue.
func (f fixture) addModel(t *testing.T, namespace, name string) domain.Model {
	t.Helper()
	m, err := f.models.Create(context.Background(), domain.Model{Namespace: namespace, Name: name,
		Kind: domain.ModelChat, Status: domain.StatusActive, CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	return m
}

// addProvider stores a provider serving models in group.
func (f fixture) addProvider(t *testing.T, name, group string, status domain.ProviderStatus, models ...string) domain.Provider {
	t.Helper()
	ctx := context.Background()
	ids, err := f.groups.Ensure(ctx, []string{group})
	require.NoError(t, err)
	id, err := f.providers.NextID(ctx)
	require.NoError(t, err)
	p, err := f.providers.Create(ctx, domain.Provider{ID: id, Name: name, Type: "openai", GroupID: ids[group],
		Models: models, Status: status, CreatedAt: now}, nil)
	require.NoError(t, err)
	return p
}

func exact(group, model string) domain.BindingCandidate {
	return domain.BindingCandidate{RouteGroup: group, Weight: 1, SelectorType: domain.SelectorExact, SelectorValue: model}
}

func TestCreateRejectsInvalidBindings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		binding domain.Binding
		field   string
	}{
		{"rejects_a_model_not_in_the_catalogue",
			domain.Binding{PublicModel: "nope", Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}}, "public_model"},
		{"rejects_a_model_of_another_namespace",
			domain.Binding{Namespace: "acme", PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}}, "public_model"},
		{"rejects_an_invalid_regex",
			domain.Binding{PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{{RouteGroup: "g1",
				SelectorType: domain.SelectorRegex, SelectorValue: "gpt-(4o"}}}, "candidates.0"},
		{"rejects_an_unknown_selector_type",
			domain.Binding{PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o"),
				{RouteGroup: "g1", SelectorType: "glob", SelectorValue: "gpt-*"}}}, "candidates.1"},
		{"rejects_a_negative_weight",
			domain.Binding{PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{{RouteGroup: "g1", Weight: -1,
				SelectorType: domain.SelectorExact, SelectorValue: "gpt-4o"}}}, "candidates.0.weight"},
		{"rejects_no_candidates", domain.Binding{PublicModel: "gpt-4o"}, "candidates"},
		{"rejects_an_unknown_status",
			domain.Binding{PublicModel: "gpt-4o", Status: "paused", Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}}, "status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture()
			f.addModel(t, domain.DefaultNamespace, "gpt-4o")
			_, err := f.svc.Create(ctx, tc.binding)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Fields, 1)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
			assert.Empty(t, f.changes.Recorded(), "no change recorded")
			assert.Empty(t, f.audit.Entries, "nothing audited")
			stored, err := f.repo.List(ctx, domain.BindingFilter{}, domain.Page{Limit: 10})
			require.NoError(t, err)
			assert.Empty(t, stored)
		})
	}

	t.Run("a_second_binding_of_a_model_is_conflict", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		f := newFixture()
		f.addModel(t, domain.DefaultNamespace, "gpt-4o")
		b := domain.Binding{PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}}
		_, err := f.svc.Create(ctx, b)
		require.NoError(t, err)
		_, err = f.svc.Create(ctx, b)
		assert.ErrorIs(t, err, domain.ErrConflict)
		assert.Len(t, f.changes.Recorded(), 1)
	})
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	f.addModel(t, domain.DefaultNamespace, "gpt-4o")
	p1 := f.addProvider(t, "p1", "g1", domain.ProviderActive, "gpt-4o", "gpt-4o-mini")
	p2 := f.addProvider(t, "p2", "g1", domain.ProviderActive, "openai/gpt-4o")
	f.addProvider(t, "p3", "g1", domain.ProviderDisabled, "gpt-4o")
	f.addProvider(t, "banned", "only-banned", domain.ProviderBanned, "gpt-4o")

	created, err := f.svc.Create(ctx, domain.Binding{PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{
		{RouteGroup: "g1", Weight: 3, SelectorType: domain.SelectorNormalizeExact, SelectorValue: "gpt-4o"},
		exact("empty", "gpt-4o"),
		exact("only-banned", "gpt-4o"),
		{RouteGroup: "g1", SelectorType: domain.SelectorRegex, SelectorValue: "^gpt-4o"},
	}})
	require.NoError(t, err)
	ids, err := f.groups.Lookup(ctx, []string{"g1", "empty", "only-banned"})
	require.NoError(t, err)
	require.Len(t, ids, 3, "creating the binding ensured every route group")

	cases := []struct {
		name      string
		index     int
		group     string
		err       string
		upstreams map[int64]string
	}{
		{"reports_the_upstream_of_each_active_provider", 0, "g1", "",
			map[int64]string{p1.ID: "gpt-4o", p2.ID: "openai/gpt-4o"}},
		{"reports_no_provider_for_an_empty_group", 1, "empty", domain.ResolutionNoProvider, nil},
		{"reports_no_provider_when_no_provider_is_active", 2, "only-banned", domain.ResolutionNoProvider, nil},
		{"reports_config_error_when_a_selector_matches_twice", 3, "g1", domain.ResolutionConfigError, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := created.Candidates[tc.index]
			assert.Equal(t, ids[tc.group], c.GroupID)
			assert.Equal(t, tc.group, c.RouteGroup)
			if tc.err == "" {
				assert.Equal(t, "ok", c.Resolution.Status)
				assert.Equal(t, tc.upstreams, c.Resolution.Upstreams)
				return
			}
			assert.Equal(t, "error", c.Resolution.Status)
			assert.Equal(t, tc.err, c.Resolution.Error)
			assert.NotEmpty(t, c.Resolution.Detail)
		})
	}
}

func TestReadsServeTheStoredResolution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	f.addModel(t, domain.DefaultNamespace, "gpt-4o")
	p1 := f.addProvider(t, "p1", "g1", domain.ProviderActive, "gpt-4o")
	p2 := f.addProvider(t, "p2", "g1", domain.ProviderActive, "gpt-4o")
	b, err := f.svc.Create(ctx, domain.Binding{PublicModel: "gpt-4o", Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}})
	require.NoError(t, err)
	assert.Equal(t, map[int64]string{p1.ID: "gpt-4o", p2.ID: "gpt-4o"}, b.Candidates[0].Resolution.Upstreams)
	recorded := f.changes.Recorded()
	require.Len(t, recorded, 1)
	assert.Equal(t, domain.ResolutionStored, b.Source, "the write stores the resolution it computed")
	// The change has no config version inside its transaction (the
	// publisher assigns it after the commit): the write saves version 0,
	// which the PostgreSQL store turns into the newest version assigned so
	// far (the fake keeps it as is).
	assert.Zero(t, b.Version, "saved below the version the change will get")

	// A provider changes: reads do not resolve again, they serve what is
	// stored until the publisher stores the recomputed resolution.
	p2.Status = domain.ProviderDisabled
	_, err = f.providers.Update(ctx, p2, false, nil)
	require.NoError(t, err)
	got, err := f.svc.Get(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.ResolutionStored, got.Source)
	assert.Equal(t, map[int64]string{p1.ID: "gpt-4o", p2.ID: "gpt-4o"}, got.Candidates[0].Resolution.Upstreams)

	republished := domain.BindingResolution{BindingID: b.ID, Version: b.Version + 1, ResolvedAt: now,
		Candidates: []domain.ResolvedCandidate{{BindingCandidate: b.Candidates[0].BindingCandidate, GroupID: b.Candidates[0].GroupID,
			Resolution: domain.CandidateResolution{Status: "ok", Upstreams: map[int64]string{p1.ID: "gpt-4o"}}}}}
	require.NoError(t, f.stored.SaveResolutions(ctx, []domain.BindingResolution{republished}))
	list, _, err := f.svc.List(ctx, domain.BindingFilter{}, domain.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, map[int64]string{p1.ID: "gpt-4o"}, list[0].Candidates[0].Resolution.Upstreams)
	assert.Equal(t, b.Version+1, list[0].Version)

	// An older resolution never replaces a newer one.
	require.NoError(t, f.stored.SaveResolutions(ctx, []domain.BindingResolution{{BindingID: b.ID, Version: b.Version,
		Candidates: b.Candidates, ResolvedAt: now}}))
	got, err = f.svc.Get(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, b.Version+1, got.Version)
}

func TestABindingWithNoStoredResolutionIsResolvedForTheReadAndSaysSo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	m := f.addModel(t, domain.DefaultNamespace, "gpt-4o")
	p1 := f.addProvider(t, "p1", "g1", domain.ProviderActive, "gpt-4o")
	// Written around the use-case (as before stored resolutions existed).
	b, err := f.repo.Create(ctx, domain.Binding{ModelID: m.ID, Status: domain.StatusActive,
		Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}, CreatedAt: now})
	require.NoError(t, err)
	got, err := f.svc.Get(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.ResolutionComputed, got.Source)
	assert.Zero(t, got.Version)
	assert.Equal(t, map[int64]string{p1.ID: "gpt-4o"}, got.Candidates[0].Resolution.Upstreams)

	// A stored resolution computed for other candidates is not served.
	require.NoError(t, f.stored.SaveResolutions(ctx, []domain.BindingResolution{{BindingID: b.ID, Version: 1,
		Candidates: []domain.ResolvedCandidate{{BindingCandidate: exact("g1", "other")}}}}))
	got, err = f.svc.Get(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.ResolutionComputed, got.Source)
}

func TestARunawayRegexFailsItsBindingWithinTheBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	models, groups := fakes.NewModels(), fakes.NewRouteGroups()
	f := fixture{repo: fakes.NewBindings(models), models: models, providers: fakes.NewProviders(groups), groups: groups,
		changes: &fakes.Changes{}, audit: &fakes.Audit{}}
	f.stored = fakes.NewBindingResolutions(f.repo)
	clock := &fakes.Clock{T: now}
	mut := changes.NewMutator(fakes.TxRunner{}, f.audit, f.changes, clock, nil)
	f.svc = bindings.NewService(f.repo, models, f.providers, groups, f.stored, mut, clock, bindings.Policy{ResolveBudget: time.Millisecond})
	f.addModel(t, domain.DefaultNamespace, "slow")
	var ids []string
	for i := range 200 {
		ids = append(ids, "vendor-model-"+strconv.Itoa(i)+"-abcdefghijklmnopqrstuvwxyz-0123456789-instruct-preview")
	}
	for i := range 20 {
		f.addProvider(t, "p"+strconv.Itoa(i), "slow", domain.ProviderActive, ids...)
	}
	// Within the write-time bound, but about a millisecond per model id.
	const pattern = `(?:[a-z0-9-]{0,3}x?){1,60}zzz-never`
	b, err := f.svc.Create(ctx, domain.Binding{PublicModel: "slow", Candidates: []domain.BindingCandidate{
		{RouteGroup: "slow", SelectorType: domain.SelectorRegex, SelectorValue: pattern}, exact("slow", ids[0])}})
	require.NoError(t, err, "the selector passes the write-time complexity bound")
	for _, c := range b.Candidates {
		assert.Equal(t, domain.ResolutionConfigError, c.Resolution.Error, "the whole binding fails")
		assert.Contains(t, c.Resolution.Detail, "time budget")
	}
}

func TestEachMutationRecordsOneChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	f.addModel(t, "acme", "gpt-4o")

	b, err := f.svc.Create(ctx, domain.Binding{Namespace: "acme", PublicModel: "gpt-4o",
		Candidates: []domain.BindingCandidate{exact("g1", "gpt-4o")}})
	require.NoError(t, err)
	assert.Equal(t, "acme.gpt-4o", b.Key())
	assert.Equal(t, domain.StatusActive, b.Status, "status defaults to active")
	id := strconv.FormatInt(b.ID, 10)

	disabled := domain.StatusDisabled
	moved := []domain.BindingCandidate{exact("g2", "gpt-4o")}
	updated, err := f.svc.Update(ctx, b.ID, bindings.Patch{Status: &disabled, Candidates: &moved})
	require.NoError(t, err)
	assert.Equal(t, domain.StatusDisabled, updated.Status)
	require.Len(t, updated.Candidates, 1)
	assert.Equal(t, "g2", updated.Candidates[0].RouteGroup)
	ids, err := f.groups.Lookup(ctx, []string{"g2"})
	require.NoError(t, err)
	assert.Equal(t, ids["g2"], updated.Candidates[0].GroupID, "updating candidates ensured the new group")

	bad := []domain.BindingCandidate{{RouteGroup: "g1", SelectorType: domain.SelectorRegex, SelectorValue: "("}}
	_, err = f.svc.Update(ctx, b.ID, bindings.Patch{Candidates: &bad})
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "candidates.0", ve.Fields[0].Field)

	require.NoError(t, f.svc.Delete(ctx, b.ID))
	_, err = f.svc.Get(ctx, b.ID)
	assert.ErrorIs(t, err, domain.ErrNotFound)

	assert.Equal(t, []fakes.Change{
		{Version: 1, Section: domain.SectionBindings, EntityID: id, Op: domain.OpUpsert},
		{Version: 2, Section: domain.SectionBindings, EntityID: id, Op: domain.OpUpsert},
		{Version: 3, Section: domain.SectionBindings, EntityID: id, Op: domain.OpDelete},
	}, f.changes.Recorded(), "the rejected update recorded nothing")
	assert.Equal(t, []string{"binding.create", "binding.update", "binding.delete"}, f.audit.Actions())
	for _, e := range f.audit.Entries {
		assert.Equal(t, "acme.gpt-4o", e.Changes["key"], e.Action)
	}

	assert.ErrorIs(t, f.svc.Delete(ctx, b.ID), domain.ErrNotFound)
	_, err = f.svc.Update(ctx, b.ID, bindings.Patch{Status: &disabled})
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.Len(t, f.changes.Recorded(), 3)
}

func TestSelectorsFollowTheOriginalRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	f.addModel(t, domain.DefaultNamespace, "kimi-k2")
	p1 := f.addProvider(t, "p1", "g1", domain.ProviderActive, "kimi-k2", "Kimi/", "moonshot/kimi/")

	created, err := f.svc.Create(ctx, domain.Binding{PublicModel: "kimi-k2", Candidates: []domain.BindingCandidate{
		{RouteGroup: "g1", SelectorType: domain.SelectorExact, SelectorValue: ""},
		{RouteGroup: "g1", SelectorType: "", SelectorValue: " kimi-k2 "},
		{RouteGroup: "g1", SelectorType: domain.SelectorNormalizeExact, SelectorValue: "KIMI/"},
	}})
	require.NoError(t, err, "empty value, empty type and a trailing slash are valid selectors")
	require.Len(t, created.Candidates, 3)
	assert.Equal(t, domain.SelectorExact, created.Candidates[1].SelectorType, "an empty type is stored as exact")
	assert.Equal(t, "", created.Candidates[0].SelectorValue, "the configured value is kept")
	for i, want := range []string{"kimi-k2", "kimi-k2", "Kimi/"} {
		res := created.Candidates[i].Resolution
		assert.Equal(t, "ok", res.Status, "candidate %d: %s", i, res.Detail)
		assert.Equal(t, map[int64]string{p1.ID: want}, res.Upstreams, "candidate %d", i)
	}
}
