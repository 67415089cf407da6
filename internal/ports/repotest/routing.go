package repotest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// missingID is an id no suite ever creates.
const missingID = 424242

// all is a page large enough for every suite's rows.
var all = domain.Page{Limit: 100}

func suiteNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// ProviderRepository checks a provider repository, with the route group
// repository it reads group names from, against the ports' contract.
// newRepos must return empty repositories each call.
func ProviderRepository(t *testing.T, newRepos func(t *testing.T) (ports.ProviderRepository, ports.RouteGroupRepository)) {
	ctx := context.Background()
	now := suiteNow()
	later := now.Add(time.Hour)

	// create stores a provider named name in group (created on demand).
	create := func(t *testing.T, r ports.ProviderRepository, g ports.RouteGroupRepository, p domain.Provider, ct []byte) domain.Provider {
		t.Helper()
		if p.Group == "" {
			p.Group = domain.DefaultGroup
		}
		ids, err := g.Ensure(ctx, []string{p.Group})
		require.NoError(t, err)
		p.GroupID = ids[p.Group]
		if p.Type == "" {
			p.Type = "openai"
		}
		if p.Models == nil {
			p.Models = []string{"gpt-4o"}
		}
		if p.Status == "" {
			p.Status = domain.ProviderActive
		}
		p.CreatedAt, p.UpdatedAt = now, now
		p.ID, err = r.NextID(ctx)
		require.NoError(t, err)
		out, err := r.Create(ctx, p, ct)
		require.NoError(t, err)
		return out
	}
	names := func(ps []domain.Provider) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Name
		}
		return out
	}
	secretOf := func(t *testing.T, r ports.ProviderRepository, id int64) []byte {
		t.Helper()
		secs, err := r.Secrets(ctx, id-1, 1)
		require.NoError(t, err)
		if len(secs) == 0 || secs[0].ProviderID != id {
			return nil
		}
		return secs[0].Ciphertext
	}

	t.Run("route_groups_are_created_once_and_looked_up_without_creating", func(t *testing.T) {
		_, g := newRepos(t)
		first, err := g.Ensure(ctx, []string{"a", "b", "b"})
		require.NoError(t, err)
		require.Len(t, first, 2)
		assert.Positive(t, first["a"])
		assert.Positive(t, first["b"])
		assert.NotEqual(t, first["a"], first["b"])

		second, err := g.Ensure(ctx, []string{"b", "c"})
		require.NoError(t, err)
		assert.Equal(t, first["b"], second["b"], "an existing group keeps its id")
		assert.NotContains(t, []int64{first["a"], first["b"]}, second["c"])

		found, err := g.Lookup(ctx, []string{"a", "nope"})
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{"a": first["a"]}, found)
		found, err = g.Lookup(ctx, []string{"nope"})
		require.NoError(t, err)
		assert.Empty(t, found, "lookup creates nothing")
	})

	t.Run("next_id_reserves_increasing_ids", func(t *testing.T) {
		r, _ := newRepos(t)
		a, err := r.NextID(ctx)
		require.NoError(t, err)
		b, err := r.NextID(ctx)
		require.NoError(t, err)
		assert.Positive(t, a)
		assert.Greater(t, b, a)
	})

	t.Run("create_then_get_round_trips_every_field_but_the_plaintext_key", func(t *testing.T) {
		r, g := newRepos(t)
		in := domain.Provider{
			Name: "vertex-eu", Type: "vertex", BaseURL: "https://eu.example.com", APIKey: "sk-secret",
			APIKeyMask: "sk-…et", GoogleProject: "proj", GoogleLocation: "europe-west4", Group: "eu",
			Models: []string{"gemini-2.5-pro", "gemini-2.5-flash"}, Weight: 3, Priority: -2,
			Status: domain.ProviderDisabled, AutoBan: true,
		}
		created := create(t, r, g, in, []byte("ciphertext"))
		got, err := r.Get(ctx, created.ID)
		require.NoError(t, err)
		assert.Equal(t, created.ID, got.ID)
		assert.Equal(t, "vertex-eu", got.Name)
		assert.Equal(t, "vertex", got.Type)
		assert.Equal(t, "https://eu.example.com", got.BaseURL)
		assert.Empty(t, got.APIKey, "the plaintext key is never stored")
		assert.Equal(t, "sk-…et", got.APIKeyMask)
		assert.Equal(t, "proj", got.GoogleProject)
		assert.Equal(t, "europe-west4", got.GoogleLocation)
		assert.Equal(t, "eu", got.Group, "the group name is read from its route group")
		assert.Equal(t, created.GroupID, got.GroupID)
		assert.Equal(t, []string{"gemini-2.5-pro", "gemini-2.5-flash"}, got.Models)
		assert.Equal(t, 3, got.Weight)
		assert.Equal(t, -2, got.Priority)
		assert.Equal(t, domain.ProviderDisabled, got.Status)
		assert.True(t, got.AutoBan)
		assert.True(t, now.Equal(got.CreatedAt))
		assert.True(t, now.Equal(got.UpdatedAt))
		assert.Equal(t, created, got, "Create returns what Get reads")
		assert.Equal(t, []byte("ciphertext"), secretOf(t, r, got.ID))
	})

	t.Run("duplicate_name_is_conflict", func(t *testing.T) {
		r, g := newRepos(t)
		create(t, r, g, domain.Provider{Name: "dup"}, nil)
		ids, err := g.Ensure(ctx, []string{domain.DefaultGroup})
		require.NoError(t, err)
		id, err := r.NextID(ctx)
		require.NoError(t, err)
		_, err = r.Create(ctx, domain.Provider{ID: id, Name: "dup", Type: "openai", GroupID: ids[domain.DefaultGroup],
			Models: []string{"m"}, Status: domain.ProviderActive, CreatedAt: now}, nil)
		assert.ErrorIs(t, err, domain.ErrConflict)
	})

	t.Run("unknown_route_group_is_conflict", func(t *testing.T) {
		r, _ := newRepos(t)
		id, err := r.NextID(ctx)
		require.NoError(t, err)
		_, err = r.Create(ctx, domain.Provider{ID: id, Name: "orphan", Type: "openai", GroupID: missingID,
			Models: []string{"m"}, Status: domain.ProviderActive, CreatedAt: now}, nil)
		assert.ErrorIs(t, err, domain.ErrConflict)
	})

	t.Run("missing_rows_are_not_found", func(t *testing.T) {
		r, g := newRepos(t)
		ids, err := g.Ensure(ctx, []string{domain.DefaultGroup})
		require.NoError(t, err)
		_, err = r.Get(ctx, missingID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = r.Update(ctx, domain.Provider{ID: missingID, Name: "x", Type: "openai", GroupID: ids[domain.DefaultGroup],
			Models: []string{"m"}, Status: domain.ProviderActive, UpdatedAt: now}, false, nil)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, r.Delete(ctx, missingID), domain.ErrNotFound)
		ok, err := r.ReplaceSecret(ctx, missingID, []byte("old"), []byte("new"))
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("list_filters_and_pages_in_id_order", func(t *testing.T) {
		r, g := newRepos(t)
		create(t, r, g, domain.Provider{Name: "alpha-1", Type: "openai", Group: "g1"}, nil)
		create(t, r, g, domain.Provider{Name: "alpha-2", Type: "anthropic", Group: "g2", Status: domain.ProviderDisabled}, nil)
		b1 := create(t, r, g, domain.Provider{Name: "beta-1", Type: "openai", Group: "g1"}, nil)
		create(t, r, g, domain.Provider{Name: "Alpha-3", Type: "openai", Group: "g1", Status: domain.ProviderBanned}, nil)

		cases := []struct {
			name   string
			filter domain.ProviderFilter
			want   []string
		}{
			{"no_filter_lists_all", domain.ProviderFilter{}, []string{"alpha-1", "alpha-2", "beta-1", "Alpha-3"}},
			{"by_group_name", domain.ProviderFilter{Group: "g1"}, []string{"alpha-1", "beta-1", "Alpha-3"}},
			{"by_type", domain.ProviderFilter{Type: "anthropic"}, []string{"alpha-2"}},
			{"by_status", domain.ProviderFilter{Status: domain.ProviderBanned}, []string{"Alpha-3"}},
			{"by_case_sensitive_name_prefix", domain.ProviderFilter{NamePrefix: "alpha"}, []string{"alpha-1", "alpha-2"}},
			{"by_every_filter_at_once", domain.ProviderFilter{Group: "g1", Type: "openai", Status: domain.ProviderActive, NamePrefix: "al"}, []string{"alpha-1"}},
			{"unknown_group_lists_nothing", domain.ProviderFilter{Group: "nope"}, []string{}},
		}
		for _, tc := range cases {
			got, err := r.List(ctx, tc.filter, all)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, names(got), tc.name)
		}

		page, err := r.List(ctx, domain.ProviderFilter{}, domain.Page{Limit: 2})
		require.NoError(t, err)
		assert.Equal(t, []string{"alpha-1", "alpha-2"}, names(page))
		page, err = r.List(ctx, domain.ProviderFilter{}, domain.Page{Limit: 2, After: page[1].ID})
		require.NoError(t, err)
		assert.Equal(t, []string{"beta-1", "Alpha-3"}, names(page))
		page, err = r.List(ctx, domain.ProviderFilter{Group: "g1"}, domain.Page{Limit: 2, After: b1.ID})
		require.NoError(t, err)
		assert.Equal(t, []string{"Alpha-3"}, names(page), "the cursor combines with filters")
		require.NotEmpty(t, page)
		page, err = r.List(ctx, domain.ProviderFilter{}, domain.Page{Limit: 2, After: page[0].ID})
		require.NoError(t, err)
		assert.Empty(t, page)
	})

	t.Run("update_writes_every_field_and_the_key_only_when_changed", func(t *testing.T) {
		r, g := newRepos(t)
		p := create(t, r, g, domain.Provider{Name: "old", Type: "compatible", BaseURL: "https://a.example.com",
			APIKeyMask: "mask-1", Group: "g1"}, []byte("ct-1"))
		ids, err := g.Ensure(ctx, []string{"g2"})
		require.NoError(t, err)

		p.Name, p.Type, p.BaseURL = "new", "vertex", ""
		p.GoogleProject, p.GoogleLocation = "proj", "global"
		p.Group, p.GroupID = "g2", ids["g2"]
		p.Models = []string{"x", "y"}
		p.Weight, p.Priority, p.Status, p.AutoBan = 7, 5, domain.ProviderBanned, true
		p.APIKeyMask, p.UpdatedAt = "ignored", later
		got, err := r.Update(ctx, p, false, []byte("ignored"))
		require.NoError(t, err)
		assert.Equal(t, "new", got.Name)
		assert.Equal(t, "vertex", got.Type)
		assert.Empty(t, got.BaseURL)
		assert.Equal(t, "proj", got.GoogleProject)
		assert.Equal(t, "global", got.GoogleLocation)
		assert.Equal(t, "g2", got.Group)
		assert.Equal(t, ids["g2"], got.GroupID)
		assert.Equal(t, []string{"x", "y"}, got.Models)
		assert.Equal(t, 7, got.Weight)
		assert.Equal(t, 5, got.Priority)
		assert.Equal(t, domain.ProviderBanned, got.Status)
		assert.True(t, got.AutoBan)
		assert.True(t, now.Equal(got.CreatedAt), "created_at never changes")
		assert.True(t, later.Equal(got.UpdatedAt))
		assert.Equal(t, "mask-1", got.APIKeyMask, "the key is kept unless keyChanged")
		assert.Equal(t, []byte("ct-1"), secretOf(t, r, p.ID))
		again, err := r.Get(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, got, again, "Update returns what Get reads")

		p.APIKeyMask = "mask-2"
		got, err = r.Update(ctx, p, true, []byte("ct-2"))
		require.NoError(t, err)
		assert.Equal(t, "mask-2", got.APIKeyMask)
		assert.Equal(t, []byte("ct-2"), secretOf(t, r, p.ID))

		p.APIKeyMask = ""
		got, err = r.Update(ctx, p, true, nil)
		require.NoError(t, err)
		assert.Empty(t, got.APIKeyMask)
		assert.Nil(t, secretOf(t, r, p.ID), "a nil ciphertext removes the key")
	})

	t.Run("update_to_a_taken_name_is_conflict", func(t *testing.T) {
		r, g := newRepos(t)
		create(t, r, g, domain.Provider{Name: "taken"}, nil)
		p := create(t, r, g, domain.Provider{Name: "mine"}, nil)
		p.Name = "taken"
		_, err := r.Update(ctx, p, false, nil)
		assert.ErrorIs(t, err, domain.ErrConflict)
		got, err := r.Get(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, "mine", got.Name)
	})

	t.Run("delete_removes_the_row", func(t *testing.T) {
		r, g := newRepos(t)
		p := create(t, r, g, domain.Provider{Name: "gone"}, []byte("ct"))
		keep := create(t, r, g, domain.Provider{Name: "kept"}, nil)
		require.NoError(t, r.Delete(ctx, p.ID))
		_, err := r.Get(ctx, p.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, r.Delete(ctx, p.ID), domain.ErrNotFound)
		_, err = r.Get(ctx, keep.ID)
		assert.NoError(t, err)
		create(t, r, g, domain.Provider{Name: "gone"}, nil) // the name is free again
	})

	t.Run("active_refs_by_group_lists_only_active_providers_of_the_named_groups", func(t *testing.T) {
		r, g := newRepos(t)
		p1 := create(t, r, g, domain.Provider{Name: "p1", Group: "g1", Models: []string{"a", "b"}}, nil)
		create(t, r, g, domain.Provider{Name: "p2", Group: "g1", Status: domain.ProviderDisabled}, nil)
		p3 := create(t, r, g, domain.Provider{Name: "p3", Group: "g1", Models: []string{"c"}}, nil)
		create(t, r, g, domain.Provider{Name: "p4", Group: "g2", Status: domain.ProviderBanned}, nil)
		create(t, r, g, domain.Provider{Name: "p5", Group: "g3"}, nil)

		refs, err := r.ActiveRefsByGroup(ctx, []string{"g1", "g2", "nope"})
		require.NoError(t, err)
		assert.Equal(t, map[string][]domain.ProviderRef{
			"g1": {{ID: p1.ID, Models: []string{"a", "b"}}, {ID: p3.ID, Models: []string{"c"}}},
		}, refs, "groups without active providers are absent; unnamed groups are not read")

		refs, err = r.ActiveRefsByGroup(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, refs)
	})

	t.Run("secrets_page_in_id_order_and_skip_providers_without_a_key", func(t *testing.T) {
		r, g := newRepos(t)
		p1 := create(t, r, g, domain.Provider{Name: "p1"}, []byte("ct-1"))
		create(t, r, g, domain.Provider{Name: "p2"}, nil)
		p3 := create(t, r, g, domain.Provider{Name: "p3"}, []byte("ct-3"))
		p4 := create(t, r, g, domain.Provider{Name: "p4"}, []byte("ct-4"))

		secs, err := r.Secrets(ctx, 0, 2)
		require.NoError(t, err)
		assert.Equal(t, []ports.ProviderSecret{{ProviderID: p1.ID, Ciphertext: []byte("ct-1")},
			{ProviderID: p3.ID, Ciphertext: []byte("ct-3")}}, secs)
		secs, err = r.Secrets(ctx, p3.ID, 2)
		require.NoError(t, err)
		assert.Equal(t, []ports.ProviderSecret{{ProviderID: p4.ID, Ciphertext: []byte("ct-4")}}, secs)
		secs, err = r.Secrets(ctx, p4.ID, 2)
		require.NoError(t, err)
		assert.Empty(t, secs)
	})

	t.Run("replace_secret_is_compare_and_swap", func(t *testing.T) {
		r, g := newRepos(t)
		p := create(t, r, g, domain.Provider{Name: "p", APIKeyMask: "mask"}, []byte("ct-1"))
		keyless := create(t, r, g, domain.Provider{Name: "keyless"}, nil)

		cases := []struct {
			name     string
			id       int64
			old, new string
			want     bool
			stored   string
		}{
			{"refuses_when_old_does_not_match", p.ID, "other", "ct-2", false, "ct-1"},
			{"swaps_when_old_matches", p.ID, "ct-1", "ct-2", true, "ct-2"},
			{"refuses_a_stale_old_value", p.ID, "ct-1", "ct-3", false, "ct-2"},
			{"reports_no_swap_for_an_identical_value", p.ID, "ct-2", "ct-2", false, "ct-2"},
		}
		for _, tc := range cases {
			ok, err := r.ReplaceSecret(ctx, tc.id, []byte(tc.old), []byte(tc.new))
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, ok, tc.name)
			assert.Equal(t, []byte(tc.stored), secretOf(t, r, tc.id), tc.name)
		}
		ok, err := r.ReplaceSecret(ctx, keyless.ID, []byte("ct-1"), []byte("ct-2"))
		require.NoError(t, err)
		assert.False(t, ok, "a provider without a key has nothing to swap")
		assert.Nil(t, secretOf(t, r, keyless.ID))
		got, err := r.Get(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, "mask", got.APIKeyMask, "rotation leaves the mask alone")
	})
}

