package logs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// record builds one log record as a balancer would post it.
func record(id string, at time.Time, extra map[string]any) map[string]any {
	r := map[string]any{"request_id": id, "created_at": at.UTC().Format(time.RFC3339Nano), "namespace": "default",
		"model": "gpt-4o", "status_code": 200, "latency_ms": 120, "prompt_tokens": 1000, "completion_tokens": 500}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

func post(t *testing.T, env *testenv.Env, token string, batch any) (*http.Response, apiclient.LogIngestResult) {
	t.Helper()
	b, err := json.Marshal(batch)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, env.BaseURL+"/logs", strings.NewReader(string(b)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := env.HTTP.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out apiclient.LogIngestResult
	if res.StatusCode < 300 {
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	}
	return res, out
}

func countLogs(t *testing.T, env *testenv.Env, prefix string) int {
	t.Helper()
	var n int
	require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM logs WHERE request_id LIKE $1`, prefix+"%"))
	return n
}

func setup(t *testing.T, opts ...testenv.Option) (*testenv.Env, string, string) {
	env := testenv.Start(t, opts...)
	admin := env.AdminToken(t)
	_, bal := env.CreateServiceToken(t, admin, fmt.Sprintf("balancer-%d", time.Now().UnixNano()), apiclient.ServiceTokenRoleBalancer)
	return env, admin, bal
}

func TestIngestCommitted(t *testing.T) {
	env, admin, bal := setup(t)
	now := time.Now()
	price := 2.0
	out := 8.0
	res, err := env.Client.CreateModelWithResponse(context.Background(), apiclient.CreateModelJSONRequestBody{
		Name: "gpt-4o", InputPricePerMtok: &price, OutputPricePerMtok: &out}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode())

	batch := []any{
		record("c-1", now, nil),
		record("c-2", now, map[string]any{"cost_usd": 0.5}),
		map[string]any{"created_at": now.Format(time.RFC3339)},           // no request_id
		record("c-4", now, map[string]any{"status_code": "two hundred"}), // wrong type
		record("c-5", now, map[string]any{"colour": "blue"}),             // unknown field: ignored
		record("c-6", now, map[string]any{"prompt_tokens": -1}),          // negative
		"not an object", // not a record
		record("c-8", now, map[string]any{"created_at": "yesterday"}), // bad time
		record("c-9", now.Add(48*time.Hour), nil),                     // too far ahead
	}
	hr, got := post(t, env, bal, batch)
	require.Equal(t, http.StatusOK, hr.StatusCode)
	assert.Equal(t, 3, got.Accepted)
	assert.Equal(t, 0, got.Duplicates)
	idx := map[int]string{}
	for _, r := range got.Rejected {
		idx[r.Index] = r.Errors[0].Field
	}
	assert.Equal(t, map[int]string{2: "request_id", 3: "status_code", 5: "prompt_tokens", 6: "record", 7: "created_at", 8: "created_at"}, idx)
	assert.Equal(t, 3, countLogs(t, env, "c-"), "accepted means committed")

	var cost float64
	require.NoError(t, env.DB.Get(&cost, `SELECT cost_usd FROM logs WHERE request_id = 'c-1'`))
	assert.InDelta(t, 1000.0/1e6*2+500.0/1e6*8, cost, 1e-12, "cost from the model's prices")

	t.Run("a_retried_batch_is_counted_as_duplicates", func(t *testing.T) {
		hr, got := post(t, env, bal, batch[:2])
		require.Equal(t, http.StatusOK, hr.StatusCode)
		assert.Equal(t, 0, got.Accepted)
		assert.Equal(t, 2, got.Duplicates)
		assert.Equal(t, 3, countLogs(t, env, "c-"))
	})

	t.Run("the_same_batch_posted_twice_concurrently_is_stored_once", func(t *testing.T) {
		var b []any
		for i := range 200 {
			b = append(b, record(fmt.Sprintf("dup-%03d", i), now, nil))
		}
		var wg sync.WaitGroup
		results := make([]apiclient.LogIngestResult, 2)
		for i := range 2 {
			wg.Go(func() {
				hr, got := post(t, env, bal, b)
				assert.Equal(t, http.StatusOK, hr.StatusCode)
				results[i] = got
			})
		}
		wg.Wait()
		assert.Equal(t, 200, countLogs(t, env, "dup-"))
		assert.Equal(t, 200, results[0].Accepted+results[1].Accepted)
		assert.Equal(t, 200, results[0].Duplicates+results[1].Duplicates)
	})

	t.Run("a_partly_retried_batch_adds_only_its_new_records_to_the_rollups", func(t *testing.T) {
		part := map[string]any{"model": "part-model"}
		hr, got := post(t, env, bal, []any{
			batch[0], // stored above
			record("part-1", now, part),
			record("part-1", now, part), // the same identity twice in one batch
			record("part-2", now, part),
		})
		require.Equal(t, http.StatusOK, hr.StatusCode)
		assert.Equal(t, 2, got.Accepted)
		assert.Equal(t, 2, got.Duplicates)
		assert.Equal(t, 2, countLogs(t, env, "part-"))
		for _, tbl := range []string{"usage_daily", "usage_hourly_model"} {
			var requests, tokens int64
			require.NoError(t, env.DB.QueryRow(`SELECT coalesce(sum(requests), 0), coalesce(sum(prompt_tokens), 0) FROM `+tbl+
				` WHERE model = 'part-model'`).Scan(&requests, &tokens))
			assert.Equal(t, int64(2), requests, tbl)
			assert.Equal(t, int64(2000), tokens, tbl)
		}
	})

	t.Run("a_NUL_byte_is_quarantined_and_the_rest_written", func(t *testing.T) {
		hr, got := post(t, env, bal, []any{
			record("nul-1", now, map[string]any{"error": "bad\u0000byte"}),
			record("nul-2", now, nil),
		})
		require.Equal(t, http.StatusOK, hr.StatusCode)
		assert.Equal(t, 1, got.Accepted)
		require.Len(t, got.Rejected, 1)
		assert.Equal(t, 0, got.Rejected[0].Index, "the refused record is reported by index")
		assert.Equal(t, 1, countLogs(t, env, "nul-"))
		var reason string
		require.NoError(t, env.DB.Get(&reason, `SELECT reason FROM log_rejects WHERE request_id = 'nul-1'`))
		assert.Contains(t, reason, "NUL")
	})

	t.Run("more_than_max_batch_is_413", func(t *testing.T) {
		b := make([]any, env.Config.Log.MaxBatch+1)
		for i := range b {
			b[i] = record(fmt.Sprintf("big-%d", i), now, nil)
		}
		hr, _ := post(t, env, bal, b)
		assert.Equal(t, http.StatusRequestEntityTooLarge, hr.StatusCode)
		assert.Equal(t, 0, countLogs(t, env, "big-"))
	})

	t.Run("only_balancers_post_logs", func(t *testing.T) {
		hr, _ := post(t, env, admin, []any{record("adm-1", now, nil)})
		assert.Equal(t, http.StatusForbidden, hr.StatusCode)
	})
}

func TestIngestQueued(t *testing.T) {
	env, _, bal := setup(t, func(c *app.Config) { c.Log.Ack = "queued" })
	hr, got := post(t, env, bal, []any{record("q-1", time.Now(), nil)})
	require.Equal(t, http.StatusAccepted, hr.StatusCode)
	assert.Equal(t, 1, got.Accepted)
	require.Eventually(t, func() bool { return countLogs(t, env, "q-") == 1 }, 5*time.Second, 10*time.Millisecond)
}

func TestQueryAndUsage(t *testing.T) {
	env, admin, bal := setup(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	mid, mtok := env.CreateMaster(t, "logs-tenant")
	otherID, _ := env.CreateMaster(t, "logs-other")
	keyOf := map[int64][2]int64{}
	for _, m := range []int64{mid, otherID} {
		for j := range 2 {
			k, err := env.Client.IssueMasterKeyWithResponse(ctx, m, apiclient.IssueMasterKeyJSONRequestBody{Name: fmt.Sprintf("k%d", j)}, as)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, k.StatusCode(), string(k.Body))
			pair := keyOf[m]
			pair[j] = k.JSON201.Key.Id
			keyOf[m] = pair
		}
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var batch []any
	for i := range 30 {
		m := mid
		if i%3 == 0 {
			m = otherID
		}
		status := 200
		if i%5 == 0 {
			status = 502
		}
		batch = append(batch, record(fmt.Sprintf("qu-%02d", i), base.Add(time.Duration(i)*time.Minute),
			map[string]any{"master_id": m, "key_id": keyOf[m][i%2], "status_code": status, "latency_ms": 100 + i, "cost_usd": 0.01}))
	}
	hr, got := post(t, env, bal, batch)
	require.Equal(t, http.StatusOK, hr.StatusCode)
	require.Equal(t, 30, got.Accepted)

	from, to := base.Add(-time.Minute), base.Add(time.Hour)
	t.Run("listLogs200_newest_first_with_cursor", func(t *testing.T) {
		limit := int32(7)
		var seen []string
		var cursor *string
		for range 10 {
			res, err := env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: from, To: to, Limit: &limit, Cursor: cursor}, as)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
			for _, r := range res.JSON200.Items {
				seen = append(seen, r.RequestId)
			}
			if res.JSON200.NextCursor.IsNull() {
				break
			}
			c := res.JSON200.NextCursor.MustGet()
			cursor = &c
		}
		require.Len(t, seen, 30)
		assert.Equal(t, "qu-29", seen[0])
		assert.Equal(t, "qu-00", seen[29])
	})

	t.Run("listLogs_filters", func(t *testing.T) {
		cls := apiclient.ListLogsParamsStatusClassN5xx
		res, err := env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: from, To: to, StatusClass: &cls}, as)
		require.NoError(t, err)
		assert.Len(t, res.JSON200.Items, 6)
		rid := "qu-07"
		res, err = env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: from, To: to, RequestId: &rid}, as)
		require.NoError(t, err)
		require.Len(t, res.JSON200.Items, 1)
	})

	t.Run("a_master_sees_only_its_own_logs", func(t *testing.T) {
		res, err := env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: from, To: to}, testenv.WithToken(mtok))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode())
		assert.Len(t, res.JSON200.Items, 20)
		for _, r := range res.JSON200.Items {
			assert.Equal(t, mid, r.MasterId.MustGet())
		}
		res, err = env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: from, To: to, MasterId: &otherID}, testenv.WithToken(mtok))
		require.NoError(t, err)
		assert.Empty(t, res.JSON200.Items)
	})

	t.Run("listLogs422_range_unbounded_or_reversed", func(t *testing.T) {
		res, err := env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: to, To: from}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode())
		res, err = env.Client.ListLogsWithResponse(ctx, &apiclient.ListLogsParams{From: from.AddDate(0, -3, 0), To: to}, as)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode())
	})

	t.Run("usage_from_rollups", func(t *testing.T) {
		res, err := env.Client.GetUsageStatsWithResponse(ctx, &apiclient.GetUsageStatsParams{From: from, To: to, GroupBy: apiclient.GetUsageStatsParamsGroupByMaster}, as)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		byMaster := map[string]apiclient.UsageRow{}
		for _, r := range res.JSON200.Rows {
			byMaster[r.Group] = r
		}
		mine := byMaster[fmt.Sprint(mid)]
		assert.Equal(t, int64(20), mine.Requests)
		assert.Equal(t, int64(20*1000), mine.PromptTokens)
		assert.InDelta(t, 0.2, mine.CostUsd, 1e-9)
		assert.Equal(t, int64(10), byMaster[fmt.Sprint(otherID)].Requests)
		var errs int64
		for _, r := range res.JSON200.Rows {
			errs += r.Errors
		}
		assert.Equal(t, int64(6), errs)

		own, err := env.Client.GetUsageStatsWithResponse(ctx, &apiclient.GetUsageStatsParams{From: from, To: to, GroupBy: apiclient.GetUsageStatsParamsGroupByHour}, testenv.WithToken(mtok))
		require.NoError(t, err)
		var total int64
		for _, r := range own.JSON200.Rows {
			total += r.Requests
		}
		assert.Equal(t, int64(20), total, "a master's usage is its own")
	})
}

// The usage loop: logs in → the key is exhausted → visible in Redis.
func TestQuotaExhaustsTheKeyInRedis(t *testing.T) {
	env, admin, bal := setup(t, func(c *app.Config) { c.Sync.PollInterval = 50 * time.Millisecond })
	ctx := context.Background()
	as := testenv.WithToken(admin)
	m, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "quota-tenant"}, as)
	require.NoError(t, err)
	quota := int64(3000)
	k, err := env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "metered", QuotaTokens: &quota}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, k.StatusCode())
	keyID, hash := k.JSON201.Key.Id, sha256hex(k.JSON201.Token)

	hr, _ := post(t, env, bal, []any{record("quota-1", time.Now(), map[string]any{"key_id": keyID, "master_id": m.JSON201.Master.Id})})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	g, err := env.Client.GetKeyWithResponse(ctx, keyID, as)
	require.NoError(t, err)
	assert.Equal(t, apiclient.KeyStatusActive, g.JSON200.Status, "1,500 of 3,000 tokens")
	assert.Equal(t, int64(1500), g.JSON200.Usage.Tokens)

	hr, _ = post(t, env, bal, []any{record("quota-2", time.Now(), map[string]any{"key_id": keyID, "master_id": m.JSON201.Master.Id})})
	require.Equal(t, http.StatusOK, hr.StatusCode)
	g, err = env.Client.GetKeyWithResponse(ctx, keyID, as)
	require.NoError(t, err)
	assert.Equal(t, apiclient.KeyStatusExhausted, g.JSON200.Status)

	rdb := env.Redis(t)
	require.Eventually(t, func() bool {
		v, err := rdb.HGet(ctx, snapshot.KeyAuthKeys, hash).Result()
		if err != nil {
			return false
		}
		var kj snapshot.KeyJSON
		return json.Unmarshal([]byte(v), &kj) == nil && kj.Status == "exhausted"
	}, 2*time.Second, 20*time.Millisecond, "the balancer sees the key exhausted")
}
