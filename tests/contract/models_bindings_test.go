package contract_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// Not parallel: it counts rows to prove bad input writes nothing.
func TestModelsAndBindings(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)

	mkProvider := func(name, group string, models ...string) int64 {
		res, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
			Name: name, Type: apiclient.ProviderTypeOpenai, Group: &group, Models: models}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		return res.JSON201.Id
	}
	p1 := mkProvider("mb-p1", "blue", "gpt-4o", "gpt-4o-mini")
	p2 := mkProvider("mb-p2", "blue", "openai/GPT-4o")
	mkProvider("mb-p3", "green", "claude-sonnet")

	var modelID int64
	t.Run("createModel201", func(t *testing.T) {
		cw := int32(128000)
		price := 2.5
		res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{
			Name: "gpt-4o", ContextWindow: &cw, InputPricePerMtok: &price}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		assert.Equal(t, "default.gpt-4o", res.JSON201.Key)
		assert.Equal(t, apiclient.ModelKindChat, res.JSON201.Kind)
		assert.True(t, res.JSON201.SupportsStream)
		modelID = res.JSON201.Id
	})

	t.Run("createModel409_same_namespace_and_name", func(t *testing.T) {
		before := countRows(t, env, "models")
		res, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "gpt-4o"}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, res.StatusCode())
		assert.Equal(t, before, countRows(t, env, "models"))
		ns := apiclient.ModelNamespace("team-a")
		res, err = env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Namespace: &ns, Name: "gpt-4o"}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), "another namespace is another model")
	})

	t.Run("createModel400_bad_input_changes_nothing", func(t *testing.T) {
		for _, body := range []string{
			`{"name":"has space"}`, `{"name":"x","kind":"video"}`, `{"name":"x","input_price_per_mtok":-1}`,
			`{"name":"x","namespace":"Bad.NS"}`, `{"name":"x","context_window":0}`, `{"name":"x","key":"default.x"}`,
		} {
			before := countRows(t, env, "models")
			problemOf(t, rawJSON(t, env, http.MethodPost, "/models", admin, []byte(body)), http.StatusBadRequest)
			assert.Equal(t, before, countRows(t, env, "models"), body)
		}
	})

	t.Run("updateModel200_null_clears", func(t *testing.T) {
		res, err := env.Client.UpdateModelWithBodyWithResponse(ctx, modelID, "application/json",
			strings.NewReader(`{"context_window":null,"output_price_per_mtok":10}`), as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		assert.True(t, res.JSON200.ContextWindow.IsNull())
		assert.Equal(t, 10.0, res.JSON200.OutputPricePerMtok)
		assert.Equal(t, 2.5, res.JSON200.InputPricePerMtok, "untouched")
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/models/"+itoa(modelID), admin, []byte(`{"name":"renamed"}`)), http.StatusBadRequest)
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/models/987654", admin, []byte(`{"status":"disabled"}`)), http.StatusNotFound)
	})

	t.Run("getModel_and_listModels", func(t *testing.T) {
		res, err := env.Client.GetModelWithResponse(ctx, modelID, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		miss, err := env.Client.GetModelWithResponse(ctx, 987654, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, miss.StatusCode())
		ns := "team-a"
		list, err := env.Client.ListModelsWithResponse(ctx, &apiclient.ListModelsParams{Namespace: &ns}, as)
		require.NoError(t, err)
		require.Len(t, list.JSON200.Items, 1)
		assert.Equal(t, "team-a.gpt-4o", list.JSON200.Items[0].Key)
	})

	var bindingID int64
	t.Run("createBinding201_with_resolution", func(t *testing.T) {
		blue, green, empty := "blue", "green", "nobody-here"
		res, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{
			PublicModel: "gpt-4o",
			Candidates: apiclient.BindingCandidates{
				{RouteGroup: &blue, SelectorType: apiclient.SelectorTypeNormalizeExact, SelectorValue: "GPT-4o"},
				{RouteGroup: &blue, SelectorType: apiclient.SelectorTypeRegex, SelectorValue: "^gpt-4o"},
				{RouteGroup: &green, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "gpt-4o"},
				{RouteGroup: &empty, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "gpt-4o"},
			},
		}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		b := res.JSON201
		bindingID = b.Id
		assert.Equal(t, "default.gpt-4o", b.Key)
		require.Len(t, b.Candidates, 4)

		ok := b.Candidates[0]
		assert.Equal(t, apiclient.BindingCandidateStatusOk, ok.Status)
		assert.True(t, ok.Error.IsNull())
		assert.Equal(t, map[string]string{itoa(p1): "gpt-4o", itoa(p2): "openai/GPT-4o"}, ok.Upstreams)
		assert.Positive(t, ok.GroupId)

		several := b.Candidates[1]
		assert.Equal(t, apiclient.BindingCandidateStatusError, several.Status)
		assert.Equal(t, apiclient.BindingCandidateErrorConfigError, several.Error.MustGet(), "two models of p1 match")
		assert.Empty(t, several.Upstreams)

		assert.Equal(t, apiclient.BindingCandidateErrorNoProvider, b.Candidates[2].Error.MustGet(), "green serves no gpt-4o")
		assert.Equal(t, apiclient.BindingCandidateErrorNoProvider, b.Candidates[3].Error.MustGet(), "empty group")
	})

	t.Run("disabling_a_provider_changes_the_resolution", func(t *testing.T) {
		mustPatchProvider(t, env, admin, p2, `{"status":"disabled"}`)
		// Reads serve the stored resolution; the publisher recomputes it
		// when it publishes the provider change.
		want := map[string]string{itoa(p1): "gpt-4o"}
		var res *apiclient.GetBindingResponse
		require.Eventually(t, func() bool {
			var err error
			res, err = env.Client.GetBindingWithResponse(ctx, bindingID, as)
			return err == nil && res.JSON200 != nil && assert.ObjectsAreEqual(want, res.JSON200.Candidates[0].Upstreams)
		}, 5*time.Second, 20*time.Millisecond, "the recomputed resolution is served once published")
		require.NotNil(t, res.JSON200.Resolution)
		assert.Equal(t, apiclient.BindingResolutionSourceStored, res.JSON200.Resolution.Source)
	})

	t.Run("createBinding_bad_input_changes_nothing", func(t *testing.T) {
		cases := []struct {
			body   string
			status int
		}{
			{`{"public_model":"no-such-model","candidates":[{"selector_type":"exact","selector_value":"x"}]}`, http.StatusUnprocessableEntity},
			{`{"public_model":"gpt-4o","namespace":"team-a","candidates":[{"selector_type":"regex","selector_value":"gpt-(4o"}]}`, http.StatusUnprocessableEntity},
			{`{"public_model":"gpt-4o","candidates":[{"selector_type":"exact","selector_value":"x"}]}`, http.StatusConflict},
			{`{"public_model":"gpt-4o","namespace":"team-a","candidates":[{"selector_type":"glob","selector_value":"x"}]}`, http.StatusBadRequest},
			{`{"public_model":"gpt-4o","namespace":"team-a","candidates":[]}`, http.StatusBadRequest},
			{`{"public_model":"gpt-4o","namespace":"team-a","candidates":[{"selector_type":"exact","selector_value":"x","weight":-2}]}`, http.StatusBadRequest},
		}
		for _, tc := range cases {
			before := countRows(t, env, "bindings")
			problemOf(t, rawJSON(t, env, http.MethodPost, "/bindings", admin, []byte(tc.body)), tc.status)
			assert.Equal(t, before, countRows(t, env, "bindings"), tc.body)
		}
	})

	t.Run("updateBinding200_and_422_and_404", func(t *testing.T) {
		res, err := env.Client.UpdateBindingWithBodyWithResponse(ctx, bindingID, "application/json",
			strings.NewReader(`{"status":"disabled"}`), as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		assert.Equal(t, apiclient.ResourceStatusDisabled, res.JSON200.Status)
		assert.Len(t, res.JSON200.Candidates, 4, "untouched")
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/bindings/"+itoa(bindingID), admin,
			[]byte(`{"candidates":[{"selector_type":"regex","selector_value":"("}]}`)), http.StatusUnprocessableEntity)
		problemOf(t, rawJSON(t, env, http.MethodPatch, "/bindings/987654", admin, []byte(`{"status":"active"}`)), http.StatusNotFound)
	})

	t.Run("listBindings200", func(t *testing.T) {
		st := apiclient.ResourceStatusDisabled
		res, err := env.Client.ListBindingsWithResponse(ctx, &apiclient.ListBindingsParams{Status: &st}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		require.Len(t, res.JSON200.Items, 1)
		assert.Equal(t, bindingID, res.JSON200.Items[0].Id)
	})

	t.Run("deleteModel409_names_the_binding", func(t *testing.T) {
		before := countRows(t, env, "models")
		res, err := env.Client.DeleteModelWithResponse(ctx, modelID, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, res.StatusCode())
		assert.Contains(t, *res.ApplicationproblemJSON409.Detail, "default.gpt-4o")
		assert.Equal(t, before, countRows(t, env, "models"))
	})

	t.Run("deleteBinding204_then_model204", func(t *testing.T) {
		res, err := env.Client.DeleteBindingWithResponse(ctx, bindingID, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode())
		again, err := env.Client.DeleteBindingWithResponse(ctx, bindingID, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, again.StatusCode())
		get, err := env.Client.GetBindingWithResponse(ctx, bindingID, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, get.StatusCode())
		del, err := env.Client.DeleteModelWithResponse(ctx, modelID, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNoContent, del.StatusCode())
		del, err = env.Client.DeleteModelWithResponse(ctx, modelID, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, del.StatusCode())
	})
}
