package models_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/models"
	"github.com/ez-api/ez-api/internal/ports/fakes"
)

type fixture struct {
	svc      *models.Service
	repo     *fakes.Models
	bindings *fakes.Bindings
	changes  *fakes.Changes
	audit    *fakes.Audit
}

var now = time.Unix(1000, 0).UTC()

func newFixture() fixture {
	repo := fakes.NewModels()
	f := fixture{repo: repo, bindings: fakes.NewBindings(repo), changes: &fakes.Changes{}, audit: &fakes.Audit{}}
	mut := changes.NewMutator(fakes.TxRunner{}, f.audit, f.changes, &fakes.Clock{T: now}, nil)
	f.svc = models.NewService(repo, f.bindings, mut)
	return f
}

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("fills_namespace_kind_and_status_defaults", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		m, err := f.svc.Create(ctx, domain.Model{Name: "gpt-4o"})
		require.NoError(t, err)
		assert.Equal(t, domain.DefaultNamespace, m.Namespace)
		assert.Equal(t, domain.ModelChat, m.Kind)
		assert.Equal(t, domain.StatusActive, m.Status)
		assert.Equal(t, "default.gpt-4o", m.Key())
		assert.Equal(t, now, m.CreatedAt)
		assert.Equal(t, now, m.UpdatedAt)
		assert.Equal(t, []fakes.Change{{Version: 1, Section: domain.SectionModels, EntityID: strconv.FormatInt(m.ID, 10),
			Op: domain.OpUpsert}}, f.changes.Recorded())
		assert.Equal(t, []string{"model.create"}, f.audit.Actions())
	})

	t.Run("a_taken_key_is_conflict_and_records_nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		_, err := f.svc.Create(ctx, domain.Model{Name: "gpt-4o"})
		require.NoError(t, err)
		_, err = f.svc.Create(ctx, domain.Model{Namespace: domain.DefaultNamespace, Name: "gpt-4o", Kind: domain.ModelEmbedding})
		assert.ErrorIs(t, err, domain.ErrConflict)
		_, err = f.svc.Create(ctx, domain.Model{Namespace: "acme", Name: "gpt-4o"})
		assert.NoError(t, err, "the same name in another namespace is another model")
		assert.Len(t, f.changes.Recorded(), 2)
		assert.Equal(t, []string{"model.create", "model.create"}, f.audit.Actions())
	})

	zero, negative := 0, -5
	cases := []struct {
		name  string
		model domain.Model
		field string
	}{
		{"rejects_a_dotted_namespace", domain.Model{Namespace: "a.b", Name: "m"}, "namespace"},
		{"rejects_an_empty_name", domain.Model{}, "name"},
		{"rejects_an_unknown_kind", domain.Model{Name: "m", Kind: "image"}, "kind"},
		{"rejects_a_zero_context_window", domain.Model{Name: "m", ContextWindow: &zero}, "context_window"},
		{"rejects_a_negative_max_output", domain.Model{Name: "m", MaxOutputTokens: &negative}, "max_output_tokens"},
		{"rejects_a_negative_input_price", domain.Model{Name: "m", InputPricePerMTok: -1}, "input_price_per_mtok"},
		{"rejects_a_negative_output_price", domain.Model{Name: "m", OutputPricePerMTok: -1}, "output_price_per_mtok"},
		{"rejects_an_unknown_status", domain.Model{Name: "m", Status: "gone"}, "status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			_, err := f.svc.Create(ctx, tc.model)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Fields, 1)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
			assert.Empty(t, f.changes.Recorded(), "no change recorded")
			assert.Empty(t, f.audit.Entries, "nothing audited")
		})
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		patch models.Patch
		check func(t *testing.T, m domain.Model)
	}{
		{"null_clears_context_window", models.Patch{ContextWindow: domain.Cleared[int]()},
			func(t *testing.T, m domain.Model) {
				assert.Nil(t, m.ContextWindow)
				require.NotNil(t, m.MaxOutputTokens)
				assert.Equal(t, 4096, *m.MaxOutputTokens, "other fields stay")
			}},
		{"a_value_replaces_context_window", models.Patch{ContextWindow: domain.SetTo(200000)},
			func(t *testing.T, m domain.Model) {
				require.NotNil(t, m.ContextWindow)
				assert.Equal(t, 200000, *m.ContextWindow)
			}},
		{"unset_fields_stay_unchanged", models.Patch{Status: ptr(domain.StatusDisabled), SupportsVision: ptr(true)},
			func(t *testing.T, m domain.Model) {
				assert.Equal(t, domain.StatusDisabled, m.Status)
				assert.True(t, m.SupportsVision)
				require.NotNil(t, m.ContextWindow)
				assert.Equal(t, 128000, *m.ContextWindow)
				assert.Equal(t, 2.5, m.InputPricePerMTok)
				assert.Equal(t, domain.ModelChat, m.Kind)
			}},
		{"prices_and_kind_are_replaced", models.Patch{InputPricePerMTok: ptr(0.0), Kind: ptr(domain.ModelEmbedding)},
			func(t *testing.T, m domain.Model) {
				assert.Zero(t, m.InputPricePerMTok)
				assert.Equal(t, domain.ModelEmbedding, m.Kind)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			m, err := f.svc.Create(ctx, domain.Model{Name: "gpt-4o", ContextWindow: ptr(128000), MaxOutputTokens: ptr(4096),
				InputPricePerMTok: 2.5})
			require.NoError(t, err)
			got, err := f.svc.Update(ctx, m.ID, tc.patch)
			require.NoError(t, err)
			tc.check(t, got)
			stored, err := f.svc.Get(ctx, m.ID)
			require.NoError(t, err)
			assert.Equal(t, got, stored)
			recorded := f.changes.Recorded()
			require.Len(t, recorded, 2)
			assert.Equal(t, fakes.Change{Version: 2, Section: domain.SectionModels, EntityID: strconv.FormatInt(m.ID, 10),
				Op: domain.OpUpsert}, recorded[1])
		})
	}

	t.Run("an_invalid_value_is_rejected_and_records_nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		m, err := f.svc.Create(ctx, domain.Model{Name: "gpt-4o"})
		require.NoError(t, err)
		_, err = f.svc.Update(ctx, m.ID, models.Patch{ContextWindow: domain.SetTo(0)})
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "context_window", ve.Fields[0].Field)
		assert.Len(t, f.changes.Recorded(), 1)
	})

	t.Run("a_missing_model_is_not_found", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		_, err := f.svc.Update(ctx, 42, models.Patch{Status: ptr(domain.StatusDisabled)})
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.Empty(t, f.changes.Recorded())
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("refuses_a_model_a_binding_uses_and_names_the_binding", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		m, err := f.svc.Create(ctx, domain.Model{Namespace: "acme", Name: "gpt-4o"})
		require.NoError(t, err)
		_, err = f.bindings.Create(ctx, domain.Binding{ModelID: m.ID, Status: domain.StatusActive, CreatedAt: now,
			Candidates: []domain.BindingCandidate{{RouteGroup: "default", SelectorType: domain.SelectorExact, SelectorValue: "gpt-4o"}}})
		require.NoError(t, err)

		err = f.svc.Delete(ctx, m.ID)
		assert.ErrorIs(t, err, domain.ErrConflict)
		assert.ErrorContains(t, err, "acme.gpt-4o")
		_, err = f.svc.Get(ctx, m.ID)
		assert.NoError(t, err, "the model is still there")
		assert.Len(t, f.changes.Recorded(), 1, "only the create was recorded")
		assert.Equal(t, []string{"model.create"}, f.audit.Actions())
	})

	t.Run("removes_an_unused_model_and_records_its_deletion", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		m, err := f.svc.Create(ctx, domain.Model{Name: "gpt-4o"})
		require.NoError(t, err)
		require.NoError(t, f.svc.Delete(ctx, m.ID))
		_, err = f.svc.Get(ctx, m.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		recorded := f.changes.Recorded()
		require.Len(t, recorded, 2)
		assert.Equal(t, fakes.Change{Version: 2, Section: domain.SectionModels, EntityID: strconv.FormatInt(m.ID, 10),
			Op: domain.OpDelete}, recorded[1])
		assert.Equal(t, []string{"model.create", "model.delete"}, f.audit.Actions())
	})

	t.Run("a_missing_model_is_not_found", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		assert.ErrorIs(t, f.svc.Delete(ctx, 42), domain.ErrNotFound)
		assert.Empty(t, f.changes.Recorded())
	})
}

func TestListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	for _, n := range []string{"a", "b", "c"} {
		_, err := f.svc.Create(ctx, domain.Model{Name: n})
		require.NoError(t, err)
	}
	page, next, err := f.svc.List(ctx, domain.ModelFilter{}, domain.Page{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, page[1].ID, next)
	page, next, err = f.svc.List(ctx, domain.ModelFilter{}, domain.Page{Limit: 2, After: next})
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, "c", page[0].Name)
	assert.Zero(t, next, "the last page has no cursor")
}
