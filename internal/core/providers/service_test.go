package providers_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/ports/fakes"
)

const key = "sk-live-0123456789abcdef"

type fixture struct {
	svc     *providers.Service
	repo    *fakes.Providers
	groups  *fakes.RouteGroups
	cipher  *fakes.Cipher
	changes *fakes.Changes
	audit   *fakes.Audit
}

// mask keeps the last four characters, enough to tell keys apart.
func mask(s string) string { return "…" + s[len(s)-4:] }

func newFixture(guard fakes.Guard) fixture {
	groups := fakes.NewRouteGroups()
	f := fixture{repo: fakes.NewProviders(groups), groups: groups, cipher: &fakes.Cipher{},
		changes: &fakes.Changes{}, audit: &fakes.Audit{}}
	mut := changes.NewMutator(fakes.TxRunner{}, f.audit, f.changes, &fakes.Clock{T: time.Unix(1000, 0).UTC()}, nil)
	f.svc = providers.NewService(f.repo, groups, f.cipher, guard, mut, mask, providers.Policy{MaxModels: 3})
	return f
}

func valid() domain.Provider {
	return domain.Provider{Name: "openai-main", Type: "openai", BaseURL: "https://api.openai.com/v1",
		APIKey: key, Models: []string{"gpt-4o", "gpt-4o-mini"}}
}

// secret returns the stored ciphertext of provider id (nil: none).
func (f fixture) secret(t *testing.T, id int64) []byte {
	t.Helper()
	secs, err := f.repo.Secrets(context.Background(), id-1, 1)
	require.NoError(t, err)
	if len(secs) == 0 || secs[0].ProviderID != id {
		return nil
	}
	return secs[0].Ciphertext
}

// assertNoKeyInAudit checks that no audit entry mentions the plaintext key.
func (f fixture) assertNoKeyInAudit(t *testing.T, keys ...string) {
	t.Helper()
	for _, e := range f.audit.Entries {
		for _, k := range keys {
			assert.NotContains(t, fmt.Sprintf("%v", e.Changes), k, "audit entry %s", e.Action)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func fieldNames(ve *domain.ValidationError) []string {
	out := make([]string, len(ve.Fields))
	for i, fe := range ve.Fields {
		out[i] = fe.Field
	}
	return out
}

func TestCreateRejectsInvalidProviders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(p *domain.Provider)
		field string
	}{
		{"rejects_a_blank_name", func(p *domain.Provider) { p.Name = "  " }, "name"},
		{"rejects_an_unknown_type", func(p *domain.Provider) { p.Type = "midjourney" }, "type"},
		{"compatible_requires_a_base_url", func(p *domain.Provider) { p.Type, p.BaseURL = "compatible", " " }, "base_url"},
		{"vertex_requires_a_google_project", func(p *domain.Provider) { p.Type = "vertex" }, "google_project"},
		{"vertex_express_requires_a_google_project", func(p *domain.Provider) { p.Type = "vertex-express" }, "google_project"},
		{"rejects_no_models", func(p *domain.Provider) { p.Models = nil }, "models"},
		{"rejects_more_models_than_the_policy_allows", func(p *domain.Provider) { p.Models = []string{"a", "b", "c", "d"} }, "models"},
		{"rejects_a_model_listed_twice", func(p *domain.Provider) { p.Models = []string{"a", " a "} }, "models.1"},
		{"rejects_a_blank_model", func(p *domain.Provider) { p.Models = []string{"a", "  "} }, "models.1"},
		{"rejects_a_negative_weight", func(p *domain.Provider) { p.Weight = -1 }, "weight"},
		{"rejects_an_unknown_status", func(p *domain.Provider) { p.Status = "paused" }, "status"},
		{"maps_a_guard_rejection_of_a_scheme_to_base_url", func(p *domain.Provider) { p.BaseURL = "ftp://api.example.com" }, "base_url"},
		{"maps_a_guard_rejection_of_cloud_metadata_to_base_url", func(p *domain.Provider) { p.BaseURL = "http://169.254.169.254/latest" }, "base_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(fakes.Guard{})
			p := valid()
			tc.edit(&p)
			_, err := f.svc.Create(context.Background(), p)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.ErrorIs(t, err, domain.ErrInvalid)
			assert.Equal(t, []string{tc.field}, fieldNames(ve))
			assert.Empty(t, f.changes.Recorded(), "no change recorded")
			assert.Empty(t, f.audit.Entries, "nothing audited")
			stored, err := f.repo.List(context.Background(), domain.ProviderFilter{}, domain.Page{Limit: 10})
			require.NoError(t, err)
			assert.Empty(t, stored, "nothing stored")
		})
	}
}

func TestCreateFillsDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		guard fakes.Guard
		edit  func(p *domain.Provider)
		check func(t *testing.T, p domain.Provider)
	}{
		{"puts_a_provider_without_group_in_the_default_group_as_active", fakes.Guard{}, func(*domain.Provider) {},
			func(t *testing.T, p domain.Provider) {
				assert.Equal(t, domain.DefaultGroup, p.Group)
				assert.Positive(t, p.GroupID)
				assert.Equal(t, domain.ProviderActive, p.Status)
			}},
		{"defaults_the_vertex_location_to_global", fakes.Guard{}, func(p *domain.Provider) {
			p.Type, p.BaseURL, p.GoogleProject = "vertex", "", "my-project"
		}, func(t *testing.T, p domain.Provider) {
			assert.Equal(t, "my-project", p.GoogleProject)
			assert.Equal(t, "global", p.GoogleLocation)
		}},
		{"keeps_a_given_vertex_location", fakes.Guard{}, func(p *domain.Provider) {
			p.Type, p.GoogleProject, p.GoogleLocation = "vertex", "my-project", "europe-west4"
		}, func(t *testing.T, p domain.Provider) { assert.Equal(t, "europe-west4", p.GoogleLocation) }},
		{"accepts_compatible_with_a_base_url", fakes.Guard{}, func(p *domain.Provider) {
			p.Type, p.BaseURL = "compatible", " https://llm.example.com/v1 "
		}, func(t *testing.T, p domain.Provider) { assert.Equal(t, "https://llm.example.com/v1", p.BaseURL) }},
		{"accepts_a_private_address_when_the_guard_allows_it", fakes.Guard{AllowPrivate: true}, func(p *domain.Provider) {
			p.Type, p.BaseURL = "compatible", "http://127.0.0.1:11434/v1"
		}, func(t *testing.T, p domain.Provider) { assert.Equal(t, "http://127.0.0.1:11434/v1", p.BaseURL) }},
		{"trims_names_and_models", fakes.Guard{}, func(p *domain.Provider) {
			p.Name, p.Models = "  spaced  ", []string{" gpt-4o "}
		}, func(t *testing.T, p domain.Provider) {
			assert.Equal(t, "spaced", p.Name)
			assert.Equal(t, []string{"gpt-4o"}, p.Models)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(tc.guard)
			p := valid()
			tc.edit(&p)
			out, err := f.svc.Create(context.Background(), p)
			require.NoError(t, err)
			tc.check(t, out)
			got, err := f.svc.Get(context.Background(), out.ID)
			require.NoError(t, err)
			assert.Equal(t, out, got)
		})
	}
}

