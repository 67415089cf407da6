package contract_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oapi-codegen/nullable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// Not parallel: it counts rows to prove bad input writes nothing.
func TestProviders(t *testing.T) {
	env := testenv.Start(t, func(c *app.Config) {
		c.Providers.AllowPrivateNetworks = new(bool)
		c.Providers.MaxModels = 5
	})
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	const secret = "sk-live-0123456789abcdefXYZ"

	var id int64
	t.Run("createProvider201_key_encrypted_and_masked", func(t *testing.T) {
		before := countRows(t, env, "providers")
		key := secret
		res, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: "openai-main", Type: apiclient.ProviderTypeOpenai, ApiKey: &key, Models: []string{"gpt-4o", "gpt-4o-mini"},
		}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		p := res.JSON201
		id = p.Id
		assert.Equal(t, "…fXYZ", p.ApiKey)
		assert.NotContains(t, string(res.Body), secret)
		assert.Equal(t, "default", p.Group)
		assert.Positive(t, p.GroupId)
		assert.Equal(t, int32(1), p.Weight)
		assert.Equal(t, apiclient.ProviderStatusActive, p.Status)

		var ct []byte
		require.NoError(t, env.DB.Get(&ct, `SELECT api_key_ciphertext FROM providers WHERE id = $1`, id))
		assert.NotContains(t, string(ct), secret, "encrypted at rest")
		assert.Equal(t, byte(1), ct[0], "format byte")

		after := countRows(t, env, "providers")
		assert.Equal(t, before.Rows+1, after.Rows)
		assert.Equal(t, before.Version+1, after.Version, "one config version (outbox row) per mutation")
		assert.Equal(t, before.Audit+1, after.Audit)
		var changes string
		require.NoError(t, env.DB.Get(&changes, `SELECT changes::text FROM audit_log WHERE action = 'provider.create' AND resource_id = $1`, itoa(id)))
		assert.NotContains(t, changes, secret)
		assert.NotContains(t, changes, "fXYZ")
	})

	t.Run("getProvider200_masked", func(t *testing.T) {
		res, err := env.Client.GetProviderWithResponse(ctx, id, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Equal(t, "…fXYZ", res.JSON200.ApiKey)
		assert.NotContains(t, string(res.Body), secret)
	})

	t.Run("createProvider409_duplicate_name", func(t *testing.T) {
		before := countRows(t, env, "providers")
		res, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: "openai-main", Type: apiclient.ProviderTypeOpenai, Models: []string{"x"}}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, res.StatusCode())
		assert.Equal(t, before, countRows(t, env, "providers"), "nothing written")
	})

	t.Run("createProvider422_semantic_rules_change_nothing", func(t *testing.T) {
		cases := map[string]struct {
			body  string
			field string
		}{
			"compatible_without_base_url": {`{"name":"c1","type":"compatible","models":["m"]}`, "base_url"},
			"vertex_without_project":      {`{"name":"v1","type":"vertex","models":["gemini"]}`, "google_project"},
			"metadata_address":            {`{"name":"c2","type":"compatible","base_url":"http://169.254.169.254/latest","models":["m"]}`, "base_url"},
			"loopback_address":            {`{"name":"c3","type":"compatible","base_url":"http://127.0.0.1:11434/v1","models":["m"]}`, "base_url"},
			"private_address":             {`{"name":"c4","type":"compatible","base_url":"https://10.1.2.3/v1","models":["m"]}`, "base_url"},
			"scheme_not_http":             {`{"name":"c5","type":"compatible","base_url":"ftp://example.com/","models":["m"]}`, "base_url"},
			"too_many_models":             {`{"name":"c6","type":"openai","models":["a","b","c","d","e","f"]}`, "models"},
			"duplicate_model":             {`{"name":"c7","type":"openai","models":["a","a"]}`, "models.1"},
			"unknown_type":                {`{"name":"c8","type":"skynet","models":["m"]}`, "type"},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				before := countRows(t, env, "providers")
				p := problemOf(t, rawJSON(t, env, http.MethodPost, "/providers", admin, []byte(tc.body)), http.StatusUnprocessableEntity)
				require.NotNil(t, p.Errors)
				assert.Equal(t, tc.field, (*p.Errors)[0].Field)
				assert.Equal(t, before, countRows(t, env, "providers"))
			})
		}
	})

	t.Run("createProvider400_contract_violations_change_nothing", func(t *testing.T) {
		cases := map[string][]byte{
			"empty_type":      []byte(`{"name":"b1","type":"","models":["m"]}`),
			"negative_weight": []byte(`{"name":"b2","type":"openai","models":["m"],"weight":-1}`),
			"empty_models":    []byte(`{"name":"b3","type":"openai","models":[]}`),
			"huge_name":       []byte(`{"name":"` + strings.Repeat("n", 10<<10) + `","type":"openai","models":["m"]}`),
			"unknown_field":   []byte(`{"name":"b4","type":"openai","models":["m"],"owner":"me"}`),
			"id_is_immutable": []byte(`{"id":7,"name":"b5","type":"openai","models":["m"]}`),
			"invalid_utf8":    append([]byte(`{"name":"b6`), 0xff, 0xfe, '"', ',', '"', 't', 'y', 'p', 'e', '"', ':', '"', 'o', 'p', 'e', 'n', 'a', 'i', '"', ',', '"', 'm', 'o', 'd', 'e', 'l', 's', '"', ':', '[', '"', 'm', '"', ']', '}'),
			"huge_models":     []byte(`{"name":"b7","type":"openai","models":[` + strings.Repeat(`"m",`, 10_000) + `"m"]}`),
		}
		for name, body := range cases {
			t.Run(name, func(t *testing.T) {
				before := countRows(t, env, "providers")
				problemOf(t, rawJSON(t, env, http.MethodPost, "/providers", admin, body), http.StatusBadRequest)
				assert.Equal(t, before, countRows(t, env, "providers"))
			})
		}
	})

	t.Run("vertex_location_defaults_to_global", func(t *testing.T) {
		proj := "proj-1"
		res, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: "vertex-1", Type: apiclient.ProviderTypeVertexExpress, GoogleProject: &proj, Models: []string{"gemini-3-pro-preview"}}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		assert.Equal(t, "global", res.JSON201.GoogleLocation.MustGet())
		assert.Equal(t, "proj-1", res.JSON201.GoogleProject.MustGet())
	})

	t.Run("updateProvider200_partial_null_and_new_key", func(t *testing.T) {
		body := apiclient.UpdateProviderJSONRequestBody{}
		weight := int32(7)
		body.Weight = &weight
		body.ApiKey = nullable.NewNullableWithValue("sk-new-key-abcdefghijkl9876")
		res, err := env.Client.UpdateProviderWithResponse(ctx, id, body, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		assert.Equal(t, int32(7), res.JSON200.Weight)
		assert.Equal(t, "…9876", res.JSON200.ApiKey)
		assert.Equal(t, []string{"gpt-4o", "gpt-4o-mini"}, res.JSON200.Models, "untouched fields stay")

		cleared := mustPatchProvider(t, env, admin, id, `{"api_key":null}`)
		assert.Equal(t, "", cleared.ApiKey, "null clears the key")
		var ct []byte
		require.NoError(t, env.DB.Get(&ct, `SELECT coalesce(api_key_ciphertext, '') FROM providers WHERE id = $1`, id))
		assert.Empty(t, ct)
	})

	t.Run("updateProvider400_unknown_or_immutable_field", func(t *testing.T) {
		for _, body := range []string{`{"created_at":"2020-01-01T00:00:00Z"}`, `{"id":99}`, `{}`, `{"nope":1}`} {
			problemOf(t, rawJSON(t, env, http.MethodPatch, "/providers/"+itoa(id), admin, []byte(body)), http.StatusBadRequest)
		}
	})

	t.Run("updateProvider422_and_404", func(t *testing.T) {
		p := problemOf(t, rawJSON(t, env, http.MethodPatch, "/providers/"+itoa(id), admin, []byte(`{"type":"compatible"}`)), http.StatusUnprocessableEntity)
		assert.Equal(t, "base_url", (*p.Errors)[0].Field)
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/providers/987654", admin, []byte(`{"weight":1}`)), http.StatusNotFound)
	})

	t.Run("updateProvider409_name_taken", func(t *testing.T) {
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/providers/"+itoa(id), admin, []byte(`{"name":"vertex-1"}`)), http.StatusConflict)
	})

	t.Run("listProviders200_filters_and_pages", func(t *testing.T) {
		vt := apiclient.ProviderTypeVertexExpress
		res, err := env.Client.ListProvidersWithResponse(ctx, &apiclient.ListProvidersParams{Type: &vt}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		require.Len(t, res.JSON200.Items, 1)
		assert.Equal(t, "vertex-1", res.JSON200.Items[0].Name)

		prefix := "openai"
		res, err = env.Client.ListProvidersWithResponse(ctx, &apiclient.ListProvidersParams{NamePrefix: &prefix}, as)
		require.NoError(t, err)
		require.Len(t, res.JSON200.Items, 1)

		limit := int32(1)
		res, err = env.Client.ListProvidersWithResponse(ctx, &apiclient.ListProvidersParams{Limit: &limit}, as)
		require.NoError(t, err)
		require.Len(t, res.JSON200.Items, 1)
		require.False(t, res.JSON200.NextCursor.IsNull())
		cur := res.JSON200.NextCursor.MustGet()
		res2, err := env.Client.ListProvidersWithResponse(ctx, &apiclient.ListProvidersParams{Limit: &limit, Cursor: &cur}, as)
		require.NoError(t, err)
		require.Len(t, res2.JSON200.Items, 1)
		assert.NotEqual(t, res.JSON200.Items[0].Id, res2.JSON200.Items[0].Id)
	})

	t.Run("deleteProvider204_then_404", func(t *testing.T) {
		res, err := env.Client.DeleteProviderWithResponse(ctx, id, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode())
		res, err = env.Client.DeleteProviderWithResponse(ctx, id, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, res.StatusCode())
		get, err := env.Client.GetProviderWithResponse(ctx, id, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, get.StatusCode())
	})

	t.Run("audit_records_the_change_seq_of_each_change", func(t *testing.T) {
		var versions []int64
		require.NoError(t, env.DB.Select(&versions, `SELECT (changes->>'change_seq')::bigint FROM audit_log
WHERE resource_type = 'provider' AND changes ? 'change_seq' ORDER BY id`))
		require.NotEmpty(t, versions)
		for i := 1; i < len(versions); i++ {
			assert.Greater(t, versions[i], versions[i-1], "change numbers strictly increase")
		}
	})
}

func mustPatchProvider(t *testing.T, env *testenv.Env, cred string, id int64, body string) apiclient.Provider {
	t.Helper()
	res, err := env.Client.UpdateProviderWithBodyWithResponse(context.Background(), id, "application/json",
		strings.NewReader(body), testenv.WithToken(cred))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return *res.JSON200
}

func TestPrivateUpstreamsAllowedWhenConfigured(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) { allow := true; c.Providers.AllowPrivateNetworks = &allow })
	admin := env.AdminToken(t)
	res := rawJSON(t, env, http.MethodPost, "/providers", admin,
		[]byte(`{"name":"local-llm","type":"compatible","base_url":"http://127.0.0.1:11434/v1","models":["llama3"]}`))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	// The scheme rule holds regardless.
	problemOf(t, rawJSON(t, env, http.MethodPost, "/providers", admin,
		[]byte(`{"name":"local-file","type":"compatible","base_url":"file:///etc/passwd","models":["m"]}`)), http.StatusUnprocessableEntity)
}