// ModelRepository checks a model repository against the port's contract.
// newRepo must return an empty repository each call.
func ModelRepository(t *testing.T, newRepo func(t *testing.T) ports.ModelRepository) {
	ctx := context.Background()
	now := suiteNow()
	later := now.Add(time.Hour)
	model := func(namespace, name string) domain.Model {
		return domain.Model{Namespace: namespace, Name: name, Kind: domain.ModelChat, SupportsStream: true,
			Status: domain.StatusActive, CreatedAt: now, UpdatedAt: now}
	}
	create := func(t *testing.T, r ports.ModelRepository, m domain.Model) domain.Model {
		t.Helper()
		out, err := r.Create(ctx, m)
		require.NoError(t, err)
		return out
	}
	keys := func(ms []domain.Model) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.Key()
		}
		return out
	}

	t.Run("create_then_get_by_id_and_key_round_trips_every_field", func(t *testing.T) {
		r := newRepo(t)
		window := 128000
		in := domain.Model{Namespace: "acme", Name: "gpt-4o", Kind: domain.ModelEmbedding, ContextWindow: &window,
			InputPricePerMTok: 2.5, OutputPricePerMTok: 10.25, SupportsVision: true, SupportsFunctions: true,
			SupportsToolChoice: true, SupportsFIM: true, SupportsStream: false, Status: domain.StatusDisabled,
			CreatedAt: now, UpdatedAt: now}
		created := create(t, r, in)
		assert.Positive(t, created.ID)
		want := in
		want.ID = created.ID
		assert.Equal(t, want, utcModel(created))

		got, err := r.Get(ctx, created.ID)
		require.NoError(t, err)
		assert.Equal(t, want, utcModel(got))
		assert.Nil(t, got.MaxOutputTokens)
		byKey, err := r.GetByKey(ctx, "acme", "gpt-4o")
		require.NoError(t, err)
		assert.Equal(t, want, utcModel(byKey))
	})

	t.Run("duplicate_namespace_and_name_is_conflict", func(t *testing.T) {
		r := newRepo(t)
		create(t, r, model("default", "m"))
		_, err := r.Create(ctx, model("default", "m"))
		assert.ErrorIs(t, err, domain.ErrConflict)
		create(t, r, model("other", "m")) // the same name in another namespace is fine
	})

	t.Run("missing_rows_are_not_found", func(t *testing.T) {
		r := newRepo(t)
		create(t, r, model("default", "m"))
		_, err := r.Get(ctx, missingID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = r.GetByKey(ctx, "default", "nope")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = r.GetByKey(ctx, "nope", "m")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		m := model("default", "x")
		m.ID = missingID
		_, err = r.Update(ctx, m)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, r.Delete(ctx, missingID), domain.ErrNotFound)
	})

	t.Run("list_filters_and_pages_in_id_order", func(t *testing.T) {
		r := newRepo(t)
		create(t, r, model("default", "a"))
		emb := model("default", "b")
		emb.Kind = domain.ModelEmbedding
		create(t, r, emb)
		off := model("acme", "c")
		off.Status = domain.StatusDisabled
		create(t, r, off)
		create(t, r, model("acme", "d"))

		cases := []struct {
			name   string
			filter domain.ModelFilter
			want   []string
		}{
			{"no_filter_lists_all", domain.ModelFilter{}, []string{"default.a", "default.b", "acme.c", "acme.d"}},
			{"by_namespace", domain.ModelFilter{Namespace: "acme"}, []string{"acme.c", "acme.d"}},
			{"by_kind", domain.ModelFilter{Kind: domain.ModelEmbedding}, []string{"default.b"}},
			{"by_status", domain.ModelFilter{Status: domain.StatusDisabled}, []string{"acme.c"}},
			{"by_every_filter_at_once", domain.ModelFilter{Namespace: "acme", Kind: domain.ModelChat, Status: domain.StatusActive}, []string{"acme.d"}},
		}
		for _, tc := range cases {
			got, err := r.List(ctx, tc.filter, all)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, keys(got), tc.name)
		}

		page, err := r.List(ctx, domain.ModelFilter{}, domain.Page{Limit: 3})
		require.NoError(t, err)
		require.Len(t, page, 3)
		assert.Equal(t, []string{"default.a", "default.b", "acme.c"}, keys(page))
		page, err = r.List(ctx, domain.ModelFilter{}, domain.Page{Limit: 3, After: page[2].ID})
		require.NoError(t, err)
		assert.Equal(t, []string{"acme.d"}, keys(page))
	})

	t.Run("update_writes_the_mutable_fields_and_keeps_the_key", func(t *testing.T) {
		r := newRepo(t)
		window := 8000
		m := model("default", "m")
		m.ContextWindow = &window
		m = create(t, r, m)

		maxOut := 4096
		upd := m
		upd.Namespace, upd.Name, upd.CreatedAt = "moved", "renamed", later
		upd.Kind, upd.ContextWindow, upd.MaxOutputTokens = domain.ModelRerank, nil, &maxOut
		upd.InputPricePerMTok, upd.OutputPricePerMTok = 1, 2
		upd.SupportsVision, upd.SupportsFunctions, upd.SupportsToolChoice = true, true, true
		upd.SupportsFIM, upd.SupportsStream = true, false
		upd.Status, upd.UpdatedAt = domain.StatusDisabled, later
		got, err := r.Update(ctx, upd)
		require.NoError(t, err)

		want := upd
		want.Namespace, want.Name, want.CreatedAt = "default", "m", now
		assert.Equal(t, want, utcModel(got), "namespace, name and created_at never change; a nil context window clears it")
		again, err := r.Get(ctx, m.ID)
		require.NoError(t, err)
		assert.Equal(t, want, utcModel(again))
	})

	t.Run("delete_removes_the_row", func(t *testing.T) {
		r := newRepo(t)
		m := create(t, r, model("default", "m"))
		require.NoError(t, r.Delete(ctx, m.ID))
		_, err := r.Get(ctx, m.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		create(t, r, model("default", "m")) // the key is free again
	})
}