func TestCreateEncryptsTheKeyAndRecordsOneChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("stores_the_key_encrypted_and_only_shows_its_mask", func(t *testing.T) {
		t.Parallel()
		f := newFixture(fakes.Guard{})
		out, err := f.svc.Create(ctx, valid())
		require.NoError(t, err)
		assert.Empty(t, out.APIKey, "the plaintext is not returned")
		assert.Equal(t, mask(key), out.APIKeyMask)

		ct := f.secret(t, out.ID)
		require.NotNil(t, ct)
		assert.NotContains(t, string(ct), key)
		plain, err := f.cipher.Decrypt(ct, []byte("provider:"+strconv.FormatInt(out.ID, 10)))
		require.NoError(t, err, "the row id is the additional data")
		assert.Equal(t, key, string(plain))
		decrypted, err := f.svc.DecryptKey(out.ID, ct)
		require.NoError(t, err)
		assert.Equal(t, key, decrypted)
		_, err = f.svc.DecryptKey(out.ID+1, ct)
		assert.Error(t, err, "a ciphertext does not open for another row")

		id := strconv.FormatInt(out.ID, 10)
		assert.Equal(t, []fakes.Change{{Version: 1, Section: domain.SectionProviders, EntityID: id, Op: domain.OpUpsert}},
			f.changes.Recorded())
		require.Len(t, f.audit.Entries, 1)
		e := f.audit.Entries[0]
		assert.Equal(t, "provider.create", e.Action)
		assert.Equal(t, id, e.ResourceID)
		assert.Equal(t, domain.Redacted, e.Changes["api_key"])
		assert.Equal(t, int64(1), e.Changes["change_seq"])
		f.assertNoKeyInAudit(t, key)
	})

	t.Run("stores_no_key_when_none_is_given", func(t *testing.T) {
		t.Parallel()
		f := newFixture(fakes.Guard{})
		p := valid()
		p.APIKey = ""
		out, err := f.svc.Create(ctx, p)
		require.NoError(t, err)
		assert.Empty(t, out.APIKeyMask)
		assert.Nil(t, f.secret(t, out.ID))
		require.Len(t, f.audit.Entries, 1)
		assert.NotContains(t, f.audit.Entries[0].Changes, "api_key")
	})

	t.Run("a_taken_name_is_conflict_and_records_nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(fakes.Guard{})
		_, err := f.svc.Create(ctx, valid())
		require.NoError(t, err)
		_, err = f.svc.Create(ctx, valid())
		assert.ErrorIs(t, err, domain.ErrConflict)
		assert.Len(t, f.changes.Recorded(), 1)
		assert.Len(t, f.audit.Entries, 1)
	})
}

// A developer must not be able to send a provider's stored key to a host of
// their choosing: moving base_url elsewhere needs the key in the request.
func TestMovingBaseURLNeedsTheKey(t *testing.T) {
	t.Parallel()
	cases := map[string]providers.Patch{
		"another_host":         {BaseURL: domain.SetTo("https://attacker.example.com/v1")},
		"another_port":         {BaseURL: domain.SetTo("https://api.openai.com:8443/v1")},
		"downgrade_to_http":    {BaseURL: domain.SetTo("http://api.openai.com/v1")},
		"cleared_to_type_url":  {BaseURL: domain.Cleared[string]()},
		"userinfo_host_change": {BaseURL: domain.SetTo("https://api.openai.com@attacker.example.com/v1")},
	}
	for name, patch := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(fakes.Guard{})
			before, err := f.svc.Create(ctx, valid())
			require.NoError(t, err)
			_, err = f.svc.Update(ctx, before.ID, patch)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "api_key", ve.Fields[0].Field)
			got, err := f.svc.Get(ctx, before.ID)
			require.NoError(t, err)
			assert.Equal(t, before, got, "nothing changed")
			assert.Len(t, f.changes.Recorded(), 1)
		})
	}
	t.Run("a_provider_without_a_key_moves_freely", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		f := newFixture(fakes.Guard{})
		p := valid()
		p.APIKey = ""
		before, err := f.svc.Create(ctx, p)
		require.NoError(t, err)
		_, err = f.svc.Update(ctx, before.ID, providers.Patch{BaseURL: domain.SetTo("https://other.example.com")})
		require.NoError(t, err)
	})
	t.Run("the_audit_records_base_url_before_and_after", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		f := newFixture(fakes.Guard{})
		before, err := f.svc.Create(ctx, valid())
		require.NoError(t, err)
		_, err = f.svc.Update(ctx, before.ID, providers.Patch{BaseURL: domain.SetTo("https://user:pw@proxy.example.com/v1"),
			APIKey: domain.SetTo("sk-live-fedcba9876543210")})
		require.NoError(t, err)
		last := f.audit.Entries[len(f.audit.Entries)-1]
		assert.Equal(t, map[string]any{"from": "https://api.openai.com/v1", "to": "https://user:xxxxx@proxy.example.com/v1"}, last.Changes["base_url"])
		assert.Equal(t, domain.Redacted, last.Changes["api_key"])
		f.assertNoKeyInAudit(t, key, "sk-live-fedcba9876543210")
	})
}

