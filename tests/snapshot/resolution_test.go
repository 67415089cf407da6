package snapshot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// runawayPattern passes the write-time bound (short, a few hundred
// instructions) but costs about a millisecond per long model id, and
// matches none: without the budget, a binding over the providers below
// resolves to no_provider after seconds.
const runawayPattern = `(?:[a-z0-9-]{0,3}x?){1,60}zzz-never`

func longModelIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("vendor-model-%04d-abcdefghijklmnopqrstuvwxyz-0123456789-instruct-preview", i)
	}
	return out
}

func bindingValue(t *testing.T, env *testenv.Env, key string) (snapshot.BindingJSON, bool) {
	t.Helper()
	raw, err := env.Redis(t).HGet(context.Background(), snapshot.KeyBindings, key).Result()
	if err != nil {
		return snapshot.BindingJSON{}, false
	}
	var b snapshot.BindingJSON
	require.NoError(t, json.Unmarshal([]byte(raw), &b))
	return b, true
}

func metricsText(t *testing.T, env *testenv.Env) string {
	t.Helper()
	res, err := env.HTTP.Get(env.BaseURL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}

func gaugeValue(t *testing.T, metrics, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestPathologicalSelectorRunsOutOfBudgetAndFailsOnlyItsBinding(t *testing.T) {
	env := testenv.Start(t, fastSync, func(c *app.Config) { c.Sync.BindingResolveBudget = 5 * time.Millisecond })
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	slow, fast := "budget-slow", "budget-fast"
	ids := longModelIDs(200)
	for i := range 10 {
		p, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: fmt.Sprintf("budget-slow-%d", i),
			Type: apiclient.ProviderTypeOpenai, Group: &slow, Models: ids}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
	}
	p, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "budget-fast-1",
		Type: apiclient.ProviderTypeOpenai, Group: &fast, Models: []string{"gpt-4o"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
	for _, name := range []string{"budget-runaway", "budget-fine"} {
		m, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: name}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, m.StatusCode())
	}

	start := time.Now()
	bad, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "budget-runaway",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &slow, SelectorType: apiclient.SelectorTypeRegex, SelectorValue: runawayPattern}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bad.StatusCode(), "the selector passes the write-time bound: %s", bad.Body)
	require.Len(t, bad.JSON201.Candidates, 1)
	c := bad.JSON201.Candidates[0]
	assert.Equal(t, apiclient.BindingCandidateStatusError, c.Status)
	assert.Equal(t, apiclient.BindingCandidateErrorConfigError, c.Error.MustGet())
	require.NotNil(t, c.Detail)
	assert.Contains(t, *c.Detail, "time budget", "the write resolved within the budget too")

	// Publishing goes on meanwhile: another binding and a key reach Redis.
	good, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "budget-fine",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &fast, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "gpt-4o"}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, good.StatusCode(), string(good.Body))
	master, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "budget-tenant"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, master.StatusCode())
	key, err := env.Client.IssueMasterKeyWithResponse(ctx, master.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "app"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode())
	rdb := env.Redis(t)
	require.Eventually(t, func() bool {
		ok, _ := rdb.HExists(ctx, snapshot.KeyAuthKeys, sha256hex(key.JSON201.Token)).Result()
		b, found := bindingValue(t, env, "default.budget-fine")
		return ok && found && b.Candidates[0].Status == "ok"
	}, 10*time.Second, 20*time.Millisecond, "the key and the other binding are published")
	// A provider change in the slow group re-resolves the runaway binding
	// (out of budget again) without holding anything else up.
	more, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "budget-slow-more",
		Type: apiclient.ProviderTypeOpenai, Group: &slow, Models: ids}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, more.StatusCode(), string(more.Body))
	redisMatchesDatabase(t, env, 10*time.Second)
	t.Logf("everything published %s after the runaway binding was written", time.Since(start).Round(time.Millisecond))

	b, ok := bindingValue(t, env, "default.budget-runaway")
	require.True(t, ok)
	require.Len(t, b.Candidates, 1)
	assert.Equal(t, "error", b.Candidates[0].Status, "published fail-closed")
	assert.Equal(t, "config_error", b.Candidates[0].Error)
	assert.Empty(t, b.Candidates[0].Upstreams)

	st, err := env.Client.GetSyncStatusWithResponse(ctx, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st.StatusCode(), string(st.Body))
	require.NotNil(t, st.JSON200.Faults)
	assert.Contains(t, *st.JSON200.Faults, apiclient.SnapshotFault{Key: snapshot.KeyBindings, Field: "default.budget-runaway",
		Reason: snapshot.FaultResolveBudget})
	assert.Empty(t, st.JSON200.LastError, "publishing did not fail")
	metrics := metricsText(t, env)
	assert.Regexp(t, `ezapi_binding_resolve_budget_exceeded_total [1-9]`, metrics)
	// The gauge comes from the published state (the delta's bookkeeping),
	// not from a fresh build.
	faultsBefore := gaugeValue(t, metrics, "ezapi_snapshot_faults")
	assert.GreaterOrEqual(t, faultsBefore, 1.0)

	got, err := env.Client.GetBindingWithResponse(ctx, bad.JSON201.Id, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode())
	require.NotNil(t, got.JSON200.Resolution)
	assert.Equal(t, apiclient.BindingResolutionSourceStored, got.JSON200.Resolution.Source)
	assert.Contains(t, *got.JSON200.Candidates[0].Detail, "time budget")

	// A simple selector fixes the binding and clears its fault.
	exact := []apiclient.BindingCandidateInput{{RouteGroup: &slow, SelectorType: apiclient.SelectorTypeExact, SelectorValue: ids[0]}}
	up, err := env.Client.UpdateBindingWithResponse(ctx, bad.JSON201.Id, apiclient.UpdateBindingJSONRequestBody{Candidates: &exact}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
	redisMatchesDatabase(t, env, 10*time.Second)
	st, err = env.Client.GetSyncStatusWithResponse(ctx, as)
	require.NoError(t, err)
	if st.JSON200.Faults != nil {
		for _, f := range *st.JSON200.Faults {
			assert.NotEqual(t, "default.budget-runaway", f.Field, "the fault is gone")
		}
	}
	assert.Equal(t, faultsBefore-1, gaugeValue(t, metricsText(t, env), "ezapi_snapshot_faults"),
		"the delta that republished the binding dropped its fault")
	b, _ = bindingValue(t, env, "default.budget-runaway")
	assert.Equal(t, "ok", b.Candidates[0].Status)
	assert.Len(t, b.Candidates[0].Upstreams, 11)
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestBindingsServeTheStoredResolutionUntilThePublisherRecomputesIt(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	group := "stored-res"
	p1, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "stored-1",
		Type: apiclient.ProviderTypeOpenai, Group: &group, Models: []string{"gpt-4o-2024-08-06"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, p1.StatusCode(), string(p1.Body))
	m, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "stored-gpt-4o"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, m.StatusCode())
	bind, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "stored-gpt-4o",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &group, SelectorType: apiclient.SelectorTypeRegex, SelectorValue: "^gpt-4o-2024"}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bind.StatusCode(), string(bind.Body))
	require.NotNil(t, bind.JSON201.Resolution)
	assert.Equal(t, apiclient.BindingResolutionSourceStored, bind.JSON201.Resolution.Source, "the write stores what it resolved")
	created := bind.JSON201.Resolution.Version.MustGet()
	assert.Equal(t, map[string]string{fmt.Sprint(p1.JSON201.Id): "gpt-4o-2024-08-06"}, bind.JSON201.Candidates[0].Upstreams)
	redisMatchesDatabase(t, env, 5*time.Second)

	var version int64
	require.NoError(t, env.DB.Get(&version, `SELECT version FROM binding_resolutions WHERE binding_id = $1`, bind.JSON201.Id))
	assert.Equal(t, created, version)

	// Reads serve the stored row: mark it, and GET shows the mark (a read
	// that resolved again would show provider stored-1).
	_, err = env.DB.Exec(`UPDATE binding_resolutions SET resolution = jsonb_set(resolution, '{0,upstreams}', '{"999999": "marked"}')
WHERE binding_id = $1`, bind.JSON201.Id)
	require.NoError(t, err)
	limit := apiclient.Limit(100)
	list, err := env.Client.ListBindingsWithResponse(ctx, &apiclient.ListBindingsParams{Limit: &limit}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode())
	found := false
	for _, b := range list.JSON200.Items {
		if b.Id == bind.JSON201.Id {
			found = true
			assert.Equal(t, map[string]string{"999999": "marked"}, b.Candidates[0].Upstreams, "not re-resolved")
		}
	}
	require.True(t, found)

	// A provider joins the group: the publisher re-resolves the binding,
	// publishes it and stores what it published.
	p2, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{Name: "stored-2",
		Type: apiclient.ProviderTypeOpenai, Group: &group, Models: []string{"gpt-4o-2024-11-20"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, p2.StatusCode(), string(p2.Body))
	want := map[string]string{fmt.Sprint(p1.JSON201.Id): "gpt-4o-2024-08-06", fmt.Sprint(p2.JSON201.Id): "gpt-4o-2024-11-20"}
	var got *apiclient.GetBindingResponse
	require.Eventually(t, func() bool {
		got, err = env.Client.GetBindingWithResponse(ctx, bind.JSON201.Id, as)
		return err == nil && got.JSON200 != nil && assert.ObjectsAreEqual(want, got.JSON200.Candidates[0].Upstreams)
	}, 5*time.Second, 20*time.Millisecond, "the recomputed resolution is stored once published")
	assert.Greater(t, got.JSON200.Resolution.Version.MustGet(), created)
	inRedis, ok := bindingValue(t, env, "default.stored-gpt-4o")
	require.True(t, ok)
	assert.Equal(t, want, inRedis.Candidates[0].Upstreams, "what GET shows is what Redis holds")

	// Deleting the binding deletes its stored resolution.
	del, err := env.Client.DeleteBindingWithResponse(ctx, bind.JSON201.Id, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, del.StatusCode())
	var n int
	require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM binding_resolutions WHERE binding_id = $1`, bind.JSON201.Id))
	assert.Zero(t, n)
	redisMatchesDatabase(t, env, 5*time.Second)
}

// A binding written before stored resolutions (no row) is resolved for the
// read and says so, until the publisher stores its resolution.
func TestABindingWithoutAStoredResolutionSaysItWasComputed(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	m, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "legacy-resolution"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, m.StatusCode())
	group := "default"
	bind, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "legacy-resolution",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &group, SelectorType: apiclient.SelectorTypeExact, SelectorValue: "legacy-resolution"}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bind.StatusCode(), string(bind.Body))
	redisMatchesDatabase(t, env, 5*time.Second)
	_, err = env.DB.Exec(`DELETE FROM binding_resolutions WHERE binding_id = $1`, bind.JSON201.Id)
	require.NoError(t, err)
	got, err := env.Client.GetBindingWithResponse(ctx, bind.JSON201.Id, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode())
	assert.Equal(t, apiclient.BindingResolutionSourceComputed, got.JSON200.Resolution.Source)
	assert.False(t, got.JSON200.Resolution.Version.IsSpecified() && !got.JSON200.Resolution.Version.IsNull(), "no stored version")
	assert.Equal(t, apiclient.BindingCandidateErrorNoProvider, got.JSON200.Candidates[0].Error.MustGet())
	assert.True(t, strings.Contains(string(got.Body), `"source":"computed"`))
}