// utcModel puts a model's times in UTC so whole models compare equal.
func utcModel(m domain.Model) domain.Model {
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m
}

// BindingRepository checks a binding repository, with the model repository
// whose models it binds, against the ports' contract. newRepos must return
// empty repositories each call.
func BindingRepository(t *testing.T, newRepos func(t *testing.T) (ports.BindingRepository, ports.ModelRepository)) {
	ctx := context.Background()
	now := suiteNow()
	later := now.Add(time.Hour)
	newModel := func(t *testing.T, r ports.ModelRepository, namespace, name string) domain.Model {
		t.Helper()
		m, err := r.Create(ctx, domain.Model{Namespace: namespace, Name: name, Kind: domain.ModelChat,
			Status: domain.StatusActive, CreatedAt: now, UpdatedAt: now})
		require.NoError(t, err)
		return m
	}
	cands := []domain.BindingCandidate{
		{RouteGroup: "g1", Weight: 2, SelectorType: domain.SelectorExact, SelectorValue: "gpt-4o"},
		{RouteGroup: "g2", Weight: 0, SelectorType: domain.SelectorRegex, SelectorValue: "^gpt-4o(-.*)?$"},
	}
	binding := func(m domain.Model, status domain.ResourceStatus) domain.Binding {
		return domain.Binding{ModelID: m.ID, Namespace: m.Namespace, PublicModel: m.Name, Status: status,
			Candidates: cands, CreatedAt: now, UpdatedAt: now}
	}
	create := func(t *testing.T, r ports.BindingRepository, b domain.Binding) domain.Binding {
		t.Helper()
		out, err := r.Create(ctx, b)
		require.NoError(t, err)
		return out
	}
	keys := func(bs []domain.Binding) []string {
		out := make([]string, len(bs))
		for i, b := range bs {
			out[i] = b.Key()
		}
		return out
	}

	t.Run("create_then_get_fills_in_the_model_key", func(t *testing.T) {
		r, models := newRepos(t)
		m := newModel(t, models, "acme", "gpt")
		in := binding(m, domain.StatusDisabled)
		in.Namespace, in.PublicModel = "", "" // read from the model, not stored
		created := create(t, r, in)
		assert.Positive(t, created.ID)
		got, err := r.Get(ctx, created.ID)
		require.NoError(t, err)
		assert.Equal(t, m.ID, got.ModelID)
		assert.Equal(t, "acme", got.Namespace)
		assert.Equal(t, "gpt", got.PublicModel)
		assert.Equal(t, "acme.gpt", got.Key())
		assert.Equal(t, domain.StatusDisabled, got.Status)
		assert.Equal(t, cands, got.Candidates)
		assert.True(t, now.Equal(got.CreatedAt))
		assert.True(t, now.Equal(got.UpdatedAt))
		assert.Equal(t, utcBinding(created), utcBinding(got), "Create returns what Get reads")
	})

	t.Run("one_binding_per_model", func(t *testing.T) {
		r, models := newRepos(t)
		m := newModel(t, models, "default", "m")
		create(t, r, binding(m, domain.StatusActive))
		_, err := r.Create(ctx, binding(m, domain.StatusActive))
		assert.ErrorIs(t, err, domain.ErrConflict)
	})

	t.Run("unknown_model_is_conflict", func(t *testing.T) {
		r, _ := newRepos(t)
		_, err := r.Create(ctx, domain.Binding{ModelID: missingID, Status: domain.StatusActive, Candidates: cands, CreatedAt: now})
		assert.ErrorIs(t, err, domain.ErrConflict)
	})

	t.Run("missing_rows_are_not_found", func(t *testing.T) {
		r, _ := newRepos(t)
		_, err := r.Get(ctx, missingID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = r.Update(ctx, domain.Binding{ID: missingID, Status: domain.StatusActive, Candidates: cands, UpdatedAt: now})
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, r.Delete(ctx, missingID), domain.ErrNotFound)
		used, err := r.KeysUsingModel(ctx, missingID)
		require.NoError(t, err)
		assert.Empty(t, used)
	})

	t.Run("list_filters_and_pages_in_id_order", func(t *testing.T) {
		r, models := newRepos(t)
		create(t, r, binding(newModel(t, models, "default", "a"), domain.StatusActive))
		create(t, r, binding(newModel(t, models, "acme", "b"), domain.StatusDisabled))
		create(t, r, binding(newModel(t, models, "acme", "c"), domain.StatusActive))
		newModel(t, models, "acme", "unbound")

		cases := []struct {
			name   string
			filter domain.BindingFilter
			want   []string
		}{
			{"no_filter_lists_all", domain.BindingFilter{}, []string{"default.a", "acme.b", "acme.c"}},
			{"by_model_namespace", domain.BindingFilter{Namespace: "acme"}, []string{"acme.b", "acme.c"}},
			{"by_status", domain.BindingFilter{Status: domain.StatusDisabled}, []string{"acme.b"}},
			{"by_every_filter_at_once", domain.BindingFilter{Namespace: "acme", Status: domain.StatusActive}, []string{"acme.c"}},
		}
		for _, tc := range cases {
			got, err := r.List(ctx, tc.filter, all)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, keys(got), tc.name)
		}

		page, err := r.List(ctx, domain.BindingFilter{}, domain.Page{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, []string{"default.a", "acme.b"}, keys(page))
		page, err = r.List(ctx, domain.BindingFilter{}, domain.Page{Limit: 2, After: page[1].ID})
		require.NoError(t, err)
		assert.Equal(t, []string{"acme.c"}, keys(page))
	})

	t.Run("update_writes_status_and_candidates_only", func(t *testing.T) {
		r, models := newRepos(t)
		m := newModel(t, models, "default", "m")
		other := newModel(t, models, "default", "other")
		b := create(t, r, binding(m, domain.StatusActive))

		upd := b
		upd.ModelID, upd.CreatedAt = other.ID, later
		upd.Status, upd.UpdatedAt = domain.StatusDisabled, later
		upd.Candidates = []domain.BindingCandidate{{RouteGroup: "g9", Weight: 1,
			SelectorType: domain.SelectorNormalizeExact, SelectorValue: "openai/gpt-4o"}}
		got, err := r.Update(ctx, upd)
		require.NoError(t, err)
		assert.Equal(t, m.ID, got.ModelID, "a binding never moves to another model")
		assert.Equal(t, "default.m", got.Key())
		assert.Equal(t, domain.StatusDisabled, got.Status)
		assert.Equal(t, upd.Candidates, got.Candidates)
		assert.True(t, now.Equal(got.CreatedAt), "created_at never changes")
		assert.True(t, later.Equal(got.UpdatedAt))
		again, err := r.Get(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, utcBinding(got), utcBinding(again), "Update returns what Get reads")
	})

	t.Run("a_bound_model_cannot_be_deleted_until_its_binding_is", func(t *testing.T) {
		r, models := newRepos(t)
		m := newModel(t, models, "acme", "gpt")
		free := newModel(t, models, "acme", "free")
		b := create(t, r, binding(m, domain.StatusActive))

		used, err := r.KeysUsingModel(ctx, m.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{"acme.gpt"}, used)
		used, err = r.KeysUsingModel(ctx, free.ID)
		require.NoError(t, err)
		assert.Empty(t, used)

		assert.ErrorIs(t, models.Delete(ctx, m.ID), domain.ErrConflict)
		_, err = models.Get(ctx, m.ID)
		require.NoError(t, err, "the refused delete left the model")

		require.NoError(t, r.Delete(ctx, b.ID))
		_, err = r.Get(ctx, b.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		used, err = r.KeysUsingModel(ctx, m.ID)
		require.NoError(t, err)
		assert.Empty(t, used)
		assert.NoError(t, models.Delete(ctx, m.ID))
	})
}

// utcBinding puts a binding's times in UTC so whole bindings compare equal.
func utcBinding(b domain.Binding) domain.Binding {
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	return b
}

// ChangeRecorder checks a change recorder against the port's contract:
// every record gets a sequence number greater than any before it.
func ChangeRecorder(t *testing.T, newRec func(t *testing.T) ports.ChangeRecorder) {
	ctx := context.Background()

	t.Run("versions_strictly_increase", func(t *testing.T) {
		rec := newRec(t)
		records := []struct {
			section domain.Section
			id      string
			op      domain.ChangeOp
		}{
			{domain.SectionProviders, "1", domain.OpUpsert},
			{domain.SectionModels, "1", domain.OpUpsert},
			{domain.SectionBindings, "7", domain.OpDelete},
			{domain.SectionProviders, "1", domain.OpDelete},
			{domain.SectionFeatures, "flag", domain.OpUpsert},
		}
		var last int64
		for _, r := range records {
			v, err := rec.Record(ctx, r.section, r.id, r.op)
			require.NoError(t, err)
			assert.Greater(t, v, last)
			last = v
		}
	})

	t.Run("concurrent_records_get_distinct_versions", func(t *testing.T) {
		rec := newRec(t)
		const n = 16
		versions := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				versions[i], errs[i] = rec.Record(ctx, domain.SectionProviders, "1", domain.OpUpsert)
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i := range n {
			require.NoError(t, errs[i])
			assert.Positive(t, versions[i])
			assert.False(t, seen[versions[i]], "version %d handed out twice", versions[i])
			seen[versions[i]] = true
		}
	})
}

// BindingResolutionStore checks a resolution store, with the binding and
// model repositories it belongs to, against the ports' contract.
func BindingResolutionStore(t *testing.T, newRepos func(t *testing.T) (ports.BindingResolutionStore, ports.BindingRepository, ports.ModelRepository)) {
	ctx := context.Background()
	now := suiteNow()
	setup := func(t *testing.T) (ports.BindingResolutionStore, ports.BindingRepository, domain.Binding) {
		t.Helper()
		store, bindings, models := newRepos(t)
		m, err := models.Create(ctx, domain.Model{Namespace: "default", Name: "gpt-4o", Kind: domain.ModelChat,
			Status: domain.StatusActive, CreatedAt: now, UpdatedAt: now})
		require.NoError(t, err)
		b, err := bindings.Create(ctx, domain.Binding{ModelID: m.ID, Status: domain.StatusActive, CreatedAt: now, UpdatedAt: now,
			Candidates: []domain.BindingCandidate{{RouteGroup: "g1", Weight: 1, SelectorType: domain.SelectorRegex, SelectorValue: "^gpt"}}})
		require.NoError(t, err)
		return store, bindings, b
	}
	resolution := func(b domain.Binding, version int64, upstreams map[int64]string) domain.BindingResolution {
		res := domain.CandidateResolution{Status: "ok", Upstreams: upstreams}
		if len(upstreams) == 0 {
			res = domain.CandidateResolution{Status: "error", Error: domain.ResolutionConfigError, Detail: "budget", Upstreams: map[int64]string{}}
		}
		return domain.BindingResolution{BindingID: b.ID, Version: version, ResolvedAt: now,
			Candidates: []domain.ResolvedCandidate{{BindingCandidate: b.Candidates[0], GroupID: 7, Resolution: res}}}
	}
	t.Run("stores_and_reads_back", func(t *testing.T) {
		store, _, b := setup(t)
		want := resolution(b, 5, map[int64]string{1: "gpt-4o", 2: "gpt-4o-mini"})
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{want}))
		got, err := store.Resolutions(ctx, []int64{b.ID, b.ID + 1000})
		require.NoError(t, err)
		require.Len(t, got, 1, "a binding with none is absent")
		assert.Equal(t, want.Version, got[b.ID].Version)
		assert.Equal(t, want.Candidates, got[b.ID].Candidates)
		assert.True(t, want.ResolvedAt.Equal(got[b.ID].ResolvedAt))
		assert.True(t, got[b.ID].Matches(b.Candidates))
	})
	t.Run("a_lower_version_never_replaces_a_higher_one", func(t *testing.T) {
		store, _, b := setup(t)
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 9, map[int64]string{1: "new"})}))
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 8, map[int64]string{1: "stale"})}))
		got, err := store.Resolutions(ctx, []int64{b.ID})
		require.NoError(t, err)
		assert.Equal(t, int64(9), got[b.ID].Version)
		assert.Equal(t, "new", got[b.ID].Candidates[0].Resolution.Upstreams[1])
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 10, nil)}))
		got, err = store.Resolutions(ctx, []int64{b.ID})
		require.NoError(t, err)
		assert.Equal(t, domain.ResolutionConfigError, got[b.ID].Candidates[0].Resolution.Error, "a newer one replaces it")
	})
	t.Run("an_unchanged_resolution_keeps_its_version", func(t *testing.T) {
		store, _, b := setup(t)
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 3, map[int64]string{1: "x"})}))
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 4, map[int64]string{1: "x"})}))
		got, err := store.Resolutions(ctx, []int64{b.ID})
		require.NoError(t, err)
		assert.Equal(t, int64(3), got[b.ID].Version)
	})
	t.Run("a_deleted_binding_is_skipped_and_its_row_goes", func(t *testing.T) {
		store, bindings, b := setup(t)
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 1, map[int64]string{1: "x"})}))
		require.NoError(t, bindings.Delete(ctx, b.ID))
		got, err := store.Resolutions(ctx, []int64{b.ID})
		require.NoError(t, err)
		assert.Empty(t, got, "deleting the binding deletes its resolution")
		require.NoError(t, store.SaveResolutions(ctx, []domain.BindingResolution{resolution(b, 2, map[int64]string{1: "x"})}),
			"a publisher storing what it resolved before the delete is not an error")
		got, err = store.Resolutions(ctx, []int64{b.ID})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