func TestGoogleFieldsHaveTheirRealFormats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, project, location, field string
	}{
		{"plain_project_and_region", "my-project-123", "us-central1", ""},
		{"domain_scoped_project", "example.com:my-project", "europe-west4", ""},
		{"multi_region", "proj-01", "eu", ""},
		{"long_region_name", "proj-01", "northamerica-northeast1", ""},
		{"path_traversal_location", "proj-01", "../../169.254.169.254", "google_location"},
		{"slash_in_location", "proj-01", "us-central1/x", "google_location"},
		{"upper_case_location", "proj-01", "US-CENTRAL1", "google_location"},
		{"path_traversal_project", "../../169.254.169.254", "global", "google_project"},
		{"project_too_short", "abc", "global", "google_project"},
		{"project_starting_with_digit", "1project", "global", "google_project"},
		{"project_ending_with_hyphen", "project-", "global", "google_project"},
		{"project_with_query", "proj-01?x=1", "global", "google_project"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(fakes.Guard{})
			p := valid()
			p.Type, p.GoogleProject, p.GoogleLocation = "vertex", tc.project, tc.location
			_, err := f.svc.Create(context.Background(), p)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
		})
	}
}

func TestProviderTypesAreNormalized(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want, field string
		baseURL         string
	}{
		{" OpenAI ", "openai", "", ""},
		{"Vertex-Express", "", "google_project", ""},
		{"DeepSeek", "compatible", "", "https://api.deepseek.com/v1"},
		{"ollama", "compatible", "", "https://ollama.example.com/v1"},
		{"deepseek", "", "base_url", ""},
		{"azure", "", "type", "https://x.openai.azure.com"},
		{"custom", "", "type", "https://x.example.com"},
		{"suno", "", "type", "https://x.example.com"},
		{"", "", "type", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			f := newFixture(fakes.Guard{})
			p := valid()
			p.Type, p.BaseURL = tc.in, tc.baseURL
			got, err := f.svc.Create(context.Background(), p)
			if tc.field == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got.Type)
				assert.Contains(t, domain.ProviderTypes, got.Type, "only a type the balancer knows is stored")
				return
			}
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
		})
	}
}

func TestUpdateIsPartial(t *testing.T) {
	t.Parallel()
	const newKey = "sk-live-fedcba9876543210"
	cases := []struct {
		name   string
		create func(p *domain.Provider)
		patch  providers.Patch
		want   func(before domain.Provider) domain.Provider
		key    string // the key stored afterwards ("": none)
	}{
		{"leaves_unset_fields_unchanged", nil, providers.Patch{Weight: ptr(5)},
			func(p domain.Provider) domain.Provider { p.Weight = 5; return p }, key},
		{"clears_base_url_when_set_to_null_with_the_key", nil, providers.Patch{BaseURL: domain.Cleared[string](), APIKey: domain.SetTo(newKey)},
			func(p domain.Provider) domain.Provider { p.BaseURL, p.APIKeyMask = "", mask(newKey); return p }, newKey},
		{"replaces_base_url_host_with_the_key", nil, providers.Patch{BaseURL: domain.SetTo("https://proxy.example.com"), APIKey: domain.SetTo(newKey)},
			func(p domain.Provider) domain.Provider {
				p.BaseURL, p.APIKeyMask = "https://proxy.example.com", mask(newKey)
				return p
			}, newKey},
		{"changes_base_url_path_on_the_same_host_without_the_key", nil, providers.Patch{BaseURL: domain.SetTo("https://API.openai.com/v2")},
			func(p domain.Provider) domain.Provider { p.BaseURL = "https://API.openai.com/v2"; return p }, key},
		{"clears_google_location_to_the_vertex_default",
			func(p *domain.Provider) { p.Type, p.GoogleProject, p.GoogleLocation = "vertex", "proj-01", "us-east1" },
			providers.Patch{GoogleLocation: domain.Cleared[string]()},
			func(p domain.Provider) domain.Provider { p.GoogleLocation = "global"; return p }, key},
		{"switching_to_vertex_defaults_the_location", nil,
			providers.Patch{Type: ptr("vertex"), GoogleProject: domain.SetTo("proj-01")},
			func(p domain.Provider) domain.Provider {
				p.Type, p.GoogleProject, p.GoogleLocation = "vertex", "proj-01", "global"
				return p
			}, key},
		{"replaces_the_key_and_its_mask", nil, providers.Patch{APIKey: domain.SetTo(newKey)},
			func(p domain.Provider) domain.Provider { p.APIKeyMask = mask(newKey); return p }, newKey},
		{"clears_the_key_when_set_to_null", nil, providers.Patch{APIKey: domain.Cleared[string]()},
			func(p domain.Provider) domain.Provider { p.APIKeyMask = ""; return p }, ""},
		{"replaces_models_and_status", nil,
			providers.Patch{Models: &[]string{"o3"}, Status: ptr(domain.ProviderDisabled), AutoBan: ptr(true), Priority: ptr(-1)},
			func(p domain.Provider) domain.Provider {
				p.Models, p.Status, p.AutoBan, p.Priority = []string{"o3"}, domain.ProviderDisabled, true, -1
				return p
			}, key},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(fakes.Guard{})
			p := valid()
			if tc.create != nil {
				tc.create(&p)
			}
			before, err := f.svc.Create(ctx, p)
			require.NoError(t, err)

			got, err := f.svc.Update(ctx, before.ID, tc.patch)
			require.NoError(t, err)
			assert.Equal(t, tc.want(before), got)

			ct := f.secret(t, before.ID)
			if tc.key == "" {
				assert.Nil(t, ct)
			} else {
				plain, err := f.svc.DecryptKey(before.ID, ct)
				require.NoError(t, err)
				assert.Equal(t, tc.key, plain)
			}
			recorded := f.changes.Recorded()
			require.Len(t, recorded, 2, "one change per mutation")
			assert.Equal(t, domain.SectionProviders, recorded[1].Section)
			assert.Equal(t, domain.OpUpsert, recorded[1].Op)
			assert.Equal(t, []string{"provider.create", "provider.update"}, f.audit.Actions())
			f.assertNoKeyInAudit(t, key, newKey)
		})
	}
}

