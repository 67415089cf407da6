package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

// TestBindingsListServesStoredResolutions: GET /bindings?limit=100 over a
// route group of 500 providers × 20 models, bindings with a stored
// resolution (what every binding has once written or published) against
// the same bindings with none, which are resolved for each read as every
// read did before resolutions were stored, interleaved on one server.
func TestBindingsListServesStoredResolutions(t *testing.T) {
	testenv.Reset(t) // its own data set: no other benchmark's rows, ids or snapshot
	env := testenv.Start(t, fastSync)
	admin := env.AdminToken(t)
	providers, perProvider := benchScale("BINDING_PROVIDERS", 500), 20
	stmts := []string{
		`INSERT INTO route_groups (name) VALUES ('bindbench') ON CONFLICT DO NOTHING`,
		fmt.Sprintf(`INSERT INTO providers (name, type, base_url, api_key_mask, group_id, models, weight)
SELECT 'bindbench-p' || g, 'openai', 'https://api.example.com/v1', '', (SELECT id FROM route_groups WHERE name = 'bindbench'),
       ARRAY(SELECT 'vendor/model-' || ((g + j) %% 1000) || '-' || g FROM generate_series(1, %d) j), 1
FROM generate_series(1, %d) g`, perProvider, providers),
		`INSERT INTO models (namespace, name, kind) SELECT ns, 'model-' || g, 'chat' FROM generate_series(1, 100) g, unnest(ARRAY['bb-stored', 'bb-read']) ns`,
		`INSERT INTO bindings (model_id, candidates)
SELECT m.id, jsonb_build_array(
  jsonb_build_object('route_group', 'bindbench', 'weight', 1, 'selector_type', 'normalize_exact', 'selector_value', m.name || '-7'),
  jsonb_build_object('route_group', 'bindbench', 'weight', 1, 'selector_type', 'exact', 'selector_value', 'vendor/' || m.name || '-9'))
FROM models m WHERE m.namespace IN ('bb-stored', 'bb-read')`,
	}
	for _, q := range stmts {
		_, err := env.DB.Exec(q)
		require.NoError(t, err, q)
	}
	// A full resync publishes the rows written around the API and stores
	// every binding's resolution; then the bb-read ones are dropped.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := env.Client.ResyncSnapshotWithResponse(ctx, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rs.StatusCode(), string(rs.Body))
	_, err = env.DB.Exec(`DELETE FROM binding_resolutions WHERE binding_id IN
(SELECT b.id FROM bindings b JOIN models m ON m.id = b.model_id WHERE m.namespace = 'bb-read')`)
	require.NoError(t, err)

	stored := env.BaseURL + "/bindings?namespace=bb-stored&limit=100"
	read := env.BaseURL + "/bindings?namespace=bb-read&limit=100"
	body := func(url string) string { return string(getBody(t, url, admin)) }
	require.Equal(t, 100, strings.Count(body(stored), `"source":"stored"`))
	require.Equal(t, 100, strings.Count(body(read), `"source":"computed"`))

	res := interleave(t, 4, 2*time.Second, target{stored, admin}, target{read, admin})
	ours, base := res[0], res[1]
	record("Bindings (issue 12 item 7)", row{
		fmt.Sprintf("GET /bindings?limit=100, route group of %d providers × %d models, stored resolutions, 64 connections", providers, perProvider),
		fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", ours.rate, ms(percentile(ours.lat, 0.5)), ms(percentile(ours.lat, 0.99))),
		fmt.Sprintf("%.0f req/s resolving every binding of the page at read time (the earlier behaviour), p99 %s",
			base.rate, ms(percentile(base.lat, 0.99))),
		fmt.Sprintf("%.1f", ours.rate/base.rate), "reads do not grow with the providers"})
	t.Logf("stored: %.0f req/s p50 %s p99 %s; resolved at read: %.0f req/s p50 %s p99 %s", ours.rate, ms(percentile(ours.lat, 0.5)),
		ms(percentile(ours.lat, 0.99)), base.rate, ms(percentile(base.lat, 0.5)), ms(percentile(base.lat, 0.99)))
}
