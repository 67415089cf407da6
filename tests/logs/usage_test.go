package logs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// Issue 14 item 4: GET /stats/usage answers from daily roll-ups for whole
// days and hourly ones for the hours at either end of the range; the
// answer is the same as counting the records by hand, for every group_by.
func TestUsageCombinesDailyAndHourlyRollups(t *testing.T) {
	env, admin, bal := setup(t)
	masterID, keyID := issueKey(t, env, admin, "usage-days")
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	at := []time.Duration{3 * time.Hour, 20 * time.Hour, 25 * time.Hour, 47*time.Hour + 30*time.Minute, 50 * time.Hour, 58 * time.Hour}
	var batch []any
	for i, d := range at {
		batch = append(batch, record(fmt.Sprintf("ud-%d", i), day0.Add(d), map[string]any{
			"model": fmt.Sprintf("m-%d", i%2), "key_id": keyID, "master_id": masterID, "latency_ms": 100 * (i + 1), "cost_usd": 0.5}))
	}
	hr, got := post(t, env, bal, batch)
	require.Equal(t, http.StatusOK, hr.StatusCode)
	require.Equal(t, len(at), got.Accepted)

	// Hours that start in [from, to): day0 02:00 … day2 04:00, so the first
	// five records; day1 is a whole day in between.
	from, to := day0.Add(2*time.Hour+30*time.Minute), day0.Add(52*time.Hour+30*time.Minute)
	usage := func(group apiclient.GetUsageStatsParamsGroupBy) map[string]apiclient.UsageRow {
		res, err := env.Client.GetUsageStatsWithResponse(context.Background(), &apiclient.GetUsageStatsParams{From: from, To: to, GroupBy: group},
			testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		out := map[string]apiclient.UsageRow{}
		for _, r := range res.JSON200.Rows {
			out[r.Group] = r
		}
		return out
	}
	dayKey := func(d int) string { return day0.AddDate(0, 0, d).Format("2006-01-02T15:04:05Z") }

	tests := []struct {
		name  string
		group apiclient.GetUsageStatsParamsGroupBy
		want  map[string]int64
	}{
		{"by_model", apiclient.GetUsageStatsParamsGroupByModel, map[string]int64{"m-0": 3, "m-1": 2}},
		{"by_key", apiclient.GetUsageStatsParamsGroupByKey, map[string]int64{fmt.Sprint(keyID): 5}},
		{"by_master", apiclient.GetUsageStatsParamsGroupByMaster, map[string]int64{fmt.Sprint(masterID): 5}},
		{"by_provider", apiclient.GetUsageStatsParamsGroupByProvider, map[string]int64{"0": 5}},
		{"by_day", apiclient.GetUsageStatsParamsGroupByDay, map[string]int64{dayKey(0): 2, dayKey(1): 2, dayKey(2): 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := usage(tc.group)
			counts := map[string]int64{}
			for g, r := range rows {
				counts[g] = r.Requests
			}
			assert.Equal(t, tc.want, counts)
		})
	}
	t.Run("by_hour", func(t *testing.T) {
		rows := usage(apiclient.GetUsageStatsParamsGroupByHour)
		assert.Len(t, rows, 5)
		first := rows[day0.Add(3*time.Hour).Format("2006-01-02T15:04:05Z")]
		assert.Equal(t, int64(1), first.Requests)
		assert.Equal(t, int64(100), first.MaxLatencyMs)
	})
	t.Run("measures_add_up", func(t *testing.T) {
		rows := usage(apiclient.GetUsageStatsParamsGroupByModel)
		m0 := rows["m-0"] // records 0, 2, 4: latencies 100, 300, 500
		assert.InDelta(t, 1.5, m0.CostUsd, 1e-9)
		assert.InDelta(t, 300.0, m0.AvgLatencyMs, 1e-9)
		assert.Equal(t, int64(500), m0.MaxLatencyMs)
		assert.Equal(t, int64(3000), m0.PromptTokens)
	})
}

// Issue 14 item 4: group_by=key reads usage_key's days, 6-hour blocks and
// hours. Over ranges that start and end anywhere, its answer is the same as
// aggregating the raw logs of the hours the range covers, whether the
// records came through the writer's direct path or its staging path (a
// retried batch).
func TestUsageByKeyMatchesRawLogs(t *testing.T) {
	env, admin, bal := setup(t)
	ctx := context.Background()
	type keyOf struct{ master, key int64 }
	var keys []keyOf
	for i := range 3 {
		m, k := issueKey(t, env, admin, fmt.Sprintf("usage-raw-%d", i))
		keys = append(keys, keyOf{m, k})
	}
	rng := rand.New(rand.NewPCG(14, 4))
	now := time.Now().UTC()
	start := now.Add(-80 * time.Hour)
	var batch []any
	for i := range 600 {
		k := keys[rng.IntN(len(keys))]
		status := 200
		if rng.IntN(10) == 0 {
			status = 502
		}
		batch = append(batch, record(fmt.Sprintf("ukr-%d", i), start.Add(time.Duration(rng.Int64N(int64(80*time.Hour)))),
			map[string]any{"key_id": k.key, "master_id": k.master, "status_code": status, "latency_ms": rng.IntN(5000),
				"prompt_tokens": rng.IntN(10000), "completion_tokens": rng.IntN(1000), "cost_usd": float64(rng.IntN(1000)) / 1000}))
	}
	for i := 0; i < len(batch); i += 100 {
		hr, got := post(t, env, bal, batch[i:i+100])
		require.Equal(t, http.StatusOK, hr.StatusCode)
		require.Equal(t, 100, got.Accepted)
	}
	// A retried batch: the stored half is counted as duplicates, the new
	// records go through the staging table.
	var more []any
	for i := range 200 {
		k := keys[rng.IntN(len(keys))]
		more = append(more, record(fmt.Sprintf("ukr-more-%d", i), start.Add(time.Duration(rng.Int64N(int64(80*time.Hour)))),
			map[string]any{"key_id": k.key, "master_id": k.master, "latency_ms": rng.IntN(5000), "cost_usd": 0.25}))
	}
	hr, got := post(t, env, bal, append(append([]any{}, batch[:100]...), more...))
	require.Equal(t, http.StatusOK, hr.StatusCode)
	require.Equal(t, 200, got.Accepted)
	require.Equal(t, 100, got.Duplicates)

	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = k.key
	}
	for i := range 25 {
		from := start.Add(time.Duration(rng.Int64N(int64(40 * time.Hour)))).Add(-2 * time.Hour)
		to := from.Add(time.Duration(rng.Int64N(int64(45 * time.Hour))))
		if i == 0 {
			from, to = start.Add(-time.Hour), now.Add(time.Hour) // everything
		}
		// The hours that start in [from, to).
		h0, h1 := from.Truncate(time.Hour), to.Truncate(time.Hour)
		if h1.Before(to) {
			h1 = h1.Add(time.Hour)
		}
		var raw []struct {
			Key      int64   `db:"key_id"`
			Requests int64   `db:"requests"`
			Errors   int64   `db:"errors"`
			Prompt   int64   `db:"prompt"`
			Compl    int64   `db:"compl"`
			Cost     float64 `db:"cost"`
			AvgLat   float64 `db:"avg_lat"`
			MaxLat   int64   `db:"max_lat"`
		}
		require.NoError(t, env.DB.Select(&raw, `SELECT key_id, count(*) AS requests, count(*) FILTER (WHERE status_code >= 400) AS errors,
  sum(prompt_tokens) AS prompt, sum(completion_tokens) AS compl, sum(cost_usd) AS cost, avg(latency_ms)::double precision AS avg_lat,
  max(latency_ms) AS max_lat
FROM logs WHERE key_id = ANY($1) AND created_at >= $2 AND created_at < $3 GROUP BY key_id`, pq.Array(ids), h0, h1))
		res, err := env.Client.GetUsageStatsWithResponse(ctx, &apiclient.GetUsageStatsParams{From: from, To: to,
			GroupBy: apiclient.GetUsageStatsParamsGroupByKey}, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		byKey := map[string]apiclient.UsageRow{}
		for _, r := range res.JSON200.Rows {
			byKey[r.Group] = r
		}
		for _, want := range raw {
			r, ok := byKey[fmt.Sprint(want.Key)]
			require.True(t, ok, "key %d in [%s, %s)", want.Key, from, to)
			assert.Equal(t, want.Requests, r.Requests, "requests of key %d in [%s, %s)", want.Key, from, to)
			assert.Equal(t, want.Errors, r.Errors)
			assert.Equal(t, want.Prompt, r.PromptTokens)
			assert.Equal(t, want.Compl, r.CompletionTokens)
			assert.InDelta(t, want.Cost, r.CostUsd, 1e-9)
			assert.InDelta(t, want.AvgLat, r.AvgLatencyMs, 1e-9)
			assert.Equal(t, want.MaxLat, r.MaxLatencyMs)
			delete(byKey, fmt.Sprint(want.Key))
		}
		for _, id := range ids {
			assert.NotContains(t, byKey, fmt.Sprint(id), "a key without records in [%s, %s)", from, to)
		}
	}
}