func TestUpdateRejectsInvalidChanges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		create func(p *domain.Provider)
		patch  providers.Patch
		field  string
	}{
		{"compatible_cannot_lose_its_base_url", func(p *domain.Provider) { p.Type = "compatible" },
			providers.Patch{BaseURL: domain.Cleared[string]()}, "base_url"},
		{"a_new_base_url_goes_through_the_guard", nil,
			providers.Patch{BaseURL: domain.SetTo("http://127.0.0.1:8080")}, "base_url"},
		{"vertex_cannot_lose_its_project", func(p *domain.Provider) { p.Type, p.GoogleProject = "vertex", "proj-01" },
			providers.Patch{GoogleProject: domain.Cleared[string]()}, "google_project"},
		{"models_cannot_become_empty", nil, providers.Patch{Models: &[]string{}}, "models"},
		{"type_must_stay_known", nil, providers.Patch{Type: ptr("nope")}, "type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(fakes.Guard{})
			p := valid()
			if tc.create != nil {
				tc.create(&p)
			}
			before, err := f.svc.Create(ctx, p)
			require.NoError(t, err)

			_, err = f.svc.Update(ctx, before.ID, tc.patch)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, []string{tc.field}, fieldNames(ve))
			assert.Len(t, f.changes.Recorded(), 1, "only the create was recorded")
			assert.Equal(t, []string{"provider.create"}, f.audit.Actions())
			after, err := f.svc.Get(ctx, before.ID)
			require.NoError(t, err)
			assert.Equal(t, before, after, "nothing changed")
		})
	}

	t.Run("an_unchanged_base_url_is_not_checked_again", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		// Created while private addresses were allowed; a later update of
		// another field must not fail on the stored URL.
		allowing := newFixture(fakes.Guard{AllowPrivate: true})
		p := valid()
		p.BaseURL = "http://127.0.0.1:11434"
		created, err := allowing.svc.Create(ctx, p)
		require.NoError(t, err)
		strict := providers.NewService(allowing.repo, allowing.groups, allowing.cipher, fakes.Guard{},
			changes.NewMutator(fakes.TxRunner{}, allowing.audit, allowing.changes, &fakes.Clock{}, nil), mask, providers.Policy{MaxModels: 3})
		_, err = strict.Update(ctx, created.ID, providers.Patch{Weight: ptr(2)})
		assert.NoError(t, err)
	})

	t.Run("a_missing_provider_is_not_found", func(t *testing.T) {
		t.Parallel()
		f := newFixture(fakes.Guard{})
		_, err := f.svc.Update(context.Background(), 42, providers.Patch{Weight: ptr(1)})
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.Empty(t, f.changes.Recorded())
	})
}

func TestUpdateMovesTheProviderToAnotherGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(fakes.Guard{})
	p, err := f.svc.Create(ctx, valid())
	require.NoError(t, err)
	got, err := f.svc.Update(ctx, p.ID, providers.Patch{Group: ptr("eu")})
	require.NoError(t, err)
	ids, err := f.groups.Lookup(ctx, []string{"eu"})
	require.NoError(t, err)
	assert.Equal(t, "eu", got.Group)
	assert.Equal(t, ids["eu"], got.GroupID)
	assert.NotEqual(t, p.GroupID, got.GroupID)
}

func TestDeleteRecordsOneDeletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(fakes.Guard{})
	p, err := f.svc.Create(ctx, valid())
	require.NoError(t, err)
	require.NoError(t, f.svc.Delete(ctx, p.ID))
	_, err = f.svc.Get(ctx, p.ID)
	assert.ErrorIs(t, err, domain.ErrNotFound)
	recorded := f.changes.Recorded()
	require.Len(t, recorded, 2)
	assert.Equal(t, fakes.Change{Version: 2, Section: domain.SectionProviders, EntityID: strconv.FormatInt(p.ID, 10),
		Op: domain.OpDelete}, recorded[1])
	assert.ErrorIs(t, f.svc.Delete(ctx, p.ID), domain.ErrNotFound)
	assert.Len(t, f.changes.Recorded(), 2)
}

func TestRotateSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	create := func(t *testing.T, f fixture, name, apiKey string) domain.Provider {
		t.Helper()
		p := valid()
		p.Name, p.APIKey = name, apiKey
		out, err := f.svc.Create(ctx, p)
		require.NoError(t, err)
		return out
	}

	t.Run("re_encrypts_only_stale_keys_and_is_idempotent", func(t *testing.T) {
		t.Parallel()
		f := newFixture(fakes.Guard{})
		keys := map[int64]string{}
		for i, k := range []string{"sk-old-key-aaaa1", "sk-old-key-bbbb2"} {
			keys[create(t, f, fmt.Sprintf("old-%d", i), k).ID] = k
		}
		create(t, f, "keyless", "")
		f.cipher.Rotate()
		fresh := create(t, f, "fresh", "sk-new-key-cccc3")
		keys[fresh.ID] = "sk-new-key-cccc3"
		freshCT := f.secret(t, fresh.ID)
		changesBefore := len(f.changes.Recorded())

		n, err := f.svc.RotateSecrets(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n, "only the keys under the old version")
		for id, k := range keys {
			ct := f.secret(t, id)
			assert.False(t, f.cipher.Stale(ct), "provider %d", id)
			plain, err := f.svc.DecryptKey(id, ct)
			require.NoError(t, err)
			assert.Equal(t, k, plain)
		}
		assert.Equal(t, freshCT, f.secret(t, fresh.ID), "a current ciphertext is left alone")

		n, err = f.svc.RotateSecrets(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "a second run has nothing to do")

		assert.Len(t, f.changes.Recorded(), changesBefore, "re-encryption changes no configuration")
		rotations := 0
		for _, e := range f.audit.Entries {
			if e.Action == "provider.rotate_key" {
				rotations++
				assert.Equal(t, domain.Redacted, e.Changes["api_key"])
			}
		}
		assert.Equal(t, 2, rotations)
		f.assertNoKeyInAudit(t, "sk-old-key-aaaa1", "sk-old-key-bbbb2", "sk-new-key-cccc3")
	})

	t.Run("walks_every_batch", func(t *testing.T) {
		t.Parallel()
		f := newFixture(fakes.Guard{})
		const total = 450 // more than two batches
		for i := range total {
			create(t, f, fmt.Sprintf("p-%03d", i), fmt.Sprintf("sk-key-%06d", i))
		}
		f.cipher.Rotate()
		n, err := f.svc.RotateSecrets(ctx)
		require.NoError(t, err)
		assert.Equal(t, total, n)
		n, err = f.svc.RotateSecrets(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}
