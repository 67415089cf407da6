package logs_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

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
